"""`lambdarig element`: output, units, and exit code 2 with the field named for every bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lambdarig.cli import main

REPO = Path(__file__).resolve().parents[1]
LSU49_TOML = REPO / "emulator" / "elements" / "lsu49.toml"


def run_json(capsys, *args: str) -> dict:
    assert main(["element", *args, "--json"]) == 0
    out = capsys.readouterr().out
    return json.loads(out)


def run_error(capsys, *args: str) -> str:
    assert main(["element", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


def test_list_names_lsu49(capsys):
    assert main(["element", "--list"]) == 0
    out = capsys.readouterr().out
    assert "lsu49" in out
    assert "wideband" in out


def test_json_in_air_matches_lsu49_ratings(capsys):
    data = run_json(capsys, "lsu49", "--lambda", "air")
    for key in ("pump_current_a", "nernst_v", "nernst_emf_v", "ri_ohm", "o2_pct", "heater_power_w",
                "heater_v", "heater_r_ohm", "pump_v", "afr_stoich", "temp_c", "pressure_kpa"):
        assert isinstance(data[key], float), key
    assert data["lambda_value"] == "air"
    assert data["afr"] == "air"
    assert data["element"] == "lsu49"
    assert data["fuel"] == "gasoline"
    assert data["pump_current_a"] == pytest.approx(2.54e-3, rel=0.01)  # amperes, not mA
    assert data["nernst_v"] == pytest.approx(0.45, abs=1e-3)            # volts, not mV
    assert data["ri_ohm"] == pytest.approx(300.0, rel=0.03)
    assert data["heater_power_w"] == pytest.approx(7.5, abs=0.5)
    assert data["o2_pct"] == pytest.approx(20.95, abs=0.01)
    assert data["afr_stoich"] == pytest.approx(14.6, abs=0.1)


def test_json_rich_pumps_negative_with_afr(capsys):
    data = run_json(capsys, "lsu49", "--lambda", "0.8")
    assert data["pump_current_a"] < 0
    assert data["lambda_value"] == 0.8
    assert data["afr"] == pytest.approx(0.8 * data["afr_stoich"])


def test_human_output_has_units(capsys):
    assert main(["element", "lsu49"]) == 0
    out = capsys.readouterr().out
    for text in ("mA", "mV", "ohm", "%", " W", " V", "AFR", "14.5"):
        assert text in out, text


def test_custom_fuel(capsys):
    data = run_json(capsys, "lsu49", "--fuel", "custom:h_c=2.0,o_c=0", "--lambda", "0.9")
    assert data["fuel"].startswith("custom")
    assert data["pump_current_a"] < 0
    assert data["afr_stoich"] == pytest.approx(14.78, abs=0.05)  # CH2: 138.2 * 1.5 / 14.027


def test_set_override_is_a_what_if(capsys):
    default = run_json(capsys, "lsu49", "--lambda", "air")
    shared = run_json(capsys, "lsu49", "--lambda", "air", "--set", "coupling.shared_r_ohm=50")
    # A larger shared resistance lets more pump-current IR drop into the Nernst terminal voltage.
    assert shared["nernst_emf_v"] < default["nernst_emf_v"] - 0.05
    assert shared["nernst_v"] == pytest.approx(0.45, abs=1e-3)


@pytest.mark.parametrize("args, field", [
    (["nosuchelement"], "lsu49"),                       # the message lists the known elements
    (["lsu49", "--lambda", "0.1"], "--lambda"),
    (["lsu49", "--lambda", "banana"], "--lambda"),
    (["lsu49", "--pressure-kpa", "5000"], "--pressure-kpa"),
    (["lsu49", "--temp-c", "2000"], "--temp-c"),
    (["lsu49", "--fuel", "kerosene"], "fuel"),
    (["lsu49", "--set", "coupling.no_such_key=1"], "coupling.no_such_key"),
    ([], "NAME"),
])
def test_bad_input_exits_2_naming_the_field(capsys, args, field):
    err = run_error(capsys, *args)
    assert err.startswith("lambdarig: error: ")
    assert field in err


def test_range_is_in_the_message(capsys):
    err = run_error(capsys, "lsu49", "--lambda", "0.1")
    assert "0.4" in err and "100" in err


def test_malformed_element_file_names_file_and_field(capsys, tmp_path):
    text = LSU49_TOML.read_text(encoding="utf-8")
    assert "r_cold_ohm = 3.2" in text
    bad = tmp_path / "broken.toml"
    bad.write_text(text.replace("r_cold_ohm = 3.2", "r_cold_ohm = -1"), encoding="utf-8")
    err = run_error(capsys, str(bad))
    assert "broken.toml" in err
    assert "heater.r_cold_ohm" in err


def test_argparse_errors_exit_2(capsys):
    assert main(["element", "lsu49", "--no-such-option"]) == 2
    assert main([]) == 2
    assert capsys.readouterr().out == ""


def test_module_entry_point_prints_json():
    result = subprocess.run([sys.executable, "-m", "lambdarig", "element", "lsu49", "--json"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["nernst_v"] == pytest.approx(0.45, abs=1e-3)
    assert data["lambda_value"] == 1.0


@pytest.mark.parametrize("args, expected", [
    # A number out of range says so (it is an age, and a unit number, only too large).
    (["--age-h", "99999"], "--age-h: '99999' is outside the allowed range (allowed: a number of hours 0..20000"),
    (["--age-h", "abc"], "--age-h: 'abc' is not a number of operating hours (allowed: a number of hours 0..20000"),
    (["--unit", "99999999999999"], "--unit: 99999999999999 is outside the allowed range (allowed: an integer 0.."),
    (["--unit", "x"], "--unit: 'x' is not a unit number"),
    # A table given one value: the value is wrong, and the table's parameters are named.
    (["--set", "tolerance.ip_gain=abc"],
     "tolerance.ip_gain: 'abc' is one value, but this is a table: set one of its parameters (allowed: "
     "tolerance.ip_gain.max, tolerance.ip_gain.mean, tolerance.ip_gain.min, tolerance.ip_gain.sd, or a whole table"),
])
def test_bad_value_words(capsys, args, expected):
    err = run_error(capsys, "lsu49", *args)
    assert expected in err and len(err.splitlines()) == 1, err


def test_a_whole_table_can_still_be_set(capsys):
    spread = "{mean = 1.15, sd = 0.05, min = 1.05, max = 1.25}"
    assert run_json(capsys, "lsu49", "--set", f"tolerance.ip_gain={spread}", "--unit", "3")["nernst_v"] > 0


def test_a_point_no_board_can_hold_says_so(capsys):
    """The trial's item 30: a cold cell in air reported 2.11 mA / 450 mV as a steady state; only --json
    showed the 598 V the ideal pump loop needed. The table shows the voltage and says no board holds it."""
    assert main(["element", "lsu49", "--lambda", "air", "--temp-c", "300"]) == 0
    out = capsys.readouterr().out
    assert "pump voltage needed" in out and "note: no board holds this point: the pump cell needs 598 V" in out
    assert main(["element", "lsu49", "--lambda", "air"]) == 0        # at its operating temperature: fine
    out = capsys.readouterr().out
    assert "pump voltage needed" in out and "no board holds" not in out
