"""The CAN output of a session: a telemetry sink that sends the controller's Status as rusEFI wideband
and/or AEM UEGO frames (settings [can], docs/can.md) every can.period_s, and hands the ECU's heater
allow to the controller.

Time: on a front end with virtual time (the simulator) a live bus is fed at the wall clock's pace
(`pace` x real time, 1 by default), as a real controller would, so an ECU on the bus sees frames every
10 ms and its 250 ms allow timeout means what it says; a log file is written as fast as the
simulation runs, each frame stamped with the run's time (from when the run started), so the log
replays at the run's pace. On real front ends frames go out as they come, stamped now.

A bus that fails mid-run (the interface went down, a full disk under the log) is an event of the run
(`can_lost`), not a crash: the control loop and its outputs carry on, without CAN.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from lambdarig.controller.core import Controller, Status
from lambdarig.hal.can_bus import CanLost, CanPort
from lambdarig.protocol import can_frames as cf

# The rusEFI DiagData pump duty is the pump DAC's duty, 0.5 at no current: ours spans the emulated
# rig's +-10 mA DAC.
PUMP_FULL_SCALE_A = 10e-3
RUSEFI_STATUS = {"wait_supply": cf.STATUS_PREHEAT, "condensation": cf.STATUS_PREHEAT, "ramp": cf.STATUS_WARMUP,
                 "closed_loop": cf.STATUS_RUNNING, "stopped": cf.STATUS_PREHEAT}
RUSEFI_FAULT = {"did_not_heat": cf.STATUS_DID_NOT_HEAT, "overtemp": cf.STATUS_OVERHEAT,
                "undertemp": cf.STATUS_UNDERHEAT}


def rusefi_status(status: Status) -> int:
    """wbo::Status of our state: any fault without a rusEFI code of its own reports as the first
    error code (3)."""
    if status.fault in RUSEFI_FAULT:
        return RUSEFI_FAULT[status.fault]
    if status.state == "fault":
        return cf.STATUS_DID_NOT_HEAT
    return RUSEFI_STATUS.get(status.state, cf.STATUS_PREHEAT)


def frames_of(status: Status, fmt: str, index: int, element: str) -> list[cf.CanFrame]:
    frames = []
    if fmt in ("rusefi", "both"):
        pump_duty = 0.5 + 0.5 * status.pump_current_a / PUMP_FULL_SCALE_A
        frames.append(cf.rusefi_standard(index, status.lambda_value, status.lambda_valid, status.temp_c))
        frames.append(cf.rusefi_diag(index, status.ri_ohm, status.nernst_v, min(max(pump_duty, 0.0), 1.0),
                                     rusefi_status(status), status.heater_duty))
    if fmt in ("aem", "both"):
        frames.append(cf.aem_uego(index, status.lambda_value, status.o2_pct, status.supply_v, status.heater_v,
                                  lsu49=element == "lsu49", heater_locked=status.state == "closed_loop",
                                  free_air_cal=False, valid=status.lambda_valid, fault=status.state == "fault"))
    return frames


class CanOutput:
    """sink(status, truth): frames out every can.period_s of the run's time, ECU allow in."""

    def __init__(self, port: CanPort, controller: Controller, *, virtual_time: bool, pace: float = 1.0,
                 progress: Callable[[str], None] = lambda text: None,
                 wall_clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        c = controller.settings.can
        self.port = port
        self.controller = controller
        self.format = c.format
        self.index = c.index
        self.period_s = c.period_s
        self.element = controller.settings.sensor.element
        self.paced = virtual_time and not port.is_log
        self.pace = pace
        self.progress = progress
        self.wall_clock = wall_clock
        self.sleep = sleep
        self.stamp_run_time = virtual_time
        self.frames_sent = 0
        self.ecu_frames = 0
        self.lost = ""
        self._t0_s: float | None = None
        self._wall0 = 0.0
        self._epoch0 = 0.0
        self._next_s = 0.0

    def __call__(self, status: Status, truth: object = None) -> None:
        if self.lost:
            return
        t_s = status.t_s
        if self._t0_s is None:
            self._t0_s, self._next_s = t_s, t_s
            self._wall0, self._epoch0 = self.wall_clock(), time.time()
        run_s = t_s - self._t0_s
        if self.paced:
            ahead_s = run_s / self.pace - (self.wall_clock() - self._wall0)
            if ahead_s > 0.0:
                self.sleep(ahead_s)
        try:
            for ecu in self.port.poll_ecu():
                self.ecu_frames += 1
                # Stamped with the controller's time now: the allow holds for its timeout from here.
                self.controller.set_heater_allowed(ecu.heater_enable, t_s)
            if t_s + 1e-9 < self._next_s and status.state != "stopped":
                return
            self._next_s += self.period_s * max(1, int((t_s - self._next_s) / self.period_s) + 1)
            stamp = self._epoch0 + run_s if self.stamp_run_time else None
            for frame in frames_of(status, self.format, self.index, self.element):
                self.port.send(frame, stamp)
                self.frames_sent += 1
        except CanLost as exc:
            self.lost = str(exc)
            self.controller.report("can_lost", str(exc))
            self.progress(f"CAN lost at {run_s:.2f} s: {exc}; the run goes on without CAN")


def open_can(url: str | None, source: str, field: str) -> CanPort | None:
    """The CAN port a run asked for (None: no CAN), refused in one line when the URL is bad."""
    return None if url is None else CanPort(str(url), source, field)


def can_summary(output: CanOutput) -> dict:
    """What the run's summary says about its CAN output."""
    return {"url": output.port.url, "format": output.format, "frames_sent": output.frames_sent,
            "ecu_frames": output.ecu_frames, "lost": output.lost or None}
