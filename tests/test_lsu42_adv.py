"""The Bosch LSU 4.2 and LSU ADV elements: load, their published operating points, the trim resistor
(4.2: per unit; ADV: none), and the firmware reaching closed loop on each with its published profile."""

from __future__ import annotations

import math

import pytest

import lambdarig
from lambdarig.emulator.element_spec import load_element
from lambdarig.emulator.fuels import parse_fuel
from lambdarig.emulator.production import unit_spec
from lambdarig.emulator.steady import steady_state

GASOLINE = parse_fuel("gasoline", "test")


@pytest.mark.parametrize(("name", "ri_ohm", "temp_c"), [("lsu42", 80.0, 750.0), ("lsu-adv", 300.0, 785.0)])
def test_operating_point_is_the_published_one(name, ri_ohm, temp_c):
    spec = load_element(name)
    state = steady_state(spec, GASOLINE, math.inf)
    assert spec.operating_temp_c == temp_c
    assert state.ri_ohm == pytest.approx(ri_ohm, rel=0.03)      # rusEFI tables (reference/lsu49.md §6)


def test_lsu42_units_have_a_trim_and_the_adv_has_none():
    assert unit_spec(load_element("lsu42"), 1).trim_ohm is not None
    adv = load_element("lsu-adv")
    assert adv.trim_ohm is None and all(unit_spec(adv, u).trim_ohm is None for u in range(20))
    assert load_element("lsu42").reference.kind == "air"     # air duct (reference/lsu49.md §8)


def test_adv_is_less_pressure_sensitive_than_the_lsu49():
    def rise(name):
        spec = load_element(name)
        return (steady_state(spec, GASOLINE, 1.5, pressure_kpa=150.0).pump_current_a
                / steady_state(spec, GASOLINE, 1.5).pump_current_a)
    assert 1.0 < rise("lsu-adv") < rise("lsu49")


@pytest.mark.parametrize("name", ["lsu42", "lsu-adv"])
def test_firmware_reaches_closed_loop(name):
    result = lambdarig.simulate(name, duration_s=20.0, seed=1, keep_samples=True, progress=lambda _: None)
    assert result.summary["faults"] == [] and result.summary["time_to_ready_s"] < 16.0
    valid = [row for row in result.samples if row["lambda_valid"]]
    assert valid and abs(valid[-1]["lambda_value"] - valid[-1]["true_lambda_value"]) < 0.01
