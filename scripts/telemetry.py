"""Telemetry sinks for the command line: a live status line and the lambda accuracy; the run logs
(CSV, MDF4, .msl, in lambdarig.logs) and the plot's recorder (lambdarig.plot) are re-exported here.

A sink is a callable `sink(status, truth)` that the runtime calls once per telemetry tick (and once
more at the end of a run) with the controller's `Status` and, in simulation, the emulator's `Truth`
(None on real hardware). Sinks must be cheap: they run inside the control loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TextIO

from lambdarig.controller.conversion import LAMBDA_MAX
from lambdarig.controller.profiles import TEMP_FLOOR_C

from .logs import CsvLog, OutputError
from .logs.channels import channels_for
from .plot import PLOT_LAMBDA_RANGE, PLOT_MAX_POINTS, Recorder, check_plot_available, plot_run

# The CSV log's columns (every log format has the same channels: lambdarig.logs.channels).
CSV_COLUMNS = tuple(c.name for c in channels_for(with_truth=False, with_hc=False))
TRUTH_COLUMNS = tuple(c.name for c in channels_for(with_truth=True, with_hc=False) if c.source == "truth")

__all__ = ["CSV_COLUMNS", "TRUTH_COLUMNS", "CsvLog", "OutputError", "StatusLine", "Recorder", "LambdaAccuracy",
           "plot_run", "check_plot_available", "format_lambda", "PLOT_LAMBDA_RANGE", "PLOT_MAX_POINTS"]


def format_lambda(value: float) -> str:
    if value != value:
        return "--"
    if math.isinf(value) or value >= LAMBDA_MAX:   # the conversion's ceiling stands for free air
        return "air"
    return f"{value:.3f}"


class StatusLine:
    """A live one-line status (time, state, temperature, lambda, O2, fault), rewritten in place with
    '\\r' on a terminal at most once per `min_interval_s` of WALL time (a simulation runs far faster
    than real time). On a stream that is not a terminal it writes nothing. `finish()` ends the line."""

    def __init__(self, stream: TextIO, min_interval_s: float = 0.1, clock: Callable[[], float] = time.monotonic):
        self.stream = stream
        self.min_interval_s = min_interval_s
        self.clock = clock
        try:
            self.enabled = bool(stream.isatty())
        except (AttributeError, ValueError):
            self.enabled = False
        self._next_s = -math.inf
        self._width = 0
        self.updates = 0

    @staticmethod
    def format(status) -> str:
        s = status
        # At the estimate's floor the cell is below the ESR table: "cold", not a made-up -40 °C.
        temp = "--" if s.temp_c != s.temp_c else "cold" if s.temp_c <= TEMP_FLOOR_C else f"{s.temp_c:.0f} °C"
        o2 = "--" if s.o2_pct != s.o2_pct else f"{s.o2_pct:.2f}"
        fault = f"  fault {s.fault}" if s.fault else ""
        return (f"t {s.t_s:7.2f} s  {s.state:<12} {temp:>7}  lambda {format_lambda(s.lambda_value):>6}"
                f"  O2 {o2:>5} %{fault}")

    def __call__(self, status, truth=None) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if now < self._next_s:
            return
        self._next_s = now + self.min_interval_s
        self.show(status)

    def show(self, status) -> None:
        """Write the line now (no rate limit); nothing on a non-terminal."""
        if not self.enabled:
            return
        text = self.format(status)
        pad = " " * max(0, self._width - len(text))
        self._width = len(text)
        self.stream.write("\r" + text + pad)
        self.stream.flush()
        self.updates += 1

    def finish(self) -> None:
        if self.enabled and self.updates:
            self.stream.write("\n")
            self.stream.flush()
            self.updates = 0
            self._width = 0


class LambdaAccuracy:
    """|measured - true| / true in % over the samples where the firmware says lambda is valid and the
    truth is finite (free air has no finite lambda to compare with).

    `max` includes the sensor's response to every step of the truth (right after a step the error is
    the step itself); `max_settled` only counts samples taken once the true lambda has held still for
    `settle_s`, i.e. the steady-state accuracy."""

    def __init__(self, settle_s: float = 1.0):
        self.settle_s = settle_s
        self.errors_pct: list[float] = []
        self.max_settled_pct = math.nan
        self.settled = 0
        self._last_true = math.nan
        self._steady_since_s = math.nan

    def __call__(self, status, truth) -> None:
        if truth is None:
            return
        true = truth.lambda_value
        t = status.t_s
        if true != self._last_true:
            self._last_true = true
            self._steady_since_s = t
        if not status.lambda_valid:
            return
        meas = status.lambda_value
        if not (math.isfinite(true) and math.isfinite(meas)) or true <= 0:
            return
        error = abs(meas - true) / true * 100.0
        self.errors_pct.append(error)
        if t - self._steady_since_s >= self.settle_s:
            self.settled += 1
            if not error <= self.max_settled_pct:  # also replaces the initial NaN
                self.max_settled_pct = error

    def summary(self) -> dict | None:
        errors = self.errors_pct
        if not errors:
            return None
        ordered = sorted(errors)
        n = len(ordered)
        median = ordered[n // 2] if n % 2 else 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])
        settled = None if self.settled == 0 else round(self.max_settled_pct, 4)
        return {"median": round(median, 4), "max": round(ordered[-1], 4), "samples": n,
                "max_settled": settled, "settled_samples": self.settled, "settle_s": self.settle_s}
