"""AnalogBoard.advance: the drive of the pump and the heater in every case.

Over random element states, commands, supplies and faults, the board's outputs after advance() must
be those of _settle_pump and _settle_heater on a twin taken before it, bit for bit (so advance()
drives the element with what the readable settle methods give, in the built board too). The
saturated pump (_saturate_pump, a safeguarded Newton on element.pump_voltage) must land where
element.pump_voltage meets the compliance rail, within the solver's 1e-7 V (or 1e-12 A where a cold
cell makes V(I) steeper).
"""

from __future__ import annotations

import copy
import math
from collections import Counter

import numpy as np
import pytest

from lambdarig.emulator.board import AnalogBoard, BoardSpec
from lambdarig.emulator.rig import EmulatedRig
from lambdarig.emulator.scenario import load_scenario
from lambdarig.emulator.world import Faults

OUTPUTS = ("pump_actual_a", "pump_drive_v", "heater_terminal_v", "heater_element_v", "heater_current_a")


def twin_of(board: AnalogBoard) -> AnalogBoard:
    twin = copy.copy(board)
    twin.element = copy.copy(board.element)
    return twin


def random_faults(rng: np.random.Generator) -> Faults:
    if rng.random() < 0.6:
        return Faults()
    return Faults(heater_open=bool(rng.random() < 0.3), heater_short=bool(rng.random() < 0.3),
                  pump_open=bool(rng.random() < 0.3))


@pytest.mark.parametrize("element", ["lsu49", "hc-mixed", "sealed-ref", "outer-ref"])
def test_advance_drives_as_the_readable_settle_methods(element):
    rng = np.random.default_rng(sum(map(ord, element)) + 7)
    rig = EmulatedRig(element, load_scenario("cold-start"), board=BoardSpec(pump_compliance_v=1.2), seed=1)
    board = rig.board
    world = rig.world
    taken: Counter[str] = Counter()
    for n in range(3000):
        if rng.random() < 0.05:
            world = load_scenario("rich-sweep").world_at(float(rng.uniform(0.0, 60.0)))
        board.set_pump_current(float(rng.choice([0.0, rng.uniform(-10e-3, 10e-3), rng.normal(0.0, 3e-4)])))
        board.set_heater_duty(float(rng.choice([0.0, rng.uniform(0.0, 1.0), 1.0])))
        supply_v = float(rng.choice([13.5, rng.uniform(5.0, 16.0), 60.0]))   # 60 V: the current limit
        faults = random_faults(rng)
        twin = twin_of(board)
        board.advance(0.002, world, supply_v, faults)

        twin.faults, twin.supply_v = faults, supply_v
        twin._settle_pump(faults)
        twin._settle_heater(supply_v, faults)
        fused = [getattr(board, name) for name in OUTPUTS]
        readable = [getattr(twin, name) for name in OUTPUTS]
        assert fused == readable, (n, dict(zip(OUTPUTS, zip(fused, readable))))

        if board.pump_drive_v in (board.spec.pump_compliance_v, -board.spec.pump_compliance_v) \
                and board.pump_actual_a != board.pump_command_a and not faults.pump_open:
            # Saturated: the current the rail lets through (unless the cell's own EMF is past the rail).
            taken["saturated"] += 1
            current, rail = board.pump_actual_a, board.pump_drive_v
            needed_v = twin.element.pump_voltage(current)
            # Within the solver's 1e-7 V, or (a cold cell, V(I) too steep for that) within its 1e-12 A.
            straddles = ((twin.element.pump_voltage(current - 1e-12) - rail)
                         * (twin.element.pump_voltage(current + 1e-12) - rail) <= 0.0)
            assert current == 0.0 or abs(needed_v - rail) < 1e-7 or straddles, (n, current, needed_v, rail)
        elif faults.pump_open:
            taken["pump open"] += 1
        else:
            taken["pump within compliance"] += 1
        if faults.heater_open or faults.heater_short:
            taken["heater fault"] += 1
        elif board.heater_duty > 0.0:
            r = twin.element.heater_r_ohm
            taken["heater current limit" if supply_v / r > board.spec.heater_current_limit_a else "heater PWM"] += 1
        else:
            taken["heater off"] += 1
        taken[f"{element} step"] += 1
        if rng.random() < 0.01:
            # a hot element: the pump cell conducts, so a big command saturates rather than flows
            board.element.cell_temp_k = board.element.heater_temp_k = float(rng.uniform(900.0, 1150.0))
    expected = {"pump within compliance", "pump open", "heater fault", "heater PWM", "heater off",
                "heater current limit"}
    if board.element.spec.pump_cell is not None:
        expected.add("saturated")
    assert expected <= set(taken), f"branches never taken: {sorted(expected - set(taken))}"
    assert not math.isnan(board.element.cell_temp_k)
