"""Production spread (emulator/production.py): reproducible units, the nominal element, untrimmed
units outside the Bosch tolerance, trimmed ones inside it by the parallel-shunt trim law."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from lambdarig.common.errors import InputError
from lambdarig.emulator.element import ElementModel
from lambdarig.emulator.element_spec import load_element
from lambdarig.emulator.fuels import parse_fuel
from lambdarig.emulator.production import corrected_gain, nearest_in_series, unit_spec, unit_values
from lambdarig.emulator.steady import steady_state
from lambdarig.emulator.world import World

GASOLINE = parse_fuel("gasoline", "test")
SHUNT_OHM = 61.9   # CJ125 measuring shunt (reference/lsu49.md §10)
# Bosch MS 4.9 accuracy: lambda -> ± tolerance (reference/lsu49.md §3).
BOSCH_TOLERANCE = {1.016: 0.007, 0.8: 0.01, 1.7: 0.05}
UNITS = range(200)


@pytest.fixture(scope="module")
def lsu49():
    return load_element("lsu49")


def inverse_characteristic(spec):
    """lambda(Ip) of the nominal element near the three tolerance points (the data-sheet curve)."""
    curves = {}
    for lam in BOSCH_TOLERANCE:
        grid = np.linspace(0.75 * lam, 1.5 * lam, 121)
        ip = np.array([steady_state(spec, GASOLINE, float(x)).pump_current_a for x in grid])
        curves[lam] = (ip, grid)
    return curves


def read_lambda(curves, lam, ip_a):
    ip, grid = curves[lam]
    assert ip[0] < ip_a < ip[-1], "reading outside the inverted range"
    return float(np.interp(ip_a, ip, grid))


def test_nominal_is_the_file(lsu49):
    assert unit_spec(lsu49, None) is lsu49
    assert lsu49.trim_ohm is None and lsu49.unit is None


def test_unit_draws_are_reproducible_across_processes(lsu49):
    here = {u: unit_values(lsu49, u) for u in (0, 1, 17, 123456)}
    code = ("import json; from lambdarig.emulator.element_spec import load_element; "
            "from lambdarig.emulator.production import unit_spec, unit_values; s = load_element('lsu49'); "
            "print(json.dumps({u: [unit_values(s, u), unit_spec(s, u).trim_ohm] for u in (0, 1, 17, 123456)}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "12345", "PATH": ""}).stdout
    there = json.loads(out)
    for u, values in here.items():
        assert there[str(u)][0] == values      # same floats, bit for bit
        assert there[str(u)][1] == unit_spec(lsu49, u).trim_ohm
    assert here[0] != here[1]


def test_unit_changes_the_drawn_parameters(lsu49):
    spec = unit_spec(lsu49, 3)
    drawn = unit_values(lsu49, 3)
    assert spec.unit == 3
    assert spec.heater.r_cold_ohm == pytest.approx(drawn["heater_r_cold_ohm"])
    assert spec.nernst_cell.r1_ohm == pytest.approx(lsu49.nernst_cell.r1_ohm * drawn["ri_factor"])
    assert spec.protection_tube.exchange_still_per_s == pytest.approx(
        lsu49.protection_tube.exchange_still_per_s * drawn["tube_factor"])
    air = float("inf")
    ratio = steady_state(spec, GASOLINE, air).pump_current_a / steady_state(lsu49, GASOLINE, air).pump_current_a
    assert ratio == pytest.approx(drawn["ip_gain"], rel=1e-6)
    model = ElementModel(spec, GASOLINE, World(lambda_value=1.0))
    assert model.trim_ohm == spec.trim_ohm
    # Every unit respects Bosch's heater minimum of 1.8 ohm at -40 °C.
    heater = spec.heater
    assert heater.r_lead_ohm + (heater.r_cold_ohm - heater.r_lead_ohm) * (1 - 60 * heater.alpha_per_k) >= 1.79


def test_every_unit_heater_respects_the_bosch_minimum(lsu49):
    for u in UNITS:
        heater = unit_spec(lsu49, u).heater
        # Bosch TPI 2005: at least 1.8 ohm cold at -40 °C, through the element's heater law.
        assert heater.r_lead_ohm + (heater.r_cold_ohm - heater.r_lead_ohm) * (1 - 60 * heater.alpha_per_k) >= 1.79


def test_pressure_constant_spread_covers_60_to_130_kpa(lsu49):
    ks = [unit_values(lsu49, u)["pressure_k_kpa"] for u in UNITS]
    assert 60.0 <= min(ks) < 70.0 and 120.0 < max(ks) <= 130.0


def test_untrimmed_units_outside_and_trimmed_units_inside_the_bosch_tolerance(lsu49):
    curves = inverse_characteristic(lsu49)
    worst_raw = {lam: 0.0 for lam in BOSCH_TOLERANCE}
    worst_trimmed = {lam: 0.0 for lam in BOSCH_TOLERANCE}
    outside = 0
    for u in UNITS:
        spec = unit_spec(lsu49, u)
        assert spec.trim_ohm is not None
        unit_out = False
        for lam, tol in BOSCH_TOLERANCE.items():
            ip = steady_state(spec, GASOLINE, lam).pump_current_a
            raw = read_lambda(curves, lam, ip) - lam
            # The published circuit law: the trim in parallel with the 61.9 ohm shunt.
            trimmed = read_lambda(curves, lam, ip * corrected_gain(1.0, spec.trim_ohm, SHUNT_OHM)) - lam
            worst_raw[lam] = max(worst_raw[lam], abs(raw) / tol)
            worst_trimmed[lam] = max(worst_trimmed[lam], abs(trimmed) / tol)
            unit_out |= abs(raw) > tol
        outside += unit_out
    assert outside > 100                             # most untrimmed units are out of tolerance
    assert worst_raw[1.7] > 3.0 and worst_raw[0.8] > 2.0
    assert max(worst_trimmed.values()) < 0.6         # every trimmed unit well inside it


def test_trim_takes_the_nearest_e24_value():
    assert nearest_in_series(516.0, "E24") == 510.0
    assert nearest_in_series(95.0, "E24") == 91.0
    assert nearest_in_series(97.0, "E24") == 100.0
    assert nearest_in_series(123.4, "exact") == 123.4


@pytest.mark.parametrize("unit", ["x", -1, 1.5, True, "1e3"])
def test_bad_unit_is_refused(lsu49, unit):
    with pytest.raises(InputError, match="unit"):
        unit_spec(lsu49, unit)   # type: ignore[arg-type]


def test_element_without_tolerance_has_no_spread():
    spec = load_element("outer-ref")
    assert unit_spec(spec, 5).unit == 5
    assert unit_spec(spec, 5).diffusion_layers == spec.diffusion_layers
    assert unit_spec(spec, 5).trim_ohm is None


def test_trim_needs_every_unit_above_the_data_sheet(tmp_path):
    from lambdarig.emulator.element_spec import load_element_toml, parse_element

    data = load_element_toml("lsu49")
    data["tolerance"]["ip_gain"]["min"] = 0.95
    with pytest.raises(InputError, match="ip_gain.min"):
        parse_element(data, "test")
