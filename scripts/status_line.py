"""The live status line of `simulate` and `run` on a terminal, and how it writes lambda. Kept apart
from lambdarig.telemetry (which re-exports it with the logs and the plot's recorder) so that a run
without a log imports none of the log writers.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import TextIO

from lambdarig.controller.conversion import LAMBDA_MAX
from lambdarig.controller.profiles import TEMP_FLOOR_C
from lambdarig.controller.readings import table_floor_c


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
        self.temp_floor_c = TEMP_FLOOR_C   # below it the estimate reads "cold" (bind_controller)

    def bind_controller(self, controller) -> None:
        """The firmware this line shows: its profile's ESR table says from where the estimate is real."""
        self.temp_floor_c = table_floor_c(controller.profile)

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
        if TEMP_FLOOR_C < status.temp_c < self.temp_floor_c:   # an extrapolation below the table: "cold"
            status = dataclasses.replace(status, temp_c=TEMP_FLOOR_C)
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
