"""Heater allow from the ECU (can.heater_allow = "can") and the analog-output curves, on the real
controller over the sim front end in virtual time: the ECU's allow is fed by a telemetry sink, as
the CAN receiver does at the telemetry rate. Deterministic (seeded, virtual time)."""

from __future__ import annotations

import math

import pytest

from lambdarig.controller.analog_out import AnalogCurve, analog_curves
from lambdarig.controller.core import Controller
from lambdarig.controller.runtime import Runtime
from lambdarig.controller.settings import Settings, SettingsError
from lambdarig.hal.registry import open_frontend


def run_with_ecu(settings: Settings, allow_at, duration_s: float):
    """Run the firmware with an ECU whose status frame says allow_at(t) (None: no frame) at each
    telemetry tick; return the statuses and the controller."""
    ctl = Controller(settings)
    seen = []

    def ecu(status, truth):
        allowed = allow_at(status.t_s)
        if allowed is not None:
            ctl.set_heater_allowed(allowed, status.t_s)
        seen.append(status)

    fe = open_frontend("sim:lsu49", scenario="default", seed=1)
    try:
        Runtime(fe, ctl, [ecu]).run(duration_s)
    finally:
        fe.close()
    return seen, ctl


def test_no_ecu_frames_keep_the_sensor_cold_then_allow_heats_and_loss_falls_back():
    settings = Settings({"can.heater_allow": "can"})

    def allow(t):
        if t < 6.0:
            return False           # the ECU says no (engine not running)
        if t < 22.0:
            return True
        return None                # the ECU's frames stop

    seen, ctl = run_with_ecu(settings, allow, 24.0)
    before = [s for s in seen if s.t_s < 6.0]
    assert {s.state for s in before} <= {"wait_supply", "condensation"}
    assert max(s.temp_c for s in before if s.temp_c == s.temp_c) < 300.0
    assert not any(s.lambda_valid for s in before)
    assert all(s.heater_v <= 2.0 for s in before)
    valid = [s for s in seen if s.lambda_valid]
    assert valid and 6.0 + 9.0 < valid[0].t_s < 6.0 + 14.0      # a cold start after the allow
    assert any(s.lambda_valid for s in seen if 21.0 < s.t_s < 22.0)
    # Frames stop at 22 s: the allow lasts heater_allow_timeout_s (0.25 s) longer, then condensation.
    after = [s for s in seen if s.t_s > 22.0 + 0.25 + 0.1 and s.state != "stopped"]
    assert after and all(s.state == "condensation" and not s.lambda_valid and not s.heater_allowed for s in after)
    assert all(s.state == "closed_loop" for s in seen if 22.0 < s.t_s < 22.2)
    events = [e for e in ctl.events if e.code == "heater_not_allowed"]
    assert len(events) == 1 and 22.25 <= events[0].t_s <= 22.25 + 0.06


def test_always_is_the_default_and_ignores_the_ecu():
    seen, _ = run_with_ecu(Settings(), lambda t: False, 14.0)
    assert any(s.lambda_valid for s in seen) and all(s.heater_allowed for s in seen)


def test_analog_curve_is_linear_between_points_and_flat_beyond():
    curve = AnalogCurve("lambda", (0.7, 1.0, 1.3), (0.5, 2.5, 4.5), 0.1)
    assert curve.volts(0.5) == 0.5 and curve.volts(2.0) == 4.5
    assert curve.volts(0.85) == pytest.approx(1.5) and curve.volts(1.15) == pytest.approx(3.5)
    assert curve.volts(math.nan) == 0.1


def test_analog_outputs_follow_lambda_and_afr_and_sit_at_invalid_while_not_valid():
    settings = Settings({"analog.out1_invalid_v": 0.2, "analog.out2_invalid_v": 4.8})
    seen, _ = run_with_ecu(settings, lambda t: None, 14.0)
    out1, out2 = analog_curves(settings)
    for s in seen:
        if s.state == "stopped":
            continue
        if s.lambda_valid:
            # The outputs are updated at analog.update_hz (the telemetry rate), from the same reading.
            assert s.analog_out1_v == pytest.approx(out1.volts(s.lambda_value), abs=0.02)
            assert s.analog_out2_v == pytest.approx(out2.volts(s.afr), abs=0.02)
        elif s.t_s > 0.1:
            assert (s.analog_out1_v, s.analog_out2_v) == (0.2, 4.8)


def test_a_curve_must_increase_named_in_one_line():
    with pytest.raises(SettingsError) as info:
        Settings({"analog.out2_points": 3, "analog.out2_x3": 15.0})
    assert "analog.out2_x3" in str(info.value) and "analog.out2_x2" in str(info.value)


def test_a_frame_that_says_no_withdraws_the_allow_at_once():
    def allow(t):
        return t < 16.0          # allowed from the start, then the ECU says no (engine stopped)

    seen, ctl = run_with_ecu(Settings({"can.heater_allow": "can"}), allow, 17.0)
    assert any(s.lambda_valid for s in seen if s.t_s < 16.0)
    after = [s for s in seen if s.t_s >= 16.0 + 0.06 and s.state != "stopped"]
    assert after and all(s.state == "condensation" for s in after)
    assert all(not s.lambda_valid and s.heater_v <= 2.0 for s in after)
    events = [e for e in ctl.events if e.code == "heater_not_allowed"]
    assert len(events) == 1 and 16.0 <= events[0].t_s <= 16.06
