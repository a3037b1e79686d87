"""The pump loop (controller/pump.py) and heater control (controller/heater.py) as units."""

from __future__ import annotations

import math

import pytest
from controller_helpers import Bench, esr_for_temp

from lambdarig.controller.heater import HeaterControl, TemperatureEstimate
from lambdarig.controller.profiles import load_profile
from lambdarig.controller.pump import PumpLoop
from lambdarig.controller.settings import Settings

DT_PUMP = 0.002
DT_HEATER = 0.05
MIN_A, MAX_A = -9e-3, 6e-3


@pytest.fixture(scope="module")
def profile():
    return load_profile("lsu49")


def pump_loop(kp=0.01, ki=1.0) -> PumpLoop:
    return PumpLoop(kp, ki, 0.45, MIN_A, MAX_A)


# --- pump loop ------------------------------------------------------------------------------


def test_pump_sign():
    rich = pump_loop()
    out = [rich.update(0.55, DT_PUMP) for _ in range(20)]       # Nernst above target: rich
    assert out[0] < 0.0 and all(b < a for a, b in zip(out, out[1:]))
    lean = pump_loop()
    out = [lean.update(0.35, DT_PUMP) for _ in range(20)]       # below target: lean
    assert out[0] > 0.0 and all(b > a for a, b in zip(out, out[1:]))
    held = pump_loop()
    assert all(held.update(0.45, DT_PUMP) == 0.0 for _ in range(50))
    assert rich.saturated == lean.saturated == held.saturated == 0


def test_pump_continuous_time_gains():
    """Same error, same time: the integral moves the same at 500 Hz and at 50 Hz."""
    fast, slow = pump_loop(kp=0.0), pump_loop(kp=0.0)
    for _ in range(500):
        fast.update(0.449, 0.002)
    for _ in range(50):
        slow.update(0.449, 0.02)
    assert fast.output_a == pytest.approx(slow.output_a, rel=1e-9)
    assert fast.output_a == pytest.approx(1.0 * 0.001 * 1.0, rel=1e-9)


@pytest.mark.parametrize("nernst_v, limit", [(0.20, MAX_A), (0.80, MIN_A)])
def test_pump_output_clamped_and_anti_windup(nernst_v, limit):
    loop = pump_loop()
    outputs, integrals = [], []
    for _ in range(5000):                      # 10 s hard against the limit
        outputs.append(loop.update(nernst_v, DT_PUMP))
        integrals.append(loop.integral_a)
    assert all(MIN_A <= o <= MAX_A for o in outputs)
    assert outputs[-1] == limit
    assert loop.saturated == (1 if limit > 0 else -1)
    assert all(MIN_A <= i <= MAX_A for i in integrals)
    # The integral stopped when the output reached the limit: it does not keep winding.
    first = next(k for k, o in enumerate(outputs) if o == limit)
    assert max(abs(i - integrals[first]) for i in integrals[first:]) <= 1e-12
    # The error reverses: the output leaves the limit on the very first update and keeps moving away.
    reversed_v = 0.45 - (nernst_v - 0.45) * 0.2
    after = [loop.update(reversed_v, DT_PUMP) for _ in range(20)]
    assert after[0] != limit and abs(after[0]) < abs(limit)
    assert loop.saturated == 0
    assert all(abs(b) < abs(a) for a, b in zip(after, after[1:]))


def test_pump_anti_windup_small_error_recovers_fast():
    """A long small error at the limit must not leave a stored integral that takes long to unwind."""
    loop = pump_loop()
    for _ in range(50_000):                    # 100 s at a small lean error
        loop.update(0.40, DT_PUMP)
    assert loop.output_a == MAX_A
    steps_to_leave_limit = next((n for n in range(1, 100) if loop.update(0.46, DT_PUMP) < MAX_A), None)
    assert steps_to_leave_limit == 1


def test_pump_reset():
    loop = pump_loop()
    for _ in range(100):
        loop.update(0.2, DT_PUMP)
    loop.reset()
    assert (loop.integral_a, loop.output_a, loop.saturated) == (0.0, 0.0, 0)


# --- heater: warm-up rules ------------------------------------------------------------------


def heater(profile, **changes) -> HeaterControl:
    return HeaterControl(Settings().changed(**changes), profile)


def test_condensation_voltage(profile):
    h = heater(profile)
    assert h.condensation() == 2.0
    assert heater(profile, heater__condensation_v=1.5).condensation() == 1.5
    assert h.off() == 0.0 and h.voltage_v == 0.0


def test_ramp_first_output_at_most_start(profile):
    h = heater(profile)
    h.start_ramp()
    assert h.ramp(DT_HEATER) <= 8.5


def test_ramp_rate_and_caps(profile):
    h = heater(profile)
    h.new_warm_up(math.inf)
    h.start_ramp()
    volts = [h.ramp(DT_HEATER) for _ in range(int(60 / DT_HEATER))]
    assert volts[0] <= 8.5 + 0.4 * DT_HEATER + 1e-12
    steps = [b - a for a, b in zip(volts, volts[1:])]
    assert max(steps) <= 0.4 * DT_HEATER + 1e-12
    assert max(volts) == pytest.approx(13.0) and max(volts) <= 13.0
    # Capped at 13 V while the boost lasts, then at 12 V.
    above = sum(DT_HEATER for v in volts if v > 12.0)
    assert above == pytest.approx(30.0, abs=DT_HEATER + 1e-9)
    assert volts[-1] == 12.0


@pytest.mark.parametrize("rate", [0.4, 0.1, 0.01])
def test_ramp_rate_setting_obeyed(profile, rate):
    h = heater(profile, heater__ramp_rate_v_per_s=rate)
    h.start_ramp()
    volts = [h.ramp(DT_HEATER) for _ in range(200)]
    assert max(b - a for a, b in zip(volts, volts[1:])) <= rate * DT_HEATER + 1e-12
    assert volts[-1] - volts[0] == pytest.approx(rate * DT_HEATER * 199, rel=1e-6)


@pytest.mark.parametrize("dt", [0.01, 0.05, 0.5])
def test_boost_time_accounting(profile, dt):
    """Time above continuous_max_v never exceeds boost_max_s (by at most one heater period)."""
    h = heater(profile, heater__boost_max_s=10.0)
    h.new_warm_up(math.inf)
    h.start_ramp()
    above = 0.0
    for _ in range(int(80 / dt)):
        v = h.ramp(dt)
        assert v <= 13.0
        if v > 12.0:
            above += dt
    assert 10.0 - dt - 1e-9 <= above <= 10.0 + dt + 1e-9
    assert h.voltage_v == 12.0 and h.cap_v() == 12.0
    # The allowance is spent: a second ramp in the same warm-up stays at <= 12 V ...
    h.start_ramp()
    assert max(h.ramp(dt) for _ in range(int(30 / dt))) <= 12.0
    # ... and a new warm-up from cold starts afresh.
    h.new_warm_up(math.inf)
    assert h.cap_v() == 13.0


def test_boost_zero_means_never_above_continuous(profile):
    h = heater(profile, heater__boost_max_s=0.0)
    h.start_ramp()
    assert max(h.ramp(DT_HEATER) for _ in range(400)) <= 12.0


def test_closed_loop_never_above_continuous_max(profile):
    """Closed loop never goes above continuous_max_v, whatever the error."""
    h = heater(profile)
    h.estimate.add_ri(esr_for_temp(profile, 300.0), DT_HEATER)
    h.estimate.update(math.nan, math.nan)
    h.start_closed_loop()
    assert max(h.closed_loop(DT_HEATER) for _ in range(400)) == 12.0


# --- heater: closed loop --------------------------------------------------------------------


def set_temp(h: HeaterControl, profile, temp_c: float) -> None:
    h.estimate.reset()
    h.estimate.add_ri(esr_for_temp(profile, temp_c), DT_HEATER)
    assert h.estimate.update(math.nan, math.nan) == pytest.approx(temp_c, abs=1e-6)


def test_closed_loop_at_target_gives_feedforward(profile):
    h = heater(profile)
    set_temp(h, profile, 780.0)
    h.start_closed_loop()
    assert h.closed_loop(DT_HEATER) == pytest.approx(7.5, abs=1e-6)
    # Hotter: less voltage; colder: more.
    set_temp(h, profile, 790.0)
    assert h.closed_loop(DT_HEATER) < 7.5
    set_temp(h, profile, 770.0)
    h.start_closed_loop()
    assert h.closed_loop(DT_HEATER) > 7.5


@pytest.mark.parametrize("temp_c, bound", [(400.0, 12.0), (1000.0, 0.0)])
def test_closed_loop_output_bounds_and_anti_windup(profile, temp_c, bound):
    h = heater(profile)
    set_temp(h, profile, temp_c)
    h.start_closed_loop()
    outs, integrals = [], []
    for _ in range(2000):                          # 100 s saturated
        outs.append(h.closed_loop(DT_HEATER))
        integrals.append(h.integral_v)
    assert all(0.0 <= v <= 12.0 for v in outs)
    assert outs[-1] == bound
    assert all(abs(i) <= 4.0 + 1e-12 for i in integrals)
    # The integral did not wind while saturated (it stays at what it was when the output saturated).
    first = next(k for k, v in enumerate(outs) if v == bound)
    assert max(abs(i - integrals[first]) for i in integrals[first:]) <= 1e-12
    # The error reverses (5 K past the target): the output leaves the bound at once.
    set_temp(h, profile, 785.0 if temp_c < 780.0 else 775.0)
    after = h.closed_loop(DT_HEATER)
    assert after != bound and 0.0 < after < 12.0


def test_closed_loop_integral_stops_where_output_saturates(profile):
    """10 K cold with kp 0.3 V/K: P gives 10.5 V, so the integral may only grow to ~1.5 V (the 12 V
    cap), not to its 4 V clamp; when the cell then overshoots the output comes off the cap at once."""
    h = heater(profile, heater__kp_v_per_k=0.3, heater__ki_v_per_k_s=0.3)
    set_temp(h, profile, 770.0)
    h.start_closed_loop()
    for _ in range(400):                           # 20 s
        h.closed_loop(DT_HEATER)
    assert h.voltage_v == 12.0
    assert h.integral_v == pytest.approx(1.5, abs=0.3 * 10.0 * DT_HEATER + 1e-9)
    set_temp(h, profile, 781.0)
    assert h.closed_loop(DT_HEATER) < 9.5


def test_closed_loop_integral_clamped(profile):
    h = heater(profile, heater__kp_v_per_k=0.0, heater__ki_v_per_k_s=1.0, heater__integral_limit_v=2.0)
    set_temp(h, profile, 770.0)                    # small error: the output never saturates
    h.start_closed_loop()
    for _ in range(2000):
        h.closed_loop(DT_HEATER)
    assert h.integral_v == pytest.approx(2.0)
    assert h.voltage_v == pytest.approx(9.5)


def test_closed_loop_respects_lower_continuous_max(profile):
    h = heater(profile, heater__continuous_max_v=10.0, heater__feedforward_v=7.5)
    set_temp(h, profile, 500.0)
    h.start_closed_loop()
    assert max(h.closed_loop(DT_HEATER) for _ in range(200)) == 10.0


# --- duty ----------------------------------------------------------------------------------


@pytest.mark.parametrize("volts, supply", [(2.0, 13.5), (8.5, 13.5), (12.0, 14.2), (7.5, 11.0), (3.3, 9.0)])
def test_duty_is_rms_correct(volts, supply):
    duty = HeaterControl.duty_for(volts, supply)
    assert duty == pytest.approx((volts / supply) ** 2, rel=1e-12)
    assert supply * math.sqrt(duty) == pytest.approx(volts, rel=1e-12)


def test_duty_limits_and_missing_supply():
    assert HeaterControl.duty_for(13.0, 12.0) == 1.0        # cannot exceed 100 %
    assert HeaterControl.duty_for(0.0, 13.5) == 0.0
    assert HeaterControl.duty_for(-1.0, 13.5) == 0.0
    for supply in (math.nan, 0.0, -5.0, 0.5):
        assert HeaterControl.duty_for(8.0, supply) == 0.0


# --- temperature estimate -------------------------------------------------------------------


def test_temperature_from_ri_filtered(profile):
    est = TemperatureEstimate(profile, 0.05, use_heater=False)
    assert math.isnan(est.update(math.nan, math.nan))
    est.add_ri(300.0, 0.002)
    assert est.update(math.nan, math.nan) == pytest.approx(780.0)
    est.add_ri(math.nan, 0.002)          # missing Ri: ignored
    est.add_ri(math.inf, 0.002)
    est.add_ri(0.0, 0.002)
    assert est.update(math.nan, math.nan) == pytest.approx(780.0)
    for _ in range(500):                  # 1 s of a step to 250 ohm through the 50 ms filter
        est.add_ri(250.0, 0.002)
    assert est.update(math.nan, math.nan) == pytest.approx(806.0, abs=0.1)


def test_cold_cell_reads_cold(profile):
    """Beyond the ESR table a cold cell must read cold (end segments extrapolated)."""
    assert profile.temp_from_esr(1e5) < 400.0
    assert profile.temp_from_esr(1e7) == -40.0
    assert profile.temp_from_esr(10.0) == 1300.0 or profile.temp_from_esr(10.0) > 1030.0
    assert math.isnan(profile.temp_from_esr(math.nan)) and math.isnan(profile.temp_from_esr(0.0))


def test_esr_at_inverse_of_temp_from_esr_everywhere(profile):
    for temp_c in (20.0, 300.0, 499.0, 1100.0):
        assert profile.temp_from_esr(profile.esr_at(temp_c)) == pytest.approx(temp_c, abs=0.5)


def test_esr_at_inverse_inside_table(profile):
    for temp_c in range(500, 1031, 10):
        assert profile.temp_from_esr(profile.esr_at(temp_c)) == pytest.approx(temp_c, abs=1e-6)


# --- the loops inside the controller -------------------------------------------------------------


def test_controller_heater_closed_loop_settles_on_target():
    bench = Bench()
    bench.to_closed_loop()
    bench.run_for(20.0)
    st = bench.ctl.status()
    assert st.temp_c == pytest.approx(780.0, abs=2.0)
    assert 0.0 < st.heater_v <= 12.0
    assert bench.ctl.events == []
    # A colder environment: more voltage, still on target, never above 12 V.
    bench.ambient_c = -200.0
    bench.run_for(30.0)
    st = bench.ctl.status()
    assert st.temp_c == pytest.approx(780.0, abs=5.0)
    assert st.heater_v <= 12.0
    assert max(d for _, s, _, d in bench.log if s == "CLOSED_LOOP") <= (12.0 / 13.5) ** 2 + 1e-12
