"""Shared plumbing for the benchmark scripts: import path, result writing, table printing, and for
the wall-clock (HIL) ones: percentiles, rig/station subprocesses and per-tick timing."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def write_result(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"benchmark": name, "python": platform.python_version(), "machine": platform.machine(),
            "date": time.strftime("%Y-%m-%d"), **data}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"\nwrote {path.relative_to(ROOT)}")
    return path


def print_table(headers: list[str], rows: list[list]) -> None:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for k, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
        if k == 0:
            print("  ".join("-" * w for w in widths))


def percentile(values: list[float], q: float) -> float:
    """The q-quantile of `values` by nearest rank (no interpolation); NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def child_env() -> dict[str, str]:
    """This environment with the repository first on PYTHONPATH, for a rig or station subprocess."""
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it has not gone within 5 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class TickTimes:
    """Per tick of a wall-clock run, on time.monotonic(): the deadline, the wake-up from
    wait_until() and the end of apply()."""

    deadlines: list[float] = field(default_factory=list)
    woke: list[float] = field(default_factory=list)
    done: list[float] = field(default_factory=list)

    def latencies(self, period_s: float) -> tuple[list[float], list[float], list[float], int]:
        """(deadline -> applied, wake-up -> applied, deadline -> wake-up, overruns: ticks applied
        after the next deadline), over the ticks both recorded."""
        n = min(len(self.deadlines), len(self.done))
        latency = [self.done[i] - self.deadlines[i] for i in range(n)]
        compute = [self.done[i] - self.woke[i] for i in range(n)]
        wake = [self.woke[i] - self.deadlines[i] for i in range(n)]
        overruns = sum(1 for i in range(n) if self.done[i] > self.deadlines[i] + period_s)
        return latency, compute, wake, overruns


def timed_run(fe: Any, ctl: Any, seconds: float, clock_origin_s: float = 0.0,
              sinks: list | None = None) -> tuple[Any, TickTimes]:
    """Runtime(fe, ctl, sinks).run(seconds) with every tick's times recorded; (result, times).

    clock_origin_s: the monotonic time of the front end's t = 0 (its deadlines are on its own clock).
    The front end's wait_until and apply are wrapped on the instance for the run only."""
    from lambdarig.controller.runtime import Runtime  # after the import path is set above

    times = TickTimes()
    raw_wait, raw_apply = fe.wait_until, fe.apply
    monotonic = time.monotonic

    def wait_until(t):
        ok = raw_wait(t)
        times.woke.append(monotonic())
        times.deadlines.append(clock_origin_s + t)
        return ok

    def apply(command):
        raw_apply(command)
        times.done.append(monotonic())

    fe.wait_until, fe.apply = wait_until, apply
    try:
        result = Runtime(fe, ctl, sinks=sinks or []).run(seconds)
    finally:
        fe.wait_until, fe.apply = raw_wait, raw_apply
    return result, times
