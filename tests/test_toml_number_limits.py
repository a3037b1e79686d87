"""TOML inputs that used to end in a traceback or an anonymous error: a 400-digit integer, 3,000-deep
arrays, a non-UTF-8 file, and an integer past Python's 4,300-digit text limit written in hex
(valid TOML, it parses; only showing it in a message raised ValueError). Settings files (`simulate`
and `run --settings`), scenario files and `element --set`: one line naming the file and the field,
exit 2."""

from __future__ import annotations

import pytest

from lambdarig.cli import main

BIG = "1" * 400
HUGE_HEX = "0x" + "f" * 5000
DEEP = "[" * 3000 + "]" * 3000


@pytest.mark.parametrize(("body", "expect"), [
    (f"[heater]\ntarget_temp_c = {BIG}\n", "heater.target_temp_c: a 400-digit integer is outside"),
    (f"[heater]\ntarget_temp_c = {HUGE_HEX}\n", "heater.target_temp_c: an integer of about 6021 digits is outside"),
    (f"[diagnostics]\nmax_retries = {HUGE_HEX}\n", "diagnostics.max_retries: an integer of about 6021 digits"),
    (f"[heater]\ntarget_temp_c = {DEEP}\n", "nested too deeply"),
    (None, "is not UTF-8 text (byte 0xff on line 3)"),
], ids=["400-digit", "hex-5000", "hex-5000-int", "deep", "not-utf8"])
@pytest.mark.parametrize("command", ["simulate", "run"])
def test_settings_file(tmp_path, capsys, body, expect, command):
    path = tmp_path / "settings.toml"
    if body is None:
        path.write_bytes(b"[heater]\ntarget_temp_c = 780\n# \xff\xfe\n")
    else:
        path.write_text(body)
    argv = (["simulate"] if command == "simulate" else ["run", "--hal", "sim:lsu49"])
    assert main([*argv, "--duration", "0.1", "--quiet", "--settings", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and expect in err, err


def test_scenario_file_with_a_huge_hex_integer(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(f"duration_s = {HUGE_HEX}\n")
    assert main(["simulate", "--quiet", "--scenario", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: duration_s: an integer of about 6021 digits" in err


@pytest.mark.parametrize(("value", "expect"), [
    (BIG, "a 400-digit integer is outside"),
    (HUGE_HEX, "an integer of about 6021 digits is outside"),
    (DEEP, "is not a number"),
])
def test_element_set(capsys, value, expect):
    assert main(["element", "lsu49", "--set", f"heater.r_cold_ohm={value}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "heater.r_cold_ohm" in err and expect in err, err[:300]
