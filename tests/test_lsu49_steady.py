"""LSU 4.9 steady-state acceptance figures (Bosch Ip-lambda table, lean O2 law, rusEFI ESR table,
heater data; the diffusion pressure law).

At 780 °C, 101.325 kPa, gasoline (H/C 1.85). The reference numbers come from
tests/data/lsu49_reference.toml (read here only; the emulator never reads it).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from pathlib import Path

import pytest

from lambdarig.emulator.constants import ZERO_C_IN_K
from lambdarig.emulator.element import ElementModel
from lambdarig.emulator.element_spec import load_element
from lambdarig.emulator.fuels import NAMED_FUELS
from lambdarig.emulator.steady import steady_state
from lambdarig.emulator.transport import knudsen_pressure_k_kpa
from lambdarig.emulator.world import World

REFERENCE = tomllib.loads((Path(__file__).parent / "data" / "lsu49_reference.toml").read_text(encoding="utf-8"))
BOSCH_POINTS = list(zip(REFERENCE["bosch_lambda"], REFERENCE["bosch_ip_ma"]))
ESR_POINTS = sorted(zip(REFERENCE["esr_temp_c"], REFERENCE["esr_ohm"]))
GASOLINE = NAMED_FUELS["gasoline"]
P0_KPA = 101.325
OPERATING_K = 780.0 + ZERO_C_IN_K
AIR_O2 = 0.2095


@pytest.fixture(scope="module")
def spec():
    return load_element("lsu49")


def test_reference_data_is_the_24_point_table():
    assert len(BOSCH_POINTS) == 24
    assert len(ESR_POINTS) == 16


# --- pump current -------------------------------------------------------------------------------

@pytest.mark.parametrize("lambda_value,ip_ma", BOSCH_POINTS, ids=[f"lambda={lam}" for lam, _ in BOSCH_POINTS])
def test_pump_current_matches_bosch_table(spec, lambda_value, ip_ma):
    state = steady_state(spec, GASOLINE, lambda_value)
    assert state.temp_c == 780.0 and state.pressure_kpa == P0_KPA
    assert state.nernst_v == pytest.approx(0.45, abs=1e-6)  # the ideal loop holds the target
    tolerance_ma = max(0.010, 0.015 * abs(ip_ma))
    got_ma = state.pump_current_a * 1e3
    assert abs(got_ma - ip_ma) <= tolerance_ma, \
        f"lambda {lambda_value}: Ip {got_ma:.4f} mA, Bosch {ip_ma:.3f} mA (tolerance {tolerance_ma * 1e3:.1f} µA)"


def test_pump_current_in_air(spec):
    state = steady_state(spec, GASOLINE, math.inf)
    assert state.pump_current_a == pytest.approx(2.54e-3, rel=0.01)
    assert state.o2_pct == pytest.approx(20.95, abs=1e-6)


def test_pump_current_rises_with_lambda(spec):
    lambdas = [0.65 + 0.01 * i for i in range(36)] + [1.0 + 0.05 * i for i in range(1, 181)]
    currents = [steady_state(spec, GASOLINE, lam).pump_current_a for lam in lambdas]
    currents.append(steady_state(spec, GASOLINE, math.inf).pump_current_a)
    assert all(b > a for a, b in zip(currents, currents[1:]))
    # The zero crossing is at stoichiometry (table: 1.003, model: 1.000 within the residual).
    crossing = next(lam for lam, ip in zip(lambdas, currents) if ip > 0.0)
    assert 0.99 < crossing <= 1.01


def _lean_lambdas() -> list[float]:
    # 1.05 .. 10, log-spaced, plus the Bosch lean points in that range.
    grid = [1.05 * (10.0 / 1.05) ** (i / 40.0) for i in range(41)]
    return sorted(set(grid) | {lam for lam, _ in BOSCH_POINTS if 1.05 <= lam <= 10.0})


def test_lean_o2_follows_the_diffusion_law(spec):
    """x_O2 = 1 - (1 - 0.2095)^(Ip/Ip_air) (the lean diffusion law) with the element's own air current."""
    ip_air = steady_state(spec, GASOLINE, math.inf).pump_current_a
    worst = 0.0
    for lam in _lean_lambdas():
        state = steady_state(spec, GASOLINE, lam)
        law_pct = 100.0 * (1.0 - (1.0 - AIR_O2) ** (state.pump_current_a / ip_air))
        assert law_pct == pytest.approx(state.o2_pct, abs=0.1), f"lambda {lam:.3f}"
        worst = max(worst, abs(law_pct - state.o2_pct))
    # A linear law misfits by up to 12 % near air: the element must not be linear.
    state = steady_state(spec, GASOLINE, 5.391)
    linear_pct = 100.0 * AIR_O2 * state.pump_current_a / ip_air
    assert abs(linear_pct - state.o2_pct) > 0.3  # three times the tolerance above
    print(f"worst deviation from the lean law: {worst:.4f} %-points")


# --- Ri -------------------------------------------------------------------------------------------

def test_ri_at_operating_point(spec):
    state = steady_state(spec, GASOLINE, 1.0)
    assert state.ri_ohm == pytest.approx(300.0, rel=0.03)


def _esr_checkpoints() -> list[tuple[float, float]]:
    in_range = [(t, r) for t, r in ESR_POINTS if 650.0 <= t <= 950.0]
    midpoints = [((t1 + t2) / 2.0, (r1 + r2) / 2.0) for (t1, r1), (t2, r2) in zip(in_range, in_range[1:])]
    return sorted(in_range + midpoints)


@pytest.mark.parametrize("temp_c,esr_ohm", _esr_checkpoints(), ids=lambda v: f"{v:g}")
def test_ri_follows_esr_table(spec, temp_c, esr_ohm):
    state = steady_state(spec, GASOLINE, 1.0, temp_c=temp_c)
    assert state.ri_ohm == pytest.approx(esr_ohm, rel=0.05), f"{temp_c} °C: {state.ri_ohm:.1f} Ω vs {esr_ohm} Ω"


def test_esr_checkpoints_cover_the_range():
    points = _esr_checkpoints()
    assert len(points) == 19  # 10 table points in 650..950 °C and 9 midpoints
    assert points[0][0] == 665.0 and points[-1][0] == 888.0


def test_ri_falls_with_temperature_at_about_table_slope(spec):
    model = ElementModel(spec, GASOLINE, World(1.0))
    slope = (model.ri_at(OPERATING_K + 1.0) - model.ri_at(OPERATING_K - 1.0)) / 2.0
    assert -2.8 < slope < -1.8  # rusEFI ESR table: about -2.3 Ω/K at 300 Ω


# --- heater ---------------------------------------------------------------------------------------

def test_heater_resistance_cold(spec):
    model = ElementModel(spec, GASOLINE, World(math.inf, ambient_c=20.0, gas_temp_c=20.0))
    assert model.temp_c == pytest.approx(20.0)
    assert model.heater_r_ohm == pytest.approx(3.2, abs=0.1)
    assert model.heater_resistance_at(20.0 + ZERO_C_IN_K) == pytest.approx(3.2, abs=0.1)


def test_heater_power_to_hold_operating_point_in_still_air(spec):
    state = steady_state(spec, GASOLINE, math.inf, gas_temp_c=20.0)
    assert state.heater_power_w == pytest.approx(7.5, abs=0.3)
    # 7.5 V, 7.5 W in air at equilibrium -> about 7.5 Ω hot (Bosch heater data)
    assert state.heater_r_ohm == pytest.approx(7.5, rel=0.05)
    assert state.heater_v == pytest.approx(math.sqrt(state.heater_power_w * state.heater_r_ohm), rel=1e-9)


def test_hot_gas_lowers_heater_power(spec):
    cold_gas = steady_state(spec, GASOLINE, 1.0, gas_temp_c=20.0).heater_power_w
    hot_gas = steady_state(spec, GASOLINE, 1.0, gas_temp_c=600.0).heater_power_w
    assert 0.0 < hot_gas < 0.6 * cold_gas


# --- pressure -------------------------------------------------------------------------------------

PRESSURES_KPA = [60.0 + 10.0 * i for i in range(20)]  # 60 .. 250 kPa


def _pressure_law(p_kpa: float, k_kpa: float, p0_kpa: float = P0_KPA) -> float:
    """Pressure law (Knudsen and molecular diffusion in series, derived): Ip(p)/Ip(p0) = [p/(k + p)]·[(k + p0)/p0]."""
    return p_kpa / (k_kpa + p_kpa) * (k_kpa + p0_kpa) / p0_kpa


def _with_pore(spec, pore_um: float):
    layers = tuple(dataclasses.replace(layer, pore_diameter_um=pore_um) for layer in spec.diffusion_layers)
    return dataclasses.replace(spec, diffusion_layers=layers)


@pytest.mark.parametrize("lambda_value", [1.5, 0.8])
def test_pump_current_magnitude_rises_with_pressure(spec, lambda_value):
    magnitudes = [abs(steady_state(spec, GASOLINE, lambda_value, pressure_kpa=p).pump_current_a)
                  for p in PRESSURES_KPA]
    assert all(b > a for a, b in zip(magnitudes, magnitudes[1:]))


@pytest.mark.parametrize("lambda_value", [1.5, 0.8])
def test_pressure_sensitivity_follows_knudsen_law(spec, lambda_value):
    assert len(spec.diffusion_layers) == 1
    k_kpa = knudsen_pressure_k_kpa(spec.diffusion_layers[0].pore_diameter_um, OPERATING_K)
    assert 30.0 < k_kpa < 140.0  # derived: 0.6..1.3 bar for 1..0.5 µm pores
    ip0 = steady_state(spec, GASOLINE, lambda_value).pump_current_a
    for p in PRESSURES_KPA:
        ratio = steady_state(spec, GASOLINE, lambda_value, pressure_kpa=p).pump_current_a / ip0
        assert ratio == pytest.approx(_pressure_law(p, k_kpa), rel=0.02), f"lambda {lambda_value}, {p} kPa"


@pytest.mark.parametrize("lambda_value", [1.5, 0.8])
def test_larger_pores_mean_less_pressure_sensitivity(spec, lambda_value):
    sensitivities = []
    for pore_um in (0.3, 0.8, 2.0, 10.0):
        changed = _with_pore(spec, pore_um)
        ip0 = steady_state(changed, GASOLINE, lambda_value).pump_current_a
        ip200 = steady_state(changed, GASOLINE, lambda_value, pressure_kpa=200.0).pump_current_a
        sensitivity = ip200 / ip0 - 1.0
        k_kpa = knudsen_pressure_k_kpa(pore_um, OPERATING_K)
        assert ip200 / ip0 == pytest.approx(_pressure_law(200.0, k_kpa), rel=0.02), f"{pore_um} µm"
        sensitivities.append(sensitivity)
    assert all(b < a for a, b in zip(sensitivities, sensitivities[1:])), sensitivities
    assert sensitivities[0] > 2.0 * sensitivities[-1]
