"""The runtime loop: drives a front end at the controller's rates and feeds telemetry sinks.

The only part of the controller that touches a front end. Time comes from the front end
(`wait_until` sleeps on a monotonic clock for real hardware and integrates physics in simulation),
so the same loop runs everywhere. Whatever happens (a fault, an exception, Ctrl-C, the end of the
run) the front end is made safe on the way out.

Each tick hands the front end's Sample to `Controller.tick` as it is (the controller's time is the
sample's t_s) and applies the Command the controller returns. A Runtime refuses to join a controller
to a front end that carries another sensor element than the controller's settings are for
(ElementMismatch), unless told `force_element=True`.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lambdarig.common.errors import LambdarigError
from lambdarig.hal.frontend import FrontEnd
from lambdarig.hal.types import FrontEndError, FrontEndInfo, LinkLost

from .core import Controller, Status
from .profiles import profile_names
from .settings import Settings

# A sink gets the controller's status and, in simulation, the emulator's truth (None elsewhere).
TelemetrySink = Callable[[Status, Any], None]


class StopSignal(KeyboardInterrupt):
    """A signal that ends the run like Ctrl-C (SIGTERM, SIGHUP, ...; see lambdarig.signals)."""

    def __init__(self, signal_name: str):
        super().__init__(signal_name)
        self.signal_name = signal_name


def signal_of(exc: BaseException) -> str:
    """The signal behind a KeyboardInterrupt: a StopSignal's, else SIGINT (Ctrl-C)."""
    return getattr(exc, "signal_name", "SIGINT")


def interrupt_text(signal_name: str) -> str:
    """How an interrupted run names its cause: 'Ctrl-C' or the signal's name."""
    return "Ctrl-C" if signal_name in ("SIGINT", "") else signal_name


class ElementMismatch(LambdarigError, ValueError):
    """The front end carries another sensor element than the settings are for."""

    def __init__(self, frontend: str, element: str, configured: str):
        self.frontend = frontend        # the front end's name, e.g. "sim:sealed-ref"
        self.element = element          # the element it carries
        self.configured = configured    # the settings' sensor.element
        super().__init__(
            f"{frontend} carries element {element!r} but the settings are for {configured!r} "
            f"(sensor.element = {configured!r}): set sensor.element = {element!r} in the settings, or leave "
            f"it out (a settings file or dict of changes then starts from the defaults of {element!r}), or run "
            f"the element the settings are for (simulate --element {configured}), or force the run "
            f"(--force-element on the command line, force_element=True in Python)")

    def __reduce__(self) -> tuple[type[ElementMismatch], tuple[str, str, str]]:
        # Built from its parts, not from the message (a sweep's worker sends errors back pickled).
        return type(self), (self.frontend, self.element, self.configured)


def check_element(info: FrontEndInfo, settings: Settings) -> None:
    """ElementMismatch when the front end names an element the firmware has a profile for and the
    settings are for another one. A front end that does not say (or names an element without a
    profile, e.g. a custom element file) cannot be judged, and passes."""
    element = info.element
    configured = settings.sensor.element
    if not element or element == configured or element not in profile_names():
        return
    raise ElementMismatch(info.name, element, configured)


@dataclass
class RunResult:
    time_to_ready_s: float | None
    final_state: str
    faults: list[dict]
    sim_s: float
    wall_s: float
    realtime_factor: float
    ticks: int
    late_ticks: int
    message: str = ""
    interrupted: bool = False
    interrupted_by: str = ""     # the signal that interrupted the run: "SIGINT" (Ctrl-C), "SIGTERM", ...
    link_lost: bool = False
    events: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        return {"time_to_ready_s": self.time_to_ready_s, "final_state": self.final_state,
                "faults": self.faults, "sim_s": round(self.sim_s, 6), "wall_s": round(self.wall_s, 3),
                "realtime_factor": round(self.realtime_factor, 1), "late_ticks": self.late_ticks,
                "message": self.message}

    @classmethod
    def of(cls, ctl: Controller, start_t: float, sim_s: float, wall_s: float, ticks: int, late_ticks: int,
           message: str = "", interrupted: bool = False, interrupted_by: str = "",
           link_lost: bool = False) -> RunResult:
        """The result of a run of this firmware instance that started at start_t (its front end's
        clock): its times and events taken relative to the start."""
        return cls(
            time_to_ready_s=None if ctl.time_to_ready_s is None else round(ctl.time_to_ready_s - start_t, 4),
            final_state=ctl.state.value,
            faults=[{"code": e.code, "t_s": round(e.t_s - start_t, 4)} for e in ctl.events],
            sim_s=sim_s, wall_s=wall_s, realtime_factor=sim_s / wall_s if wall_s > 0 else math.inf,
            ticks=ticks, late_ticks=late_ticks, message=message, interrupted=interrupted,
            interrupted_by=interrupted_by, link_lost=link_lost,
            events=[{"code": e.code, "t_s": round(e.t_s - start_t, 4), "severity": e.severity, "text": e.text}
                    for e in ctl.events])


def stop_if_running(ctl: Controller) -> None:
    """End of run, stop request, Ctrl-C: the firmware ends STOPPED, outputs safe."""
    if ctl.state.value != "stopped":
        ctl.stop()


class Runtime:
    def __init__(self, frontend: FrontEnd, controller: Controller, sinks: list[TelemetrySink] | None = None,
                 wall_clock: Callable[[], float] = time.perf_counter, *, force_element: bool = False):
        info = frontend.info()
        if not force_element:
            check_element(info, controller.settings)
        self.frontend = frontend
        self.controller = controller
        self.sinks = list(sinks or [])
        self.wall_clock = wall_clock
        self.has_truth = info.has_truth
        # The sensor's trim resistor, when the front end measures one (NaN otherwise).
        controller.set_trim(info.trim_ohm)

    def run(self, duration_s: float, should_stop: Callable[[], bool] | None = None) -> RunResult:
        fe = self.frontend
        ctl = self.controller
        rates = ctl.settings.rates
        period_s = 1.0 / rates.pump_hz
        telemetry_every = max(1, round(rates.pump_hz / rates.telemetry_hz))
        start_t = fe.now()
        ticks = round(duration_s / period_s) if math.isfinite(duration_s) else None
        late = 0
        message = ""
        interrupted = link_lost = False
        interrupted_by = ""
        wall_start = self.wall_clock()
        n = 0
        t = start_t
        try:
            tick = ctl.tick
            wait_until, sample, apply = fe.wait_until, fe.sample, fe.apply
            for n in (range(ticks + 1) if ticks is not None else itertools.count()):
                t = start_t + n * period_s
                if not wait_until(t):
                    late += 1
                apply(tick(sample()))
                if n % telemetry_every == 0:
                    self._emit()
                    if should_stop is not None and should_stop():
                        message = "stopped on request"
                        break
        except LinkLost as exc:
            link_lost = True
            message = f"link lost: {exc}; outputs made safe"
            ctl.link_lost(t, str(exc))
        except FrontEndError as exc:
            message = f"front end error: {exc}; outputs made safe"
            ctl.link_lost(t, str(exc))
        except KeyboardInterrupt as exc:
            interrupted = True
            interrupted_by = signal_of(exc)
            message = f"interrupted ({interrupt_text(interrupted_by)}); outputs made safe"
        finally:
            fe.safe()
        if not link_lost:
            stop_if_running(ctl)
        self._emit()
        wall_s = self.wall_clock() - wall_start
        return RunResult.of(ctl, start_t, sim_s=t - start_t, wall_s=wall_s, ticks=n + 1, late_ticks=late,
                            message=message, interrupted=interrupted, interrupted_by=interrupted_by,
                            link_lost=link_lost)

    def _emit(self) -> None:
        if not self.sinks:
            return
        status = self.controller.status()
        truth = self.frontend.truth() if self.has_truth else None
        for sink in self.sinks:
            sink(status, truth)
