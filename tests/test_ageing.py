"""Ageing (emulator/ageing.py): Ri rises, Ip gain falls, the response slows, monotonically with age."""

from __future__ import annotations

import math

import pytest

from lambdarig.common.errors import InputError
from lambdarig.emulator.ageing import aged_spec, individual_spec
from lambdarig.emulator.element_spec import load_element
from lambdarig.emulator.fuels import parse_fuel
from lambdarig.emulator.steady import steady_state

GASOLINE = parse_fuel("gasoline", "test")
AGES_H = (0.0, 100.0, 500.0, 1000.0, 5000.0)


def test_ageing_is_monotonic():
    spec = load_element("lsu49")
    states = [steady_state(aged_spec(spec, age), GASOLINE, math.inf) for age in AGES_H]
    tubes = [aged_spec(spec, age).protection_tube.exchange_still_per_s for age in AGES_H]
    for new, old in zip(states, states[1:]):
        assert old.ri_ohm > new.ri_ohm
        assert old.pump_current_a < new.pump_current_a
    assert all(b < a for a, b in zip(tubes, tubes[1:]))
    # The documented rates (lsu49.toml [ageing]): ESR +15 %, Ip -3.9 % per 1000 h.
    assert states[3].ri_ohm / states[0].ri_ohm == pytest.approx(math.exp(0.14), rel=1e-3)
    assert states[3].pump_current_a / states[0].pump_current_a == pytest.approx(math.exp(-0.04), rel=1e-6)


def test_new_element_is_unchanged_and_the_trim_stays():
    spec = load_element("lsu49")
    assert aged_spec(spec, 0.0) == spec
    unit = individual_spec(spec, 4, 0.0)
    old = individual_spec(spec, 4, 2000.0)
    assert old.trim_ohm == unit.trim_ohm and old.unit == 4 and old.age_h == 2000.0


@pytest.mark.parametrize("age", [-1.0, math.nan, math.inf, "x", True, 1e9, 20001.0])
def test_bad_age_is_refused(age):
    with pytest.raises(InputError, match="age_h"):
        aged_spec(load_element("lsu49"), age)   # type: ignore[arg-type]


def test_emulated_rig_builds_the_unit_and_age():
    from lambdarig.emulator.rig import EmulatedRig
    from lambdarig.emulator.scenario import load_scenario

    rig = EmulatedRig("lsu49", load_scenario("default"), unit=3, age_h=250.0)
    assert (rig.spec.unit, rig.spec.age_h) == (3, 250.0) and rig.element.trim_ohm == rig.spec.trim_ohm
    assert EmulatedRig("lsu49", load_scenario("default")).spec.unit is None
