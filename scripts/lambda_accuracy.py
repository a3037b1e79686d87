"""How well the firmware's lambda follows the truth in simulation: the run summary's `lambda error`
(steady-state accuracy, %) and `step response` (how soon after a step of the truth the reading is
back inside the Bosch band). docs/simulate.md explains both figures.

Why not one relative error for all: right after a step the error is the step itself, and next to
free air it is not a figure at all. Lambda runs to infinity as the exhaust's O2 nears air's, so a
reading on its way back from air (the conversion's lean ceiling, 50, then 20, 5, 2 ...) against a
true 1.0 is thousands of % "wrong" for a few tens of ms however good the sensor is. What a bench
engineer reads at a step is a time: how long until the reading is right again, "right" being the
Bosch band (lambdarig.tolerance, the sweep's band); the relative error is for readings the
truth has held still behind.
"""

from __future__ import annotations

import math
from typing import Any

from .tolerance import bosch_tolerance


def _median(ordered: list[float]) -> float:
    n = len(ordered)
    return ordered[n // 2] if n % 2 else 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])


class StepResponse:
    """Sink part of LambdaAccuracy: for each step of the true lambda to a finite value that then holds
    still for at least `hold_s` of valid readings, with the reading valid when the step came, the
    time from the step until the reading is inside the Bosch band of the new truth and stays there
    until the truth moves again or the reading turns invalid (a fault, the run's end: the step is
    judged on what was read until then). A step whose reading is not inside at its end is
    `unsettled`. Steps into free air are not timed (lambda has no finite value there; O2 is the
    reading); steps out of it are. The first truth of a run is not a step; a ramp changes the truth
    at every tick, so only its end, where the truth then holds, is timed."""

    def __init__(self, hold_s: float = 1.0):
        self.hold_s = hold_s
        self.settle_times_s: list[float] = []
        self.unsettled = 0
        self._true = math.nan
        self._step_s = math.nan       # when the current truth began (NaN: not a timed step)
        self._band = math.nan
        self._inside_since_s = math.nan
        self._last_s = math.nan       # the last valid sample of the current step
        self._valid = False           # the reading was valid at the last sample

    def __call__(self, t_s: float, valid: bool, meas: float, true: float) -> None:
        if true != self._true:
            self._close()
            first = self._true != self._true
            self._true = true
            timed = not first and self._valid and math.isfinite(true) and true > 0
            self._step_s = t_s if timed else math.nan
            self._band = bosch_tolerance(true) if timed else math.nan
            self._inside_since_s = self._last_s = math.nan
        self._valid = valid
        if self._step_s != self._step_s:
            return
        if not valid:   # a fault or the run's end: the step is judged on what was read until then
            self._close()
            return
        self._last_s = t_s
        if abs(meas - true) <= self._band:   # NaN and the air ceiling (50) are outside
            if self._inside_since_s != self._inside_since_s:
                self._inside_since_s = t_s
        else:
            self._inside_since_s = math.nan

    def _close(self) -> None:
        if self._step_s != self._step_s or not self._last_s - self._step_s >= self.hold_s:
            self._step_s = math.nan
            return
        if self._inside_since_s == self._inside_since_s:
            self.settle_times_s.append(self._inside_since_s - self._step_s)
        else:
            self.unsettled += 1
        self._step_s = math.nan

    def summary(self) -> dict[str, Any] | None:
        """{"steps", "median", "max", "unsettled"} (seconds); None when no step was timed."""
        self._close()
        times = sorted(self.settle_times_s)
        if not times and not self.unsettled:
            return None
        return {"steps": len(times) + self.unsettled, "median": round(_median(times), 4) if times else None,
                "max": round(times[-1], 4) if times else None, "unsettled": self.unsettled}


class LambdaAccuracy:
    """|measured - true| / true in % over the samples where the firmware says lambda is valid and the
    truth is finite (free air has no finite lambda to compare with), and the step response
    (StepResponse).

    `max_settled` only counts samples taken once the true lambda has held still for `settle_s`: the
    steady-state accuracy. `max` counts every sample, the responses to the steps included (right
    after a step the error is the step itself, thousands of % out of free air): kept in the JSON
    for scripts that read it, not an accuracy."""

    def __init__(self, settle_s: float = 1.0):
        self.settle_s = settle_s
        self.errors_pct: list[float] = []
        self.max_settled_pct = math.nan
        self.settled = 0
        self.steps = StepResponse(hold_s=settle_s)
        self._last_true = math.nan
        self._steady_since_s = math.nan

    def __call__(self, status, truth) -> None:
        if truth is None:
            return
        true = truth.lambda_value
        t = status.t_s
        meas = status.lambda_value
        self.steps(t, status.lambda_valid, meas, true)
        if true != self._last_true:
            self._last_true = true
            self._steady_since_s = t
        if not status.lambda_valid:
            return
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
        settled = None if self.settled == 0 else round(self.max_settled_pct, 4)
        return {"median": round(_median(ordered), 4), "max": round(ordered[-1], 4), "samples": len(ordered),
                "max_settled": settled, "settled_samples": self.settled, "settle_s": self.settle_s,
                "step_settle_s": self.steps.summary()}
