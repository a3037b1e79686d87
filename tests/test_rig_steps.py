"""EmulatedRig.advance_to: the integration steps it takes (rig.py; built as an extension type too)."""

from __future__ import annotations

import pytest

from lambdarig.emulator.rig import EmulatedRig
from lambdarig.emulator.scenario import load_scenario


@pytest.fixture
def rig():
    return EmulatedRig("lsu49", load_scenario("default"), seed=3, max_step_s=0.002)


def test_a_long_wait_is_split_into_equal_steps_of_at_most_max_step(rig):
    rig.advance_to(0.0101)                        # 5.05 steps: six of 1.683 ms
    assert rig.t_s == 0.0101
    assert rig._last_step_s == pytest.approx(0.0101 / 6)


def test_a_remainder_of_picoseconds_is_one_step(rig):
    rig.advance_to(0.002)
    heater_before = rig.element.heater_temp_k
    rig.apply(heater_duty=1.0)
    rig.advance_to(0.002 + 1e-12)                  # rounds to no step: still one, of 1 ps
    assert rig.t_s == 0.002 + 1e-12
    assert rig._last_step_s == pytest.approx(1e-12, rel=1e-3)
    assert rig.element.heater_temp_k >= heater_before


def test_going_back_in_time_does_nothing(rig):
    rig.advance_to(0.004)
    state = (rig.t_s, rig.element.cell_temp_k, rig.board.pump_actual_a)
    rig.advance_to(0.001)
    rig.advance_to(0.004)
    assert (rig.t_s, rig.element.cell_temp_k, rig.board.pump_actual_a) == state
