"""The run summary's lambda figures (lambdarig.lambda_accuracy): the steady-state error in %, and the
step response as a time (how soon after a step the reading is inside the Bosch band), never a relative
error against free air or a step still on its way (that read "4900 % during steps" at air -> 1.0)."""

from __future__ import annotations

import json

import pytest

import lambdarig
from lambdarig.cli.summary import format_summary, json_safe
from lambdarig.controller.conversion import LAMBDA_MAX
from lambdarig.controller.core import Status
from lambdarig.lambda_accuracy import LambdaAccuracy, StepResponse

TICK_S = 0.01


def status(t_s: float, lambda_value: float, valid: bool = True) -> Status:
    return Status(t_s=t_s, state="closed_loop" if valid else "ramp", lambda_value=lambda_value, o2_pct=0.0,
                  afr=14.7, lambda_valid=valid, nernst_v=0.45, pump_current_a=0.0, ri_ohm=300.0, temp_c=780.0,
                  heater_v=7.5, heater_duty=0.3, supply_v=13.5, fault="", saturation=0)


class Truth:
    def __init__(self, lambda_value: float):
        self.lambda_value = lambda_value


def feed(sink, samples: list[tuple[float, float, float, bool]]) -> None:
    """(t_s, measured, true, valid) per tick."""
    for t, meas, true, valid in samples:
        sink(status(t, meas, valid), Truth(true))


def ticks(t0: float, t1: float) -> list[float]:
    return [round(t0 + i * TICK_S, 4) for i in range(int(round((t1 - t0) / TICK_S)))]


def air_to_one() -> list[tuple[float, float, float, bool]]:
    """2 s of free air (reading at the lean ceiling), then lambda 1.0 for 2 s: the reading comes down
    50 -> 20 -> 5 -> 1.5 -> 1.02 and is within ±0.007 of 1.0 from 0.12 s after the step."""
    samples = [(t, LAMBDA_MAX, float("inf"), True) for t in ticks(0.0, 2.0)]
    way_down = [LAMBDA_MAX, 20.0, 5.0, 1.5, 1.1, 1.05, 1.03, 1.02, 1.015, 1.01, 1.008, 1.0075]
    for i, t in enumerate(ticks(2.0, 4.0)):
        samples.append((t, way_down[i] if i < len(way_down) else 1.002, 1.0, True))
    return samples


def test_a_step_out_of_free_air_is_judged_by_the_time_back_in_the_band():
    acc = LambdaAccuracy()
    feed(acc, air_to_one())
    summary = acc.summary()
    assert summary["step_settle_s"] == {"steps": 1, "median": pytest.approx(0.12), "max": pytest.approx(0.12),
                                        "unsettled": 0}
    assert summary["max"] == pytest.approx(4900.0)   # the raw maximum: kept in the JSON, not shown
    assert summary["max_settled"] == pytest.approx(0.2)
    line = next(row for row in format_summary(report(summary)).splitlines() if "step response" in row)
    assert "inside the Bosch band 120 ms after a step" in line and "1 step)" in line
    assert "4900" not in format_summary(report(summary))


def test_steps_into_air_before_ready_and_short_holds_are_not_timed():
    steps = StepResponse(hold_s=1.0)
    for t in ticks(0.0, 1.0):                       # warm-up: a step while not valid is not timed
        steps(t, False, float("nan"), 1.0 if t < 0.5 else 0.9)
    for t in ticks(1.0, 2.0):
        steps(t, True, 0.9, 0.9)
    for t in ticks(2.0, 3.5):                       # into free air: no lambda to reach
        steps(t, True, LAMBDA_MAX, float("inf"))
    for t in ticks(3.5, 4.0):                       # out of air, held 0.5 s only: not judged
        steps(t, True, 1.2, 1.2)
    for t in ticks(4.0, 5.5):                       # 1.2 -> 1.0, in the band at once
        steps(t, True, 1.001, 1.0)
    assert steps.summary() == {"steps": 1, "median": 0.0, "max": 0.0, "unsettled": 0}


def test_a_reading_outside_the_band_at_the_steps_end_is_unsettled_and_the_run_end_does_not_count():
    steps = StepResponse(hold_s=1.0)
    for t in ticks(0.0, 1.0):
        steps(t, True, 1.0, 1.0)
    for t in ticks(1.0, 2.5):                       # 1.0 -> 0.8, stuck 0.05 off (band ±0.01)
        steps(t, True, 0.85, 0.8)
    for t in ticks(2.5, 4.0):                       # 0.8 -> 1.2, settles after 0.3 s ...
        steps(t, True, 1.0 if t < 2.8 else 1.2, 1.2)
    steps(4.0, False, 1.2, 1.2)                     # ... and the run's last row (stopped, not valid)
    summary = steps.summary()
    assert summary == {"steps": 2, "median": pytest.approx(0.3), "max": pytest.approx(0.3), "unsettled": 1}
    text = format_summary(report({"median": 0.1, "max": 5.0, "samples": 300, "max_settled": 6.25,
                                  "settled_samples": 100, "settle_s": 1.0, "step_settle_s": summary}))
    assert "2 steps, 1 outside it at the step's end" in text


def report(accuracy: dict) -> dict:
    return {"element": "lsu49", "scenario": "x", "seed": 0, "time_to_ready_s": 1.0, "final_state": "stopped",
            "events": [], "realtime_factor": 10.0, "sim_s": 4.0, "wall_s": 0.4, "lambda_error_pct": accuracy,
            "message": "", "mode": "wideband"}


def test_the_default_scenarios_summary_times_its_steps_air_to_one_included():
    result = lambdarig.simulate("lsu49", scenario="default", seed=0)
    acc = result.summary["lambda_error_pct"]
    steps = acc["step_settle_s"]
    # 0.8, 1.2, the end of the ramp to 2.0, 0.9, and out of free air to 1.0 (the fuel cut's end)
    assert steps["steps"] == 5 and steps["unsettled"] == 0
    assert 0.0 < steps["median"] <= steps["max"] < 0.5    # an LSU 4.9 answers within ~100 ms
    text = format_summary(result.summary)
    assert "during steps" not in text and "step response" in text
    json.dumps(json_safe(result.summary), allow_nan=False)
