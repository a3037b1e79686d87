"""The one reader and validator set in lambdarig.common: values of every type, huge integers,
tables, unknown keys with suggestions, command-line text, overrides, and the TOML file reader's
refusals that the per-file-type tests do not reach (devices, symlinks, the error type passed in)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from lambdarig.common import validators as check
from lambdarig.common.errors import InputError
from lambdarig.common.overrides import apply_override
from lambdarig.common.tables import REQUIRED, TableReader
from lambdarig.common.toml_file import parse_toml_text, read_toml_file
from lambdarig.common.validators import Place

AT = Place("t.toml", "heater.v")


class MyError(InputError):
    pass


def refused(call, *args, **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        call(*args, **kwargs)
    return info.value


# --- validators ------------------------------------------------------------------------------------


def test_number_accepts_the_range_ends_and_returns_float():
    assert check.number(0, AT, 0, 13, "V") == 0.0 and isinstance(check.number(13, AT, 0, 13, "V"), float)
    assert check.number(2.5, AT, None, None) == 2.5
    assert check.number(1e300, AT, 0, None) == 1e300


@pytest.mark.parametrize("value, problem", [
    ("1.0", "'1.0' is not a number"),
    (True, "True is not a number"),
    (None, "None is not a number"),
    ([1.0], "[1.0] is not a number"),
    (math.nan, "nan is not a finite number"),
    (math.inf, "inf is not a finite number"),
    (14, "14 V is outside the allowed range"),
    (-0.5, "-0.5 V is outside the allowed range"),
    (10 ** 400, "a 401-digit integer is outside the allowed range"),
    (-10 ** 400, "a 401-digit integer is outside the allowed range"),
])
def test_number_refusals(value, problem):
    error = refused(check.number, value, AT, 0, 13, "V")
    assert (error.source, error.field, error.problem, error.allowed) == ("t.toml", "heater.v", problem, "0 to 13 V")


def test_number_open_low_end_and_other_forms():
    error = refused(check.number, 0, AT, 0, 60, "s", lo_open=True)
    assert error.allowed == "above 0 and at most 60 s"
    error = refused(check.number, "rich", AT, 0.4, 100, also=' or "air"')
    assert error.allowed == '0.4 to 100 or "air"'


def test_integer():
    assert check.integer(3, AT, 0, 10) == 3
    assert check.integer(3.0, AT, 0, 10, whole_floats=True) == 3
    assert refused(check.integer, 3.0, AT, 0, 10).problem == "3.0 is not a whole number"
    assert refused(check.integer, 2.5, AT, 0, 10, whole_floats=True).problem == "2.5 is not a whole number"
    assert refused(check.integer, True, AT, 0, 10).problem == "True is not a whole number"
    assert refused(check.integer, math.inf, AT, 0, 10, whole_floats=True).problem == "inf is not a whole number"
    assert refused(check.integer, 10 ** 400, AT, 0, 10).problem == "a 401-digit integer is outside the allowed range"
    assert refused(check.integer, -1, AT, 0).allowed == "a whole number, at least 0"


def test_integer_without_upper_bound_takes_big_values():
    assert check.integer(10 ** 30, AT, 0) == 10 ** 30


def test_boolean_text_choice():
    assert check.boolean(False, AT) is False
    assert refused(check.boolean, 1, AT).allowed == "true or false"
    assert check.text("x", AT) == "x"
    assert refused(check.text, 3, AT).problem == "3 is not a string"
    assert check.choice("ri", AT, ("ri", "ri+heater")) == "ri"
    error = refused(check.choice, "rii", AT, ("ri", "ri+heater"))
    assert error.problem == "unknown value 'rii'" and error.suggestions[0] == "ri"
    assert error.allowed == "ri, ri+heater"
    assert refused(check.choice, 3, AT, ("a",)).problem == "3 is not a name"


def test_table_and_table_list():
    assert check.table({"a": 1}, AT) == {"a": 1}
    assert "not a table" in refused(check.table, 5, AT).problem
    at = Place("t.toml", "at")
    assert check.table_list([{"t_s": 1}], at) == [{"t_s": 1}]
    assert refused(check.table_list, {"t_s": 1}, at).field == "at"
    error = refused(check.table_list, [{"t_s": 1}, 3], at)
    assert error.field == "at[1]" and error.allowed == "an entry written as [[at]]"


def test_known_keys_suggests():
    error = refused(check.known_keys, ["target_temp_c", "ramp_rate"], ["target_temp_c", "ramp_rate_v_per_s"],
                    Place("s.toml", "heater"))
    assert error.field == "heater.ramp_rate" and error.problem == "unknown key"
    assert error.suggestions == ("ramp_rate_v_per_s",)
    assert refused(check.known_keys, ["heatr"], ["heater"], Place("s.toml", ""), what="section").field == "heatr"


def test_values_as_text():
    at = Place("command line", "--pressure-kpa")
    assert check.number_text("101.3", at, 20, 400, "kPa") == 101.3
    assert refused(check.number_text, "lots", at, 20, 400, "kPa").problem == "'lots' is not a number"
    assert refused(check.number_text, "nan", at, 20, 400).problem == "nan is not a finite number"
    assert refused(check.number_text, "1e999", at, 20, 400).problem == "inf is not a finite number"
    assert refused(check.number_text, "500", at, 20, 400, "kPa").problem == "500 kPa is outside the allowed range"
    assert check.integer_text(" 7 ", at, 0) == 7
    assert refused(check.integer_text, "7.5", at, 0).problem == "'7.5' is not a whole number"


def test_place_error_type_is_used():
    error = refused(check.number, "x", Place("f", "k", MyError), 0, 1)
    assert type(error) is MyError


def test_show_keeps_messages_short():
    assert check.show("x" * 500).endswith("...") and len(check.show("x" * 500)) == check.SHOW_MAX_CHARS
    assert check.show(10 ** 50) == "a 51-digit integer"
    assert check.show(12) == "12"


# --- TableReader -----------------------------------------------------------------------------------


def test_table_reader_reads_defaults_required_and_nested_fields():
    data = {"v": 2, "sub": {"x": True}, "rows": [{"n": 1}, {"n": "two"}]}
    top = TableReader(data, "f.toml", error=MyError)
    assert top.number("v", 0, 5, unit="V") == 2.0
    assert top.number("w", 0, 5, default=1.5) == 1.5
    assert top.optional_number("absent", 0, 5) is None
    sub = top.sub("sub")
    assert sub.boolean("x") is True
    sub.finish()
    rows = top.tables("rows")
    assert rows[0].integer("n", 0, 9) == 1
    error = refused(rows[1].integer, "n", 0, 9)
    assert type(error) is MyError and error.field == "rows[1].n"
    error = refused(top.text, "name")
    assert error.field == "name" and error.problem == "is required"
    error = refused(top.number, "missing", 0, 5, unit="V")
    assert (error.problem, error.allowed) == ("is required", "0 to 5 V")
    assert top.sub("absent", required=False) is None
    assert top.tables("none", required=False) == []


def test_finish_refuses_what_nothing_took_with_suggestions():
    top = TableReader({"r_cold_ohm": 3.0, "r_lead": 0.1}, "e.toml", "heater")
    top.number("r_cold_ohm", 0, 100)
    top.number("r_lead_ohm", 0, 10, default=0.0)
    error = refused(top.finish)
    assert error.field == "heater.r_lead" and error.suggestions == ("r_lead_ohm",)


def test_a_missing_required_key_points_at_its_likely_misspelling():
    top = TableReader({"r_cold_ohms": 3.0}, "e.toml", "heater")
    error = refused(top.number, "r_cold_ohm", 0, 100, unit="Ω")
    assert error.field == "heater.r_cold_ohm"
    assert "is required" in error.problem and "'r_cold_ohms'" in error.problem


def test_keys_up_front_refuse_unknown_keys_before_anything_is_read():
    error = refused(TableReader, {"duraton_s": 5}, "s.toml", keys=("duration_s", "seed"))
    assert error.field == "duraton_s" and error.suggestions == ("duration_s",)
    assert error.allowed == "duration_s, seed"


def test_finish_refuses_a_known_key_nothing_read():
    top = TableReader({"kind": "sealed", "pump_current_a": 1e-6}, "e.toml", "reference",
                      keys=("kind", "pump_current_a", "buffer"))
    assert top.text("kind") == "sealed"
    error = refused(top.finish)
    assert error.field == "reference.pump_current_a" and error.problem == "does not apply here"
    assert error.allowed == "kind"


def test_table_reader_refuses_a_non_table():
    assert refused(TableReader, [1, 2], "f.toml").field == "file"
    assert refused(TableReader, 3, "f.toml", "heater").field == "heater"
    assert REQUIRED is not None


# --- overrides -------------------------------------------------------------------------------------


def test_override_sets_an_existing_value_parsed_as_toml():
    data = {"heater": {"r_cold_ohm": 3.0}, "name": "x"}
    apply_override(data, "heater.r_cold_ohm = 4.5", "e.toml")
    apply_override(data, "name=some text", "e.toml")
    assert data == {"heater": {"r_cold_ohm": 4.5}, "name": "some text"}


def test_override_refusals_suggest():
    data = {"heater": {"r_cold_ohm": 3.0}}
    error = refused(apply_override, data, "heater.r_cold=4", "e.toml", error=MyError)
    assert type(error) is MyError and error.field == "heater.r_cold" and error.suggestions == ("r_cold_ohm",)
    error = refused(apply_override, data, "heatr.r_cold_ohm=4", "e.toml")
    assert error.suggestions == ("heater",) and "heatr" in error.problem
    assert refused(apply_override, data, "no-equals", "e.toml").field == "no-equals"
    apply_override(data, "heater.r_cold_ohm=" + "[" * 3000, "e.toml")    # not TOML: kept as text
    assert data["heater"]["r_cold_ohm"].startswith("[[[")


# --- the TOML file reader --------------------------------------------------------------------------


def test_read_toml_file_default_source_and_error_type(tmp_path):
    path = tmp_path / "a.toml"
    path.write_text("x = 1\n")
    assert read_toml_file(path) == {"x": 1}
    assert read_toml_file(str(path), "my source") == {"x": 1}
    error = refused(read_toml_file, tmp_path / "none.toml", "given name", error=MyError)
    assert type(error) is MyError and error.source == "given name" and error.field == "file"


def test_symlink_to_a_file_is_read(tmp_path):
    target = tmp_path / "real.toml"
    target.write_text("x = 2\n")
    link = tmp_path / "link.toml"
    link.symlink_to(target)
    assert read_toml_file(link) == {"x": 2}


@pytest.mark.skipif(not Path("/dev/null").exists() or os.name != "posix", reason="no /dev/null")
def test_a_device_is_refused():
    error = refused(read_toml_file, "/dev/null")
    assert error.problem == "is a device, not a file" and error.allowed == "a TOML text file"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_is_refused(tmp_path):
    path = tmp_path / "secret.toml"
    path.write_text("x = 1\n")
    path.chmod(0)
    assert "cannot read" in refused(read_toml_file, path).problem


def test_parse_toml_text_refusals():
    assert parse_toml_text("a = 1", "t") == {"a": 1}
    assert "line 2" in refused(parse_toml_text, "a = 1\nb = ]\n", "t").problem
    assert "ends on line 3" in refused(parse_toml_text, "a = 1\nb = [1,\n", "t").problem
    assert "nested too deeply" in refused(parse_toml_text, "a = " + "{b = " * 3000, "t").problem
    assert "too long" in refused(parse_toml_text, "a = " + "1" * 5000, "t").problem
