"""Scenario loader: built-ins, interpolation, faults, and every kind of bad input."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from lambdarig.emulator.errors import EmulatorInputError
from lambdarig.emulator.fuels import NAMED_FUELS
from lambdarig.emulator.scenario import builtin_path, builtin_scenarios, load_scenario, scenario_from_dict
from lambdarig.emulator.world import FAULT_KINDS, NO_FAULTS, World

EXPECTED_BUILTINS = {"default", "cold-start", "lambda-sweep", "step-response", "exhaust-swings",
                     "pressure", "faults", "free-air"}
DOCS = Path(__file__).resolve().parent.parent / "docs" / "scenarios.md"


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def build(**data):
    data.setdefault("duration_s", 60)
    return scenario_from_dict(data, "test")


def bad(data: dict) -> EmulatorInputError:
    with pytest.raises(EmulatorInputError) as info:
        scenario_from_dict({"duration_s": 60, **data}, "test.toml")
    assert info.value.source == "test.toml"
    return info.value


# -- built-ins -----------------------------------------------------------------------------------


def test_builtin_list_has_every_scenario_with_a_description():
    found = builtin_scenarios()
    assert EXPECTED_BUILTINS <= set(found)
    for name, description in found.items():
        assert description and "\n" not in description, name
        assert builtin_path(name).is_file()


@pytest.mark.parametrize("name", sorted(EXPECTED_BUILTINS))
def test_every_builtin_loads_and_stays_inside_its_duration(name):
    scenario = load_scenario(name)
    assert scenario.name == name
    assert scenario.source == f"scenario {name}"
    assert builtin_path(name).read_text(encoding="utf-8").startswith("#"), "needs a comment header"
    assert all(0.0 <= t <= scenario.duration_s for t in scenario.change_times())
    assert all(0.0 <= t <= scenario.duration_s for t, _ in scenario.lambda_steps())
    for window in scenario.fault_windows:
        assert window.off_s <= scenario.duration_s
    world = scenario.world_at(scenario.duration_s / 2)
    assert isinstance(world, World) and world.ambient_c == scenario.ambient_c


def test_default_scenario_follows_the_demo_script():
    scenario = load_scenario("default")
    assert scenario.duration_s == 60
    assert scenario.fuel is NAMED_FUELS["gasoline"]
    start = scenario.world_at(0.0)
    assert (start.gas_temp_c, start.flow_mps, start.supply_v, start.ambient_c) == (350, 10, 13.5, 20)
    assert scenario.lambda_steps() == [(0.0, 1.0), (25.0, 0.8), (32.0, 1.2), (43.0, 2.0), (47.0, 0.9),
                                       (53.0, math.inf), (57.0, 1.0)]
    assert scenario.world_at(40.5).lambda_value == pytest.approx(1.6)


def test_builtin_path_of_a_file_loads_with_the_path_as_source():
    path = builtin_path("free-air")
    scenario = load_scenario(str(path))
    assert scenario.source == str(path)
    assert scenario.world_at(10).lambda_value == math.inf


def test_unknown_builtin_name_lists_the_known_ones():
    with pytest.raises(EmulatorInputError) as info:
        load_scenario("no-such-scenario")
    assert info.value.source == "scenario no-such-scenario"
    assert "no-such-scenario" in info.value.problem
    assert "default" in info.value.allowed and "default" in str(info.value)


def test_misspelt_builtin_name_gets_a_suggestion():
    with pytest.raises(EmulatorInputError) as info:
        load_scenario("cold-strat")
    assert info.value.field == "scenario"
    assert info.value.suggestions[0] == "cold-start"
    assert "did you mean 'cold-start'" in str(info.value)


def test_docs_full_example_loads(tmp_path):
    example = re.search(r"## Full example\s+```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert example, "docs/scenarios.md lost its full example"
    scenario = load_scenario(str(write(tmp_path, example.group(1))))
    assert scenario.name == "example"
    assert scenario.supply_v_at(30.5) == 8.5


# -- interpolation -------------------------------------------------------------------------------


def test_defaults_before_start_and_initial_overrides():
    scenario = build(ambient_c=-10, supply_v=12.0)
    world = scenario.world_at(-5.0)
    assert (world.lambda_value, world.pressure_kpa, world.gas_temp_c, world.flow_mps, world.supply_v,
            world.hc_ppm, world.ambient_c) == (1.0, 101.325, -10.0, 0.0, 12.0, 0.0, -10.0)
    assert scenario.seed == 0 and scenario.fuel.name == "gasoline" and scenario.name == "test"
    custom = build(**{"lambda": 1.3, "pressure_kpa": 90, "gas_temp_c": 300, "flow_mps": 4, "hc_ppm": 50})
    world = custom.world_at(30)
    assert (world.lambda_value, world.pressure_kpa, world.gas_temp_c, world.flow_mps, world.hc_ppm) == (
        1.3, 90, 300, 4, 50)


def test_steps_ramps_and_holds():
    scenario = build(at=[
        {"t_s": 10, "lambda": 0.8, "gas_temp_c": 500},
        {"t_s": 20, "lambda": 1.2, "ramp_s": 4},
        {"t_s": 20, "flow_mps": 30, "ramp_s": 10},
    ])
    assert scenario.world_at(9.999).lambda_value == 1.0
    assert scenario.world_at(10.0).lambda_value == 0.8  # a step takes effect at its t_s
    assert scenario.world_at(15.0).gas_temp_c == 500  # not named later: holds
    assert scenario.world_at(22.0).lambda_value == pytest.approx(1.0)
    assert scenario.world_at(25.0).flow_mps == pytest.approx(15.0)
    assert scenario.world_at(24.0).lambda_value == pytest.approx(1.2)
    assert scenario.world_at(45.0).lambda_value == 1.2
    assert scenario.world_at(1e6).flow_mps == 30  # after the end: last values hold
    assert scenario.change_times() == [10.0, 20.0]
    assert scenario.lambda_steps() == [(0.0, 1.0), (10.0, 0.8), (24.0, 1.2)]


def test_air_steps_in_and_out():
    scenario = build(at=[{"t_s": 5, "lambda": "air"}, {"t_s": 8, "lambda": 0.9},
                         {"t_s": 8, "gas_temp_c": 400, "ramp_s": 4}])
    assert scenario.world_at(4.9).lambda_value == 1.0
    assert scenario.world_at(5.0).lambda_value == math.inf
    assert scenario.world_at(7.9).lambda_value == math.inf
    assert scenario.world_at(10.0).lambda_value == 0.9
    assert scenario.world_at(10.0).gas_temp_c == pytest.approx(210.0)
    assert scenario.lambda_steps() == [(0.0, 1.0), (5.0, math.inf), (8.0, 0.9)]
    assert build(**{"lambda": "AIR"}).world_at(0).lambda_value == math.inf


def test_a_later_entry_cuts_a_running_ramp_short():
    scenario = build(at=[{"t_s": 0, "gas_temp_c": 600, "ramp_s": 20}, {"t_s": 10, "gas_temp_c": 100, "ramp_s": 10}])
    assert scenario.world_at(10.0).gas_temp_c == pytest.approx(310.0)  # 20 + 580 / 2
    assert scenario.world_at(15.0).gas_temp_c == pytest.approx(205.0)
    assert scenario.world_at(30.0).gas_temp_c == 100


def test_same_time_entries_apply_in_file_order():
    scenario = build(at=[{"t_s": 10, "lambda": 0.8}, {"t_s": 10, "lambda": 1.1}])
    assert scenario.world_at(10.0).lambda_value == 1.1


def test_random_access_matches_sequential_access():
    scenario = load_scenario("exhaust-swings")
    times = [i * 0.25 for i in range(260)]
    forward = [scenario.world_at(t) for t in times]
    backward = [scenario.world_at(t) for t in reversed(times)]
    assert forward == backward[::-1]


def test_fuel_forms():
    assert build(fuel="E85").fuel is NAMED_FUELS["e85"]
    assert build(fuel="custom:h_c=2.0,o_c=0.1").fuel.h_c == 2.0
    table = build(fuel={"h_c": 2.0, "o_c": 0.1}).fuel
    assert (table.h_c, table.o_c) == (2.0, 0.1)


# -- faults --------------------------------------------------------------------------------------


def test_fault_windows_and_no_faults_identity():
    scenario = build(seed=3, fault=[{"t_s": 10, "kind": "pump_open", "clear_s": 12},
                                    {"t_s": 11, "kind": "heater_open"}])
    assert scenario.seed == 3
    assert scenario.faults_at(0.0) is NO_FAULTS
    assert scenario.faults_at(9.99) is NO_FAULTS
    assert scenario.faults_at(10.0).active() == ("pump_open",)
    assert scenario.faults_at(11.5).active() == ("heater_open", "pump_open")
    assert scenario.faults_at(12.0).active() == ("heater_open",)  # clears at clear_s
    assert scenario.faults_at(1e6).active() == ("heater_open",)  # no clear_s: stays
    assert scenario.change_times() == [10.0, 11.0, 12.0]
    assert build().faults_at(5.0) is NO_FAULTS


def test_builtin_faults_scenario_has_each_kind_once():
    scenario = load_scenario("faults")
    # Every line and supply fault; readings_invalid (every reading NaN) has its own tests.
    assert sorted(w.kind for w in scenario.fault_windows) == sorted(k for k in FAULT_KINDS if k != "readings_invalid")
    # Each fault clears before the controller's 2 s retry, so every kind is seen once and recovered from.
    assert all(w.off_s - w.on_s == 1.5 for w in scenario.fault_windows)


def test_supply_drop_lowers_the_supply_only():
    scenario = build(supply_v=13.5, at=[{"t_s": 30, "supply_v": 5.0}],
                     fault=[{"t_s": 10, "kind": "supply_drop", "value_v": 7, "clear_s": 40},
                            {"t_s": 45, "kind": "supply_drop", "clear_s": 50}])
    assert scenario.supply_v_at(5) == 13.5
    assert scenario.supply_v_at(10) == 7.0
    assert scenario.world_at(10).supply_v == 13.5  # world_at is the scripted supply
    assert scenario.faults_at(10).supply_drop_v == 7.0
    assert scenario.supply_v_at(35) == 5.0  # scripted supply already below the drop
    assert scenario.supply_v_at(41) == 5.0
    assert scenario.faults_at(46).supply_drop_v == 6.0  # default value_v


# -- bad input -----------------------------------------------------------------------------------


def test_unknown_keys_are_named():
    assert bad({"lamda": 1.0}).field == "lamda"
    assert bad({"at": [{"t_s": 1, "temp": 3}]}).field == "at[0].temp"
    assert bad({"fault": [{"t_s": 1, "kind": "pump_open", "until": 3}]}).field == "fault[0].until"
    assert bad({"fuel": {"h_c": 2, "n_c": 1}}).field == "fuel.n_c"


@pytest.mark.parametrize("data, field, allowed", [
    ({"duration_s": 0}, "duration_s", "86400"),
    ({"duration_s": 90000}, "duration_s", "86400"),
    ({"ambient_c": 80}, "ambient_c", "-40 to 60"),
    ({"supply_v": 40}, "supply_v", "0 to 32"),
    ({"lambda": 0.2}, "lambda", "0.4 to 100"),
    ({"at": [{"t_s": 1}, {"t_s": 2}, {"t_s": 3}, {"t_s": 4, "lambda": 0.3}]}, "at[3].lambda", "0.4 to 100"),
    ({"at": [{"t_s": 1, "lambda": "rich"}]}, "at[0].lambda", '"air"'),
    ({"at": [{"t_s": 1, "pressure_kpa": 500}]}, "at[0].pressure_kpa", "20 to 400"),
    ({"at": [{"t_s": 1, "gas_temp_c": 1200}]}, "at[0].gas_temp_c", "-40 to 1100"),
    ({"at": [{"t_s": 1, "flow_mps": -1}]}, "at[0].flow_mps", "0 to 100"),
    ({"at": [{"t_s": 1, "hc_ppm": 30000}]}, "at[0].hc_ppm", "0 to 20000"),
    ({"at": [{"t_s": 1, "supply_v": True}]}, "at[0].supply_v", "0 to 32"),
    ({"at": [{"t_s": 61}]}, "at[0].t_s", "0 to 60"),
    ({"at": [{"t_s": 50, "lambda": 2, "ramp_s": 20}]}, "at[0].ramp_s", "0 to 10"),
    ({"at": [{"t_s": 5, "ramp_s": -1}]}, "at[0].ramp_s", "0 to 55"),
    ({"fault": [{"t_s": 5, "kind": "supply_drop", "value_v": 40}]}, "fault[0].value_v", "0 to 32"),
    ({"fault": [{"t_s": -1, "kind": "pump_open"}]}, "fault[0].t_s", "0 to 60"),
    ({"seed": -1}, "seed", "at least 0"),
    ({"seed": 1.5}, "seed", "whole number"),
    ({"fuel": "kerosene"}, "fuel", "gasoline"),
    ({"fuel": {"h_c": 20}}, "fuel.h_c", "0 to 10"),
    ({"fuel": {"o_c": 0.1}}, "fuel.h_c", "required"),
    ({"name": 3}, "name", "string"),
])
def test_out_of_range_values_name_field_and_range(data, field, allowed):
    error = bad(data)
    assert error.field == field
    assert error.problem
    assert allowed in f"{error.problem} {error.allowed}"
    assert field in str(error) and "test.toml" in str(error) and allowed in str(error)


def test_t_s_out_of_order():
    error = bad({"at": [{"t_s": 10, "lambda": 0.9}, {"t_s": 5, "lambda": 1.1}]})
    assert error.field == "at[1].t_s"
    assert "order" in error.problem


def test_unknown_fault_kind_lists_the_kinds():
    error = bad({"fault": [{"t_s": 10, "kind": "heater_melt"}]})
    assert error.field == "fault[0].kind"
    assert "heater_melt" in error.problem
    assert all(kind in error.allowed for kind in FAULT_KINDS)


@pytest.mark.parametrize("clear_s", [10, 9.5, 70])
def test_clear_s_must_be_after_t_s_and_within_duration(clear_s):
    error = bad({"fault": [{"t_s": 10, "kind": "pump_open", "clear_s": clear_s}]})
    assert error.field == "fault[0].clear_s"
    assert "outside the allowed range" in error.problem
    assert "above 10 and at most 60" in error.allowed


def test_value_v_only_for_supply_drop():
    error = bad({"fault": [{"t_s": 10, "kind": "pump_open", "value_v": 5}]})
    assert error.field == "fault[0].value_v"
    assert "supply_drop" in error.problem


def test_missing_required_fields():
    with pytest.raises(EmulatorInputError) as info:
        scenario_from_dict({"at": [{"t_s": 1}]}, "x.toml")
    assert info.value.field == "duration_s" and "required" in info.value.problem
    assert bad({"at": [{"lambda": 0.9}]}).field == "at[0].t_s"
    assert bad({"fault": [{"t_s": 3}]}).field == "fault[0].kind"
    assert bad({"fault": [{"kind": "pump_open"}]}).field == "fault[0].t_s"


def test_ramp_to_or_from_air_is_rejected():
    error = bad({"at": [{"t_s": 10, "lambda": "air", "ramp_s": 2}]})
    assert error.field == "at[0].lambda" and "air" in error.problem
    error = bad({"at": [{"t_s": 5, "lambda": "air"}, {"t_s": 10, "lambda": 1.0, "ramp_s": 2}]})
    assert error.field == "at[1].lambda" and "air" in error.problem


def test_at_must_be_an_array_of_tables():
    assert bad({"at": {"t_s": 1}}).field == "at"
    assert bad({"at": [3]}).field == "at[0]"
    assert bad({"fault": "pump_open"}).field == "fault"


def test_bad_toml_syntax_names_the_file(tmp_path):
    path = write(tmp_path, 'duration_s = 60\n[[at]\nt_s = 1\n', "broken.toml")
    with pytest.raises(EmulatorInputError) as info:
        load_scenario(str(path))
    assert info.value.source == str(path)
    assert str(path) in str(info.value) and "TOML" in info.value.problem


def test_missing_file_and_file_errors_use_the_path(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(EmulatorInputError) as info:
        load_scenario(str(missing))
    assert info.value.source == str(missing)
    path = write(tmp_path, 'duration_s = 60\n[[at]]\nt_s = 1\nlambda = 9000\n')
    with pytest.raises(EmulatorInputError) as info:
        load_scenario(str(path))
    assert (info.value.source, info.value.field) == (str(path), "at[0].lambda")


def test_file_loads_with_stem_as_default_name(tmp_path):
    path = write(tmp_path, 'duration_s = 12.5\nseed = 4\n[[at]]\nt_s = 2\nlambda = "air"\n', "my-run.toml")
    scenario = load_scenario(str(path))
    assert (scenario.name, scenario.duration_s, scenario.seed) == ("my-run", 12.5, 4)
    assert scenario.world_at(3).lambda_value == math.inf
