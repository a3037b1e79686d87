"""--unit / --age-h / unit= / age_h= on every way in, exit 2 on bad values; hot exhaust on `element`."""

from __future__ import annotations

import json

import pytest

from lambdarig import api
from lambdarig.cli import main
from lambdarig.common.errors import InputError
from lambdarig.hal.registry import open_frontend


def element_json(capsys, *args: str) -> dict:
    assert main(["element", "lsu49", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def refused(capsys, *args: str) -> str:
    assert main(list(args)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    return captured.err


def test_element_shows_the_unit_its_trim_and_what_was_drawn(capsys):
    data = element_json(capsys, "--unit", "3", "--age-h", "1000")
    assert data["unit"] == 3 and data["age_h"] == 1000.0
    assert 200.0 < data["trim_ohm"] < 3300.0
    assert set(data["drawn"]) == {"ip_gain", "pressure_k_kpa", "ri_factor", "heater_r_cold_ohm", "tube_factor"}
    nominal = element_json(capsys)
    assert nominal["unit"] is None and nominal["trim_ohm"] is None and nominal["drawn"] == {}
    assert main(["element", "lsu49", "--unit", "3"]) == 0
    out = capsys.readouterr().out
    assert "trim resistor:" in out and "unit 3" in out


@pytest.mark.parametrize("args, needle", [
    (("element", "lsu49", "--unit", "x"), "--unit"),
    (("element", "lsu49", "--unit", "-2"), "--unit"),
    (("element", "lsu49", "--age-h", "-1"), "--age-h"),
    (("element", "lsu49", "--age-h", "nan"), "--age-h"),
    (("simulate", "--unit", "1.5", "--duration", "1"), "--unit"),
    (("simulate", "--age-h", "old", "--duration", "1"), "--age-h"),
    (("run", "--hal", "sim:lsu49?unit=x", "--duration", "1"), "unit"),
    (("run", "--hal", "sim:lsu49?age_h=-5", "--duration", "1"), "age_h"),
    (("run", "--hal", "sim:lsu49?units=5", "--duration", "1"), "did you mean 'unit'"),
    (("element", "lsu49", "--gas-temp-c", "1031"), "1030"),
    (("element", "lsu49", "--list-units", "0"), "--list-units"),
])
def test_bad_unit_or_age_exits_2_in_one_line(capsys, args, needle):
    assert needle in refused(capsys, *args)


def test_sim_url_and_keywords_build_the_unit():
    frontend = open_frontend("sim:lsu49?unit=5&age_h=200")
    try:
        spec = frontend.rig.spec   # type: ignore[attr-defined]
        assert (spec.unit, spec.age_h) == (5, 200.0) and spec.trim_ohm is not None
        assert frontend.rig.element.trim_ohm == spec.trim_ohm   # type: ignore[attr-defined]
        assert frontend.info().details["unit"] == 5
    finally:
        frontend.close()
    frontend = open_frontend("sim:lsu49?unit=5", unit=6)   # keywords win over query keys
    try:
        assert frontend.rig.spec.unit == 6   # type: ignore[attr-defined]
    finally:
        frontend.close()


def test_api_simulate_takes_unit_and_age():
    result = api.simulate("lsu49", duration_s=0.5, unit=2, age_h=100.0, seed=1, progress=lambda _: None)
    assert result.summary["unit"] == 2 and result.summary["age_h"] == 100.0
    with pytest.raises(InputError, match="unit"):
        api.simulate("lsu49", duration_s=0.5, unit=-1)


def test_hot_exhaust_runs_the_element_above_target_with_the_heater_off(capsys):
    data = element_json(capsys, "--gas-temp-c", "1030")
    assert data["temp_c"] == 1030.0 and data["heater_power_w"] == 0.0
    assert data["exhaust_limit_c"] == 930.0 and data["exhaust_limit_short_c"] == 1030.0
    assert data["ri_ohm"] < 100.0    # the rusEFI table: 80 ohm at 1030 °C
    assert main(["element", "lsu49", "--gas-temp-c", "950"]) == 0
    out = capsys.readouterr().out
    assert "above the continuous limit 930" in out and "heater off" in out


def hot_scenario(tmp_path, gas_temp_c: float):
    path = tmp_path / "hot.toml"
    path.write_text(f'name = "hot"\nduration_s = 90\nlambda = 1.0\ngas_temp_c = 300\nflow_mps = 30\n'
                    f'[[at]]\nt_s = 2\ngas_temp_c = {gas_temp_c}\nramp_s = 2\n')
    return str(path)


def test_hot_exhaust_scenario_up_to_the_short_limit_runs_the_element_above_target(tmp_path):
    from lambdarig.emulator.rig import EmulatedRig
    from lambdarig.emulator.scenario import load_scenario

    rig = EmulatedRig("lsu49", load_scenario(hot_scenario(tmp_path, 1030.0)))
    rig.apply(heater_duty=0.0)
    rig.advance_to(90.0)
    assert rig.truth().temp_c > 1000.0       # the gas holds it far above its 780 °C target, heater off


def test_hot_exhaust_scenario_above_the_short_limit_is_refused(capsys, tmp_path):
    err = refused(capsys, "simulate", "--scenario", hot_scenario(tmp_path, 1040.0), "--duration", "1")
    assert "gas_temp_c" in err and "1030" in err


def test_list_units_shows_the_draws_and_the_trimmed_gain(capsys):
    assert main(["element", "lsu49", "--list-units", "3", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["units"]
    assert [row["unit"] for row in rows] == [0, 1, 2]
    for row in rows:
        assert row["ip_gain"] > 1.0 and row["trim_ohm"] > 0.0 and abs(row["read_gain"] - 1.0) < 0.012
    assert main(["element", "lsu49", "--list-units", "2"]) == 0
    assert "trim_ohm" in capsys.readouterr().out


def test_the_summary_names_the_unit_and_age_and_json_spells_new_as_the_metadata_does(tmp_path):
    """The first line says which individual ran (not the same line as the nominal element's); --json
    has unit null / age_h 0.0 for the nominal, new element, as the log's metadata has them."""
    import contextlib
    import io
    import json

    from lambdarig.cli import main

    def cli(*args: str) -> tuple[int, str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = main(list(args))
        return code, out.getvalue()

    code, out = cli("simulate", "--duration", "0.5", "--quiet", "--unit", "7", "--age-h", "500")
    assert code == 0 and out.splitlines()[0] == "lsu49, unit 7, aged 500 h, scenario default, seed 0"
    code, out = cli("simulate", "--duration", "0.5", "--quiet")
    assert out.splitlines()[0] == "lsu49, scenario default, seed 0"
    log = tmp_path / "new.csv"
    code, out = cli("simulate", "--duration", "0.5", "--json", "--log", str(log))
    summary, meta = json.loads(out), json.loads(log.with_name("new.csv.json").read_text())
    assert (summary["unit"], summary["age_h"]) == (meta["unit"], meta["age_h"]) == (None, 0.0)
