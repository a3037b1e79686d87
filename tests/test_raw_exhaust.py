"""Raw (engine-out) exhaust near lambda 1: O2 next to unburnt CO and H2, not equilibrated. H2 diffuses
~3.6 times faster than O2 (reference/physics.md §3), so more reducer than oxidant reaches the cavity
and the element pumps as if the gas were rich: the lambda-1 reading shifts rich, as on real sensors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from lambdarig.common.errors import InputError
from lambdarig.emulator.element_spec import load_element
from lambdarig.emulator.exhaust import exhaust, lambda_of
from lambdarig.emulator.fuels import parse_fuel
from lambdarig.emulator.scenario import scenario_from_dict
from lambdarig.emulator.steady import steady_state

GASOLINE = parse_fuel("gasoline", "test")


def test_raw_gas_keeps_lambda_and_holds_o2_with_co_and_h2():
    raw = replace(GASOLINE, raw_co_pct=0.6)
    for lam in (0.97, 1.0, 1.03):
        gas = exhaust(lam, raw)
        assert gas.o2 > 0.0 and gas.co > 0.0 and gas.h2 > 0.0
        assert lambda_of(gas, raw) == pytest.approx(lam, abs=1e-12)
    assert exhaust(1.0, raw).co == pytest.approx(0.006, rel=0.01)


def test_raw_exhaust_reads_rich_at_lambda_1():
    spec = load_element("lsu49")
    grid = np.linspace(0.95, 1.05, 101)
    curve = [steady_state(spec, GASOLINE, float(x)).pump_current_a for x in grid]
    shifts = []
    for raw_co_pct in (0.3, 0.6, 1.0):
        ip = steady_state(spec, replace(GASOLINE, raw_co_pct=raw_co_pct), 1.0).pump_current_a
        shifts.append(float(np.interp(ip, curve, grid)) - 1.0)
    assert all(s < 0.0 for s in shifts) and shifts == sorted(shifts, reverse=True)
    assert -0.010 < shifts[1] < -0.005      # 0.6 % CO: about the Bosch ±0.007 at lambda 1.016


def test_scenario_option_and_its_range():
    scenario = scenario_from_dict({"duration_s": 1.0, "raw_co_pct": 0.6}, "test")
    assert scenario.fuel.raw_co_pct == 0.6
    assert scenario_from_dict({"duration_s": 1.0}, "test").fuel.raw_co_pct == 0.0
    with pytest.raises(InputError, match="raw_co_pct"):
        scenario_from_dict({"duration_s": 1.0, "raw_co_pct": 5.0}, "test")
    with pytest.raises(InputError, match="raw_co_pct"):
        scenario_from_dict({"duration_s": 1.0, "raw_co": 0.5}, "test")   # misspelt: nearest named


def test_firmware_reads_raw_exhaust_rich_in_closed_loop():
    import lambdarig

    def final_lambda(raw_co_pct: float) -> float:
        scenario = scenario_from_dict({"name": "raw", "duration_s": 20.0, "lambda": 1.0, "gas_temp_c": 400.0,
                                       "flow_mps": 10.0, "raw_co_pct": raw_co_pct}, "test")
        result = lambdarig.simulate("lsu49", scenario, seed=1, progress=lambda _: None)
        valid = [row["lambda_value"] for row in result.samples if row["lambda_valid"]]
        return float(np.mean(valid[-100:]))

    shift = final_lambda(0.6) - final_lambda(0.0)
    assert -0.012 < shift < -0.004


def test_element_command_takes_raw_co(capsys):
    import json

    from lambdarig.cli import main

    assert main(["element", "lsu49", "--raw-co-pct", "0.6", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["raw_co_pct"] == 0.6 and data["pump_current_a"] < -20e-6
