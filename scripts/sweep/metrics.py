"""A case's metrics, computed in the loop by a light telemetry sink (no samples are kept).

Steady windows are derived from the truth, since the scenario format does not mark them: a window is
a span where the true lambda and the true exhaust pressure hold still; its first SETTLE_S seconds are
skipped (the sensor's and the loop's response to the change), and it counts only when at least
HOLD_S seconds are left. Only samples where the firmware says lambda is valid (closed loop) count.
Both numbers are assumptions: SETTLE_S is ~5 x the LSU 4.9's tube response to a step (83-500 ms,
README figures), HOLD_S enough ticks (100 at 100 Hz telemetry) for a p99.

Per window: the true lambda, the signed error mean, p99 and max of |error| (lambda units), the Bosch
band there (tolerance.py), the share of samples inside it. Per case, over all steady samples: the same
statistics, the worst ratio max|error| / band over the windows, the Nernst voltage's p99 distance
from its target (mV), the spread (max - min) of the true cell temperature (°C) over the steady samples
taken TEMP_SETTLE_S or more after the first valid lambda (the heater loop is still settling before).

Percentiles are nearest-rank on sorted lists: exact and the same on every machine.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .tolerance import bosch_tolerance

SETTLE_S = 0.5   # assumption, see the module docstring
HOLD_S = 1.0     # assumption, see the module docstring
TEMP_SETTLE_S = 5.0   # assumption: the heater loop's settling after the first valid lambda (README: ±3 °C at 20 s)
FALSE_FAULT_GRACE_S = 1.0   # assumption: a fault reported up to this long after an injected fault ends is its echo

# Metric columns a sweep file may keep (spec `metrics`), with their meaning (docs/sweep.md).
METRICS: dict[str, str] = {
    "time_to_ready_s": "time from start to a valid lambda reading, s (empty: never ready)",
    "final_state": "the controller's state at the end",
    "steady_windows": "number of steady windows found in the truth",
    "steady_samples": "telemetry samples inside steady windows with a valid lambda",
    "lambda_err_mean": "mean signed lambda error (measured - true) over the steady samples",
    "lambda_err_p99": "p99 of |lambda error| over the steady samples",
    "lambda_err_max": "max |lambda error| over the steady samples",
    "in_tolerance_share": "share of steady samples inside the Bosch band",
    "worst_tolerance_ratio": "max over windows of max|lambda error| / Bosch band (> 1: outside)",
    "nernst_p99_mv": "p99 of |Nernst voltage - target| over the steady samples, mV",
    "temp_spread_c": "max - min of the true cell temperature over the steady samples taken TEMP_SETTLE_S "
                     "after the first valid lambda, °C",
    "faults": "number of fault events",
    "fault_codes": "the fault codes, in order, comma-separated",
    "false_faults": "fault events outside every injected fault window (+ grace)",
    "late_ticks": "ticks that ran late (0 in virtual time)",
    "sim_s": "simulated seconds",
    "windows": "JSON list of steady windows: t0_s, t1_s, lambda, n, mean, p99, max, band, in_band",
}


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of a sorted list (NaN for an empty one)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


class _Window:
    __slots__ = ("t0_s", "t1_s", "lambda_true", "errors", "nernst_mv", "temps_c")

    def __init__(self, t0_s: float, lambda_true: float):
        self.t0_s = t0_s
        self.t1_s = t0_s
        self.lambda_true = lambda_true
        self.errors: list[float] = []
        self.nernst_mv: list[float] = []
        self.temps_c: list[float] = []


class CaseMetrics:
    """Telemetry sink sink(status, truth): collects the steady windows of one case."""

    def __init__(self, nernst_target_v: float, settle_s: float = SETTLE_S, hold_s: float = HOLD_S):
        self.nernst_target_v = nernst_target_v
        self.settle_s = settle_s
        self.hold_s = hold_s
        self.windows: list[_Window] = []
        self._key: tuple[float, float] | None = None
        self._since_s = math.nan
        self._open: _Window | None = None
        self._ready_s = math.nan

    def __call__(self, status, truth) -> None:
        if truth is None:
            return
        key = (truth.lambda_value, truth.pressure_kpa)
        t = status.t_s
        if key != self._key:
            self._close()
            self._key = key
            self._since_s = t
        if not status.lambda_valid:
            return
        if self._ready_s != self._ready_s:
            self._ready_s = t
        if t - self._since_s < self.settle_s:
            return
        true = truth.lambda_value
        meas = status.lambda_value
        if not (math.isfinite(true) and math.isfinite(meas)):
            return
        window = self._open
        if window is None:
            window = self._open = _Window(t, true)
        window.t1_s = t
        window.errors.append(meas - true)
        window.nernst_mv.append(abs(status.nernst_v - self.nernst_target_v) * 1000.0)
        if t - self._ready_s >= TEMP_SETTLE_S:
            window.temps_c.append(truth.temp_c)

    def _close(self) -> None:
        window, self._open = self._open, None
        if window is not None and window.t1_s - window.t0_s >= self.hold_s - self.settle_s:
            self.windows.append(window)

    def result(self) -> dict[str, Any]:
        """The metric columns of this case (steady statistics; the run's own are added by the runner)."""
        self._close()
        errors: list[float] = []
        nernst: list[float] = []
        temps: list[float] = []
        inside = 0
        worst = math.nan
        rows = []
        for w in self.windows:
            band = bosch_tolerance(w.lambda_true)
            ordered = sorted(abs(e) for e in w.errors)
            in_band = sum(1 for e in ordered if e <= band)
            inside += in_band
            ratio = ordered[-1] / band
            worst = ratio if not ratio <= worst else worst
            rows.append({"t0_s": round(w.t0_s, 4), "t1_s": round(w.t1_s, 4), "lambda": w.lambda_true,
                         "n": len(ordered), "mean": math.fsum(w.errors) / len(w.errors),
                         "p99": percentile(ordered, 99.0), "max": ordered[-1], "band": band,
                         "in_band": in_band / len(ordered)})
            errors.extend(w.errors)
            nernst.extend(w.nernst_mv)
            temps.extend(w.temps_c)
        ordered_abs = sorted(abs(e) for e in errors)
        return {
            "steady_windows": len(self.windows),
            "steady_samples": len(errors),
            "lambda_err_mean": math.fsum(errors) / len(errors) if errors else math.nan,
            "lambda_err_p99": percentile(ordered_abs, 99.0),
            "lambda_err_max": ordered_abs[-1] if ordered_abs else math.nan,
            "in_tolerance_share": inside / len(errors) if errors else math.nan,
            "worst_tolerance_ratio": worst,
            "nernst_p99_mv": percentile(sorted(nernst), 99.0),
            "temp_spread_c": max(temps) - min(temps) if temps else math.nan,
            "windows": json.dumps(rows, separators=(",", ":")),
        }


def false_faults(faults: list[dict], fault_windows, grace_s: float = FALSE_FAULT_GRACE_S) -> int:
    """Fault events at a time no injected fault explains (inside a window, or up to grace_s after)."""
    count = 0
    for fault in faults:
        t = fault["t_s"]
        if not any(w.on_s <= t <= w.off_s + grace_s for w in fault_windows):
            count += 1
    return count
