"""The live view's telemetry sink: what the control loop hands to the web page.

`LiveFeed` is a telemetry sink (`feed(status, truth)`, once per telemetry tick, inside the control
loop). It only turns the status into a short tuple and appends it to a bounded deque, plus an event
when the state or the active fault code changed: no lock, no I/O, no allocation that grows. The web
server's thread reads copies (`rows_after`, `events_after`): `deque.copy()` is one C call under the
GIL, so the loop never waits for a reader and a reader never sees a half-written row. A page that
falls behind more than the deque holds just misses the oldest rows (the plot is a rolling window).
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from typing import Any

from lambdarig.controller.diagnostics import CODES
from lambdarig.controller.profiles import TEMP_FLOOR_C
from lambdarig.controller.readings import shown_lambda, shown_temp_c, table_floor_c

# One row per telemetry tick, in this column order (the page reads the names from /info).
COLUMNS = ("seq", "t_s", "lambda", "true_lambda", "o2_pct", "true_o2_pct", "temp_c", "true_temp_c",
           "nernst_v", "pump_current_ma", "heater_v", "state", "fault")
# 60 s at the default 100 Hz telemetry: the page's rolling window is 30 s.
MAX_ROWS = 6000
MAX_EVENTS = 500


def _num(value: float, digits: int) -> float | None:
    """JSON has no NaN or infinity: a value the firmware does not have (NaN) is null; true lambda in
    free air (inf) too, and the page says 'air'."""
    if value != value or math.isinf(value):
        return None
    return round(value, digits)


class LiveFeed:
    """The sink (see the module docstring) and the snapshots the server reads."""

    def __init__(self, max_rows: int = MAX_ROWS, max_events: int = MAX_EVENTS):
        self._rows: deque[tuple[Any, ...]] = deque(maxlen=max_rows)
        self._events: deque[dict[str, Any]] = deque(maxlen=max_events)
        self._row_seq = itertools.count(1)
        self._event_seq = itertools.count(1)
        self._state = ""
        self._fault = ""
        self.t0_s: float | None = None   # the first tick's time: the page's time axis starts at 0
        self.has_truth = False
        self.ended = ""                  # set once the run is over: why it ended (shown on the page)
        self.temp_floor_c = TEMP_FLOOR_C  # below it the estimate is an extrapolation: null ("cold")

    def bind_controller(self, controller: Any) -> None:
        """The firmware this feed shows: its profile's ESR table says from where the estimate is real."""
        self.temp_floor_c = table_floor_c(controller.profile)

    # ---- the control loop's side: cheap, no lock, no I/O -------------------------------------------
    def __call__(self, status: Any, truth: Any) -> None:
        if self.t0_s is None:
            self.t0_s = status.t_s
            self.has_truth = truth is not None
        t_s = round(status.t_s - self.t0_s, 4)
        if status.state != self._state:
            self._event(t_s, "state", status.state, f"state {status.state}")
            self._state = status.state
        if status.fault != self._fault:
            if self._fault:
                self._event(t_s, "clear", self._fault, f"{self._fault} cleared")
            if status.fault:
                code = CODES.get(status.fault)
                self._event(t_s, code.severity if code else "fault", status.fault,
                            code.text if code else status.fault)
            self._fault = status.fault
        if truth is None:
            true_lambda = true_o2 = true_temp = None
        else:
            true_lambda = _num(truth.lambda_value, 5)
            true_o2, true_temp = _num(truth.o2_pct, 4), _num(truth.temp_c, 2)
        temp = _num(shown_temp_c(status.temp_c, self.temp_floor_c), 2)
        self._rows.append((next(self._row_seq), t_s, _num(shown_lambda(status.lambda_value), 5), true_lambda,
                           _num(status.o2_pct, 4), true_o2, temp, true_temp,
                           _num(status.nernst_v, 5), _num(status.pump_current_a * 1e3, 5),
                           _num(status.heater_v, 4), status.state, status.fault))

    def _event(self, t_s: float, kind: str, code: str, text: str) -> None:
        self._events.append({"seq": next(self._event_seq), "t_s": t_s, "kind": kind, "code": code, "text": text})

    # ---- the server's side: copies, never the live deques -------------------------------------------
    def rows_after(self, seq: int, limit: int) -> list[tuple[Any, ...]]:
        """Rows newer than seq, at most the newest `limit` of them."""
        fresh: list[tuple[Any, ...]] = []
        for row in reversed(self._rows.copy()):
            if row[0] <= seq or len(fresh) >= limit:
                break
            fresh.append(row)
        fresh.reverse()
        return fresh

    def events_after(self, seq: int) -> list[dict[str, Any]]:
        return [event for event in self._events.copy() if event["seq"] > seq]

    def end(self, text: str) -> None:
        """The run is over (the page shows `text`); called after the loop, from the session's thread."""
        self.ended = text or "run ended"
