"""The Bosch LSU 4.9 heater rules over whole warm-ups, as applied to the (emulated) board:
condensation <= 2 V, ramp start <= 8.5 V, <= 0.4 V/s, <= 13 V, > 12 V for at most 30 s.

V_eff = supply * sqrt(duty) of every applied command (see SimRun.v_eff for which supply)."""

from __future__ import annotations

import math

import pytest
from controller_helpers import Bench, builtin_run

from lambdarig.controller.settings import Settings

RATE = 0.4
TOL = 1e-9


@pytest.fixture(scope="module")
def cold_start():
    run = builtin_run("default")
    assert run.result.time_to_ready_s is not None
    return run


def heater_tick_s(settings: Settings) -> float:
    return 1.0 / min(settings.rates.heater_hz, settings.rates.pump_hz)


def test_sequence_seen(cold_start):
    states = []
    for a in cold_start.applied:
        if not states or states[-1] != a.state:
            states.append(a.state)
    assert states[:4] == ["WAIT_SUPPLY", "CONDENSATION", "RAMP", "CLOSED_LOOP"]
    assert states[-1] in ("CLOSED_LOOP", "STOPPED")


def test_condensation_at_most_2_v(cold_start):
    volts = [v for _, s, v in cold_start.v_eff() if s == "CONDENSATION"]
    assert volts and max(volts) <= 2.0 + TOL
    assert min(volts) > 1.9          # and it does heat gently (not off)


def test_first_ramp_value_at_most_8_5_v(cold_start):
    first = next(v for _, s, v in cold_start.v_eff() if s == "RAMP")
    assert first <= 8.5 + TOL


def test_first_ramp_value_within_one_tick_of_8_5_v(cold_start):
    first = next(v for _, s, v in cold_start.v_eff() if s == "RAMP")
    assert 8.0 <= first <= 8.5 + RATE * 0.05 + TOL


def test_ramp_rate_at_most_0_4_v_per_s(cold_start):
    """Over any interval within RAMP: V(t2) - V(t1) <= 0.4 * (t2 - t1) + one heater tick's step."""
    ramp = [(t, v) for t, s, v in cold_start.v_eff() if s == "RAMP"]
    assert len(ramp) > 100
    lowest = math.inf                       # min over t1 <= t2 of V(t1) - 0.4 t1
    worst = -math.inf
    for t, v in ramp:
        lowest = min(lowest, v - RATE * t)
        worst = max(worst, (v - RATE * t) - lowest)
    assert worst <= RATE * 0.05 + TOL
    # It really ramps (not stuck at the start value).
    assert ramp[-1][1] - ramp[0][1] > 1.0


def test_never_above_13_v_and_boost_at_most_30_s(cold_start):
    veff = cold_start.v_eff()
    assert max(v for _, _, v in veff) <= 13.0 + TOL
    above = 0.0
    for (t0, _, v), (t1, _, _) in zip(veff, veff[1:]):
        if v > 12.0 + TOL:
            above += t1 - t0
    assert above <= 30.0
    closed = [v for _, s, v in veff if s == "CLOSED_LOOP"]
    assert closed and max(closed) <= 12.0 + TOL


def test_board_duty_matches_command(cold_start):
    """The board holds the commanded duty (to its 12-bit resolution)."""
    for a in cold_start.applied:
        assert abs(a.board_duty - min(a.duty_cmd, 1.0)) <= 1.0 / 4096


# --- a cell that never heats: the boost allowance is the only limit --------------------------------


def cold_bench_veff(settings: Settings, seconds: float) -> list[tuple[float, str, float]]:
    bench = Bench(settings=settings)
    bench.hold_temp = 20.0                      # the cell never heats: the ramp runs to its caps
    bench.run_for(seconds)
    return [(t, s, bench.supply_v * math.sqrt(d)) for t, s, _, d in bench.log]


def time_above(veff, volts: float) -> float:
    return sum(t1 - t0 for (t0, _, v), (t1, _, _) in zip(veff, veff[1:]) if v > volts + TOL)


def test_boost_limited_to_30_s_when_the_cell_does_not_heat():
    s = Settings({"heater.heat_timeout_s": 120.0})
    veff = cold_bench_veff(s, 125.0)
    assert max(v for _, _, v in veff) == pytest.approx(13.0)
    assert time_above(veff, 12.0) <= 30.0 + heater_tick_s(s) + 1e-6
    assert time_above(veff, 12.0) >= 29.0
    assert max(v for t, _, v in veff if t > 60.0) <= 12.0 + TOL


@pytest.mark.parametrize("pump_hz, heater_hz", [
    (500.0, 20.0),
    (100.0, 100.0),
    (2000.0, 2.0),
    (50.0, 100.0),
])
def test_heater_rules_hold_for_any_rates(pump_hz, heater_hz):
    s = Settings({"rates.pump_hz": pump_hz, "rates.heater_hz": heater_hz, "heater.heat_timeout_s": 120.0})
    veff = cold_bench_veff(s, 125.0)
    tick = heater_tick_s(s)
    assert max(v for _, _, v in veff) <= 13.0 + TOL
    assert max(v for _, st, v in veff if st == "CONDENSATION") <= 2.0 + TOL
    ramp = [(t, v) for t, st, v in veff if st == "RAMP"]
    lowest, worst = math.inf, -math.inf
    for t, v in ramp:
        lowest = min(lowest, v - RATE * t)
        worst = max(worst, v - RATE * t - lowest)
    assert worst <= RATE * tick + TOL
    assert time_above(veff, 12.0) <= 30.0 + tick + 1e-6


@pytest.mark.parametrize("unit", [12, 33])
def test_high_resistance_adv_heaters_learn_their_cold_resistance(unit):
    """LSU ADV units 12 and 33 have heaters of 3.55-3.67 Ω cold. The ADV's ESR table ends at 528 °C,
    so a cold cell's Ri extrapolates to ~275 °C: the firmware must still see the cell as cold, learn
    this unit's cold resistance, and not read its heater as overheated (was: overtemp faults)."""
    import lambdarig

    result = lambdarig.simulate("lsu-adv", unit=unit, duration_s=20, keep_samples=False)
    assert result.summary["faults"] == []
    assert result.summary["time_to_ready_s"] is not None
