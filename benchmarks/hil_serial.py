"""Hardware in the loop over serial: the controller's 500 Hz runtime loop against the emulated bench rig
(emulator/serial_rig.py) on a pseudo-terminal, through the real pyserial transport, on the wall clock.

    python benchmarks/hil_serial.py [--seconds 20] [--rate 500] [--rig process|thread]

--rig process (default) runs the rig as its own process (`python -m emulator.serial_rig`), as a
board is its own device; --rig thread runs it in this process, sharing the GIL with the host (what
the tests do). Reports the loop rate achieved, the loop latency (from each tick's deadline to the
end of apply(): wake-up + sample + controller tick + SETPOINT written) and the compute part of it
(from wake-up to the end of apply()) as p50/p99/max, missed deadlines (late ticks: wait_until found
the deadline already past; overruns: apply() finished after the next deadline), dropped frames
(corrupt frames discarded by the framer, SAMPLE sequence gaps), the rig's watchdog trips, and the
time the emulated LSU 4.9 took to reach closed loop. Prints the figures and writes
benchmarks/results/hil_serial.json.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

from _common import (  # importing _common sets the import path
    ROOT,
    child_env,
    percentile,
    print_table,
    stop_process,
    timed_run,
    write_result,
)

from lambdarig.controller.core import Controller
from lambdarig.hal.registry import open_frontend
from lambdarig.hal.types import Command, LinkLost


class RigProcess:
    """`python -m emulator.serial_rig` in its own process; .path is its pty."""

    def __init__(self, flash: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "lambdarig.emulator.serial_rig", "--flash", flash],
                                     cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, text=True)
        self.path = self.proc.stdout.readline().strip()
        if not self.path.startswith("/dev/"):
            self.stop()
            raise RuntimeError(f"the rig process did not print its pty (got {self.path!r})")

    def stop(self) -> None:
        stop_process(self.proc)


def time_to_link_loss(fe, event) -> tuple[float, str]:
    """Drive the front end at 500 Hz, fire event() after 0.2 s; (seconds to LinkLost, message)."""
    t0 = fe.now()
    n = 0
    fired = None
    command = Command(0.0, 0.0, True)
    try:
        while n < 2500:
            fe.wait_until(t0 + n * 0.002)
            fe.sample()
            fe.apply(command)
            if n == 100:
                event()
                fired = time.monotonic()
            n += 1
    except LinkLost as exc:
        if fired is None:
            return float("nan"), f"link lost before the event (machine overloaded?): {exc}"
        return time.monotonic() - fired, str(exc)
    return float("nan"), "no link loss within 5 s"


def measure_link_loss(fe, rig: RigProcess) -> dict:
    """A hung rig (SIGSTOP: no byte, no watchdog) and a vanished one (SIGKILL: the pty closes)."""
    out = {}
    pid = rig.proc.pid
    silent_s, silent_msg = time_to_link_loss(fe, lambda: os.kill(pid, signal.SIGSTOP))
    os.kill(pid, signal.SIGCONT)
    fe.reconnect(timeout_s=2.0)
    gone_s, gone_msg = time_to_link_loss(fe, lambda: os.kill(pid, signal.SIGKILL))
    out["hung_rig_ms"] = round(silent_s * 1e3, 1)
    out["hung_rig_message"] = silent_msg
    out["vanished_rig_ms"] = round(gone_s * 1e3, 1)
    out["vanished_rig_message"] = gone_msg
    return out


def run(seconds: float, rate_hz: int, rig_mode: str) -> dict:
    load_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="lambdarig-hil-") as tmp:
        flash = os.path.join(tmp, "flash.bin")
        if rig_mode == "process":
            rig = RigProcess(flash)
        else:
            from lambdarig.emulator.serial_rig import RigServer
            rig = RigServer(flash_path=flash).start()
        try:
            fe = open_frontend(f"serial://{rig.path}", rate_hz=rate_hz)
            ctl = Controller()
            period_s = 1.0 / ctl.settings.rates.pump_hz
            result, times = timed_run(fe, ctl, seconds, clock_origin_s=fe._t0)
            stats = fe.stats()
            link_loss = {}
            if rig_mode == "process":
                try:
                    link_loss = measure_link_loss(fe, rig)
                except Exception as exc:  # e.g. the rig did not come back after SIGCONT on a loaded machine
                    link_loss = {"error": f"{type(exc).__name__}: {exc}"}
            fe.close()
            rig_stats = rig.stats() if rig_mode == "thread" else {}
        finally:
            rig.stop()
    latency, compute, wake, overruns = times.latencies(period_s)
    ms = lambda x: round(x * 1e3, 3)  # noqa: E731
    out = {
        "seconds": seconds, "rig": rig_mode, "stream_rate_hz": rate_hz, "pump_loop_hz": round(1 / period_s),
        "ticks": result.ticks, "wall_s": round(result.wall_s, 3),
        "loop_rate_hz": round(result.ticks / result.wall_s, 1) if result.wall_s > 0 else None,
        "latency_ms": {"p50": ms(percentile(latency, 0.5)), "p99": ms(percentile(latency, 0.99)),
                       "max": ms(max(latency))},
        "compute_ms": {"p50": ms(percentile(compute, 0.5)), "p99": ms(percentile(compute, 0.99)),
                       "max": ms(max(compute))},
        "wake_late_ms": {"p50": ms(percentile(wake, 0.5)), "p99": ms(percentile(wake, 0.99)),
                         "max": ms(max(wake))},
        "missed_deadlines": {"late_ticks": result.late_ticks, "overruns": overruns,
                             "late_fraction": round(result.late_ticks / max(1, result.ticks), 5)},
        "frames": {"received": stats["frames"], "samples": stats["samples"], "dropped": stats["dropped"],
                   "sample_gaps": stats["sample_gaps"], "repeated_samples": stats["repeated_samples"],
                   "retries": stats["retries"], "setpoints": stats["setpoints"]},
        "watchdog_trips": stats["watchdog_trips"],
        "time_to_ready_s": result.time_to_ready_s, "link_lost": result.link_lost, "message": result.message,
    }
    out["link_loss"] = link_loss
    out["load_average_1min_before"] = load_before
    out["cpus"] = os.cpu_count()
    if rig_stats:
        out["rig_side"] = {k: rig_stats[k] for k in ("rx_dropped", "tx_dropped", "samples_skipped",
                                                    "sample_late_ms_p99", "sample_late_ms_max")}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="run length, wall seconds (default 20)")
    parser.add_argument("--rate", type=int, default=500, help="SAMPLE stream rate, Hz (default 500)")
    parser.add_argument("--rig", choices=("process", "thread"), default="process",
                        help="the emulated rig in its own process (default) or a thread of this one")
    args = parser.parse_args()
    r = run(args.seconds, args.rate, args.rig)
    print(f"controller at {r['pump_loop_hz']} Hz on the emulated rig ({r['rig']}), {r['seconds']:g} s wall, "
          f"stream {r['stream_rate_hz']} Hz; loop rate {r['loop_rate_hz']} Hz over {r['ticks']} ticks")
    print_table(["ms", "p50", "p99", "max"],
                [[name, r[key]["p50"], r[key]["p99"], r[key]["max"]]
                 for name, key in (("loop latency (deadline -> applied)", "latency_ms"),
                                   ("compute (wake -> applied)", "compute_ms"),
                                   ("wake-up lateness", "wake_late_ms"))])
    m, f = r["missed_deadlines"], r["frames"]
    print(f"missed deadlines: {m['late_ticks']} late ticks ({m['late_fraction'] * 100:.2f} %), "
          f"{m['overruns']} overruns")
    print(f"frames: {f['received']} received, {f['dropped']} dropped, {f['sample_gaps']} sample gaps, "
          f"{f['repeated_samples']} ticks without a new sample, {f['retries']} retries; "
          f"watchdog trips {r['watchdog_trips']}")
    print(f"closed loop after {r['time_to_ready_s']} s; link lost: {r['link_lost']} {r['message']}")
    if r["link_loss"].get("error"):
        print(f"link-loss measurement failed: {r['link_loss']['error']}")
    elif r["link_loss"]:
        ll = r["link_loss"]
        print(f"link loss declared: hung rig (SIGSTOP) after {ll['hung_rig_ms']} ms, vanished rig (SIGKILL) "
              f"after {ll['vanished_rig_ms']} ms")
        print(f"  {ll['hung_rig_message']}\n  {ll['vanished_rig_message']}")
    print(f"load average before: {r['load_average_1min_before']} on {r['cpus']} CPUs")
    write_result("hil_serial", r)


if __name__ == "__main__":
    main()
