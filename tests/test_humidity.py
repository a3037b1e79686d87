"""Humid air (scenario key humidity_pct): water vapour in the air, less O2, a lower pump current."""

from __future__ import annotations

import math
import statistics

import pytest

from lambdarig.api import simulate
from lambdarig.emulator.constants import O2_IN_DRY_AIR
from lambdarig.emulator.element_spec import load_element
from lambdarig.emulator.errors import EmulatorInputError
from lambdarig.emulator.exhaust import air, exhaust
from lambdarig.emulator.fuels import NAMED_FUELS
from lambdarig.emulator.humidity import o2_in_humid_air, saturation_vapour_pressure_kpa, water_in_air
from lambdarig.emulator.scenario import scenario_from_dict
from lambdarig.emulator.steady import steady_state

GASOLINE = NAMED_FUELS["gasoline"]


def air_scenario(**extra):
    return scenario_from_dict({"duration_s": 30, "ambient_c": 20, "lambda": "air", "gas_temp_c": 20, **extra}, "t")


def test_saturation_pressure_matches_published_values():
    # Alduchov & Eskridge 1996 against the usual table values (IAPWS): 0.6112 kPa at 0 °C,
    # 2.339 kPa at 20 °C, 7.384 kPa at 40 °C; the Magnus form is within 0.4 % there.
    assert saturation_vapour_pressure_kpa(0.0) == pytest.approx(0.61094, rel=1e-12)
    assert saturation_vapour_pressure_kpa(20.0) == pytest.approx(2.339, rel=4e-3)
    assert saturation_vapour_pressure_kpa(40.0) == pytest.approx(7.384, rel=4e-3)


def test_half_humid_air_at_20_c_holds_20_71_percent_o2():
    x_h2o = water_in_air(50.0, 20.0)
    assert x_h2o == pytest.approx(0.01151, abs=1e-5)
    assert 100.0 * o2_in_humid_air(x_h2o) == pytest.approx(20.71, abs=0.01)
    world = air_scenario(humidity_pct=50).world_at(5.0)
    gas = exhaust(world.lambda_value, GASOLINE, air_h2o=world.air_h2o)
    assert 100.0 * gas.o2 == pytest.approx(20.71, abs=0.01)
    assert gas.h2o == x_h2o  # the water is a species of the gas
    assert gas.o2 + gas.h2o + gas.n2 == pytest.approx(1.0, abs=1e-15)


def test_dry_air_is_bit_identical_to_no_key():
    assert water_in_air(0.0, 20.0) == 0.0
    assert air(0.0).as_dict() == air().as_dict()
    assert air().o2 == O2_IN_DRY_AIR
    assert air_scenario(humidity_pct=0).world_at(5.0) == air_scenario().world_at(5.0)
    runs = [simulate("lsu49", air_scenario(**extra), duration_s=5, progress=lambda _: None).samples
            for extra in ({}, {"humidity_pct": 0})]
    assert repr(runs[0]) == repr(runs[1])  # repr: NaN readings compare unequal to themselves


def test_humidity_does_not_touch_exhaust():
    # Combustion products are made from dry air (intake humidity is not modelled): lambda 1.2 is unchanged.
    scenario = scenario_from_dict({"duration_s": 10, "lambda": 1.2, "humidity_pct": 80}, "t")
    world = scenario.world_at(1.0)
    assert exhaust(1.2, GASOLINE, air_h2o=world.air_h2o).as_dict() == exhaust(1.2, GASOLINE).as_dict()


def stefan_ratio(x_humid: float, x_dry: float) -> float:
    """The element's diffusion law for O2 through an inert, with the Stefan flow: I ~ -ln(1 - x_O2)."""
    return math.log(1.0 - x_humid) / math.log(1.0 - x_dry)


def test_steady_pump_current_in_humid_air_falls_with_the_o2():
    spec = load_element("lsu49")
    x_h2o = water_in_air(50.0, 20.0)
    dry = steady_state(spec, GASOLINE, math.inf)
    humid = steady_state(spec, GASOLINE, math.inf, air_h2o=x_h2o)
    ratio = humid.pump_current_a / dry.pump_current_a
    o2_ratio = o2_in_humid_air(x_h2o) / O2_IN_DRY_AIR
    assert ratio == pytest.approx(stefan_ratio(o2_in_humid_air(x_h2o), O2_IN_DRY_AIR), rel=2e-4)
    assert ratio == pytest.approx(o2_ratio, rel=2e-3)  # nearly proportional: the Stefan term is small
    assert humid.o2_pct == pytest.approx(20.71, abs=0.01)


def test_emulated_pump_current_in_a_humid_scenario():
    currents = {}
    for rh in (0, 50):
        samples = simulate("lsu49", air_scenario(humidity_pct=rh), progress=lambda _: None).samples
        tail = [s for s in samples if s["t_s"] >= 25.0]
        currents[rh] = statistics.median(s["true_pump_current_a"] for s in tail)
        assert tail[-1]["true_o2_pct"] == pytest.approx(20.95 if rh == 0 else 20.71, abs=0.01)
    expected = stefan_ratio(o2_in_humid_air(water_in_air(50.0, 20.0)), O2_IN_DRY_AIR)
    assert currents[50] / currents[0] == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("value, allowed", [(-1, "0 to 100 %"), (101, "0 to 100 %"), ("wet", "0 to 100 %")])
def test_bad_humidity_is_a_one_line_input_error(value, allowed):
    with pytest.raises(EmulatorInputError) as info:
        scenario_from_dict({"duration_s": 10, "humidity_pct": value}, "test.toml")
    error = info.value
    assert error.field == "humidity_pct"
    text = str(error)
    assert "\n" not in text and "humidity_pct" in text and allowed in text


def test_misspelt_humidity_key_gets_a_suggestion():
    with pytest.raises(EmulatorInputError) as info:
        scenario_from_dict({"duration_s": 10, "humidity": 50}, "test.toml")
    assert "humidity_pct" in str(info.value)
