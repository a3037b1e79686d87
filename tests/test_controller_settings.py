"""Controller settings (controller/settings.py): schema, ranges, cross-field rules, TOML in and out."""

from __future__ import annotations

import math
import os

import pytest

from lambdarig.controller.settings import (
    FIELDS,
    SCHEMA,
    SCHEMA_VERSION,
    SECTIONS,
    Settings,
    SettingsError,
    load_settings,
    save_settings,
    settings_from_toml_text,
)

NUMERIC = [f for f in SCHEMA if f.choices is None and not isinstance(f.default, (bool, str))]
CHOICE = [f for f in SCHEMA if f.choices]
BOOLEAN = [f for f in SCHEMA if isinstance(f.default, bool)]


def _just_outside(bound: float, direction: int) -> float:
    step = abs(bound) * 1e-6 if bound != 0 else 1e-9
    return bound + direction * step


def _toml_section(section: str, **values) -> str:
    lines = [f"schema_version = {SCHEMA_VERSION}", f"[{section}]"]
    for key, value in values.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str):
            text = f'"{value}"'
        else:
            text = repr(value)
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


# --- defaults and the schema itself -------------------------------------------------------------


def test_defaults_are_valid_and_match_schema():
    s = Settings()
    assert s == Settings({})
    for f in SCHEMA:
        assert s.get(f.name) == f.default
        assert getattr(getattr(s, f.section), f.key) == f.default
    assert set(SECTIONS) == {f.section for f in SCHEMA}
    assert len(FIELDS) == len(SCHEMA), "field names must be unique"


@pytest.mark.parametrize("f", NUMERIC, ids=lambda f: f.name)
def test_schema_defaults_inside_their_ranges(f):
    assert f.lo is not None and f.hi is not None and f.lo <= f.hi
    assert f.lo <= f.default <= f.hi


# --- TOML -----------------------------------------------------------------------------------


def test_toml_round_trip_defaults():
    s = Settings()
    text = s.to_toml()
    assert f"schema_version = {SCHEMA_VERSION}" in text
    back = settings_from_toml_text(text)
    assert back == s
    assert back.as_dict() == s.as_dict()
    for name, value in back.as_dict().items():
        assert type(value) is type(FIELDS[name].default), name


def test_toml_round_trip_non_defaults(tmp_path):
    s = Settings().changed(heater__target_temp_c=812.5, heater__condensation_s=12, pump__current_min_a=-7.5e-3,
                           pump__kp_a_per_v=1.234e-5, conversion__fuel="custom", conversion__custom_h_c=2.1,
                           conversion__custom_o_c=0.07, conversion__pressure_compensation=False,
                           diagnostics__max_retries=7, sensor__characteristic="nominal",
                           heater__temp_source="ri+heater", rates__heater_hz=25)
    assert settings_from_toml_text(s.to_toml()) == s
    path = tmp_path / "controller.toml"
    save_settings(s, path)
    loaded = load_settings(path)
    assert loaded == s
    assert loaded.heater.condensation_s == 12.0 and isinstance(loaded.heater.condensation_s, float)
    assert loaded.diagnostics.max_retries == 7 and isinstance(loaded.diagnostics.max_retries, int)
    assert loaded.conversion.pressure_compensation is False


@pytest.mark.parametrize("f", NUMERIC, ids=lambda f: f.name)
def test_toml_round_trip_each_range_end(f):
    """Every field written at its range ends survives the round trip (where the cross-field rules
    allow that value with the other defaults)."""
    for value in (f.lo, f.hi):
        try:
            s = Settings({f.name: value})
        except SettingsError as exc:
            assert "allowed range" not in str(exc), f"{f.name}={value}: the range end itself is refused: {exc}"
            continue
        back = settings_from_toml_text(s.to_toml())
        assert back == s
        assert back.get(f.name) == value


def test_partial_file_keeps_other_defaults():
    s = settings_from_toml_text("[heater]\ntarget_temp_c = 800\n")
    assert s.heater.target_temp_c == 800.0
    assert s.changed(heater__target_temp_c=780.0) == Settings()


# --- ranges, types, unknown names ------------------------------------------------------------


@pytest.mark.parametrize("f", NUMERIC, ids=lambda f: f.name)
@pytest.mark.parametrize("side", ["above_hi", "below_lo"])
def test_every_range_enforced(f, side):
    value = _just_outside(f.hi, +1) if side == "above_hi" else _just_outside(f.lo, -1)
    if isinstance(f.default, int):
        value = f.hi + 1 if side == "above_hi" else f.lo - 1
    for build in (lambda: Settings({f.name: value}),
                  lambda: settings_from_toml_text(_toml_section(f.section, **{f.key: value}), "my.toml"),
                  lambda: Settings().changed(**{f"{f.section}__{f.key}": value})):
        with pytest.raises(SettingsError) as info:
            build()
        exc = info.value
        assert exc.field == f.name
        message = str(exc)
        assert f.name in message
        assert "allowed range" in message
        assert f.allowed() in message, message
        assert f"{f.lo:g}" in message and f"{f.hi:g}" in message


@pytest.mark.parametrize("f", NUMERIC, ids=lambda f: f.name)
def test_number_fields_refuse_nan_inf_strings_and_bools(f):
    for bad in (math.nan, math.inf, -math.inf, "1.0", True, None, [1.0]):
        with pytest.raises(SettingsError) as info:
            Settings({f.name: bad})
        assert info.value.field == f.name
        assert f.allowed() in info.value.allowed        # integers: "a whole number, 0 to 100"
        assert "not a" in info.value.problem            # not a number / not a finite number
        assert f"{f.allowed()})" in str(info.value)


@pytest.mark.parametrize("f", CHOICE, ids=lambda f: f.name)
def test_choice_fields(f):
    for choice in f.choices:
        assert Settings({f.name: choice}).get(f.name) == choice
    for bad in ("not-a-choice", f.choices[0].upper() + "x", 3, True):
        with pytest.raises(SettingsError) as info:
            Settings({f.name: bad})
        assert info.value.field == f.name
        assert info.value.allowed == ", ".join(f.choices)
        assert ", ".join(f.choices) in str(info.value)


@pytest.mark.parametrize("f", BOOLEAN, ids=lambda f: f.name)
def test_boolean_fields(f):
    assert Settings({f.name: False}).get(f.name) is False
    assert Settings({f.name: True}).get(f.name) is True
    for bad in (0, 1, "true", 1.0):
        with pytest.raises(SettingsError) as info:
            Settings({f.name: bad})
        assert info.value.field == f.name


def test_wrong_type_in_toml():
    with pytest.raises(SettingsError) as info:
        settings_from_toml_text('[heater]\ntarget_temp_c = "hot"\n', "bad.toml")
    assert info.value.field == "heater.target_temp_c"
    assert info.value.source == "bad.toml"
    assert "bad.toml" in str(info.value)
    with pytest.raises(SettingsError) as info:
        settings_from_toml_text('[conversion]\npressure_compensation = 1\n')
    assert info.value.field == "conversion.pressure_compensation"
    with pytest.raises(SettingsError) as info:
        settings_from_toml_text("heater = 5\n")
    assert info.value.field == "heater"
    assert "table" in str(info.value)


def test_integer_field_refuses_fraction():
    """A fractional value for a count is refused, not truncated (max_retries = 2.5 is not 2)."""
    with pytest.raises(SettingsError) as info:
        settings_from_toml_text("[diagnostics]\nmax_retries = 2.5\n")
    assert info.value.field == "diagnostics.max_retries"
    assert "not a whole number" in info.value.problem
    assert "0 to 100" in str(info.value)
    whole = settings_from_toml_text("[diagnostics]\nmax_retries = 3.0\n")
    assert whole.diagnostics.max_retries == 3 and isinstance(whole.diagnostics.max_retries, int)


def test_unknown_key_and_section():
    with pytest.raises(SettingsError) as info:
        settings_from_toml_text("[heater]\ntarget_temp = 780\n", "u.toml")
    assert info.value.field == "heater.target_temp"
    assert "unknown" in str(info.value)
    with pytest.raises(SettingsError) as info:
        settings_from_toml_text("[heatr]\ntarget_temp_c = 780\n", "u.toml")
    assert info.value.field == "heatr"
    assert "unknown section" in str(info.value)
    assert all(section in str(info.value) for section in SECTIONS)
    with pytest.raises(SettingsError) as info:
        settings_from_toml_text("target_temp_c = 780\n")   # a key outside any section
    assert info.value.field == "target_temp_c"
    with pytest.raises(SettingsError) as info:
        Settings({"heater.nope": 1.0})
    assert info.value.field == "heater.nope"
    with pytest.raises(SettingsError) as info:
        Settings().changed(heater__nope=1.0)
    assert info.value.field == "heater.nope"


def test_invalid_toml_syntax():
    with pytest.raises(SettingsError) as info:
        settings_from_toml_text("[heater\ntarget_temp_c = 780\n", "broken.toml")
    assert info.value.field == "file"
    assert "TOML" in str(info.value)


def test_schema_version():
    assert settings_from_toml_text(f"schema_version = {SCHEMA_VERSION}\n") == Settings()
    assert settings_from_toml_text("") == Settings()   # absent: the current version
    for bad in (SCHEMA_VERSION + 1, 0, '"1"'):
        with pytest.raises(SettingsError) as info:
            settings_from_toml_text(f"schema_version = {bad}\n[heater]\ntarget_temp_c = 800\n", "v.toml")
        assert info.value.field == "schema_version"
        assert str(SCHEMA_VERSION) in str(info.value)


def test_schema_version_boolean_refused():
    with pytest.raises(SettingsError) as info:
        settings_from_toml_text("schema_version = true\n")
    assert info.value.field == "schema_version"


# --- cross-field rules --------------------------------------------------------------------------


@pytest.mark.parametrize("values, field", [
    ({"supply.off_v": 10.0, "supply.on_v": 10.0}, "supply.off_v"),
    ({"supply.off_v": 11.0, "supply.on_v": 10.0}, "supply.off_v"),
    ({"supply.on_v": 13.0, "supply.max_v": 13.0}, "supply.max_v"),
    ({"supply.on_v": 14.0, "supply.max_v": 13.0}, "supply.max_v"),
    ({"heater.boost_max_v": 11.0, "heater.continuous_max_v": 11.5, "heater.feedforward_v": 7.0},
     "heater.continuous_max_v"),
    ({"heater.boost_max_v": 8.0, "heater.continuous_max_v": 8.0, "heater.feedforward_v": 7.0}, "heater.ramp_start_v"),
    ({"heater.continuous_max_v": 7.0}, "heater.feedforward_v"),
    ({"pump.enable_margin_c": 50.0, "conversion.valid_margin_c": 100.0}, "pump.enable_margin_c"),
])
def test_cross_field_rules(values, field):
    with pytest.raises(SettingsError) as info:
        Settings(values)
    assert info.value.field == field
    sections: dict[str, list[str]] = {}
    for name, v in values.items():
        section, key = name.split(".")
        sections.setdefault(section, []).append(f"{key} = {v!r}")
    text = "\n".join(f"[{section}]\n" + "\n".join(lines) for section, lines in sections.items())
    with pytest.raises(SettingsError) as info:
        settings_from_toml_text(text)
    assert info.value.field == field


def test_cross_field_rules_allow_consistent_values():
    s = Settings({"supply.off_v": 9.0, "supply.on_v": 9.5, "supply.max_v": 15.0,
                  "heater.boost_max_v": 12.0, "heater.continuous_max_v": 12.0, "heater.ramp_start_v": 8.0,
                  "heater.feedforward_v": 12.0, "pump.enable_margin_c": 100.0, "conversion.valid_margin_c": 100.0})
    assert s.supply.off_v == 9.0 and s.heater.feedforward_v == 12.0


# --- the Bosch heater rules cannot be broken by any settings file --------------------------------


@pytest.mark.parametrize("key, value", [
    ("condensation_v", 2.01), ("condensation_v", 3.0),
    ("ramp_start_v", 8.51), ("ramp_start_v", 9.0),
    ("ramp_rate_v_per_s", 0.41), ("ramp_rate_v_per_s", 1.0),
    ("boost_max_v", 13.01), ("boost_max_v", 14.0),
    ("boost_max_s", 30.01), ("boost_max_s", 60.0),
    ("continuous_max_v", 12.01), ("continuous_max_v", 13.0),
])
def test_bosch_heater_limits_cannot_be_exceeded(key, value, tmp_path):
    path = tmp_path / "heater.toml"
    path.write_text(f"schema_version = {SCHEMA_VERSION}\n[heater]\n{key} = {value!r}\n")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert info.value.field == f"heater.{key}"
    assert str(path) in str(info.value)
    with pytest.raises(SettingsError):
        Settings().changed(**{f"heater__{key}": value})
    # Even when every other field is set to allow it.
    with pytest.raises(SettingsError):
        Settings({"heater.boost_max_v": 13.0, "heater.continuous_max_v": 12.0, f"heater.{key}": value})


def test_bosch_limits_are_the_schema_bounds():
    assert FIELDS["heater.condensation_v"].hi == 2.0
    assert FIELDS["heater.ramp_start_v"].hi == 8.5
    assert FIELDS["heater.ramp_rate_v_per_s"].hi == 0.4
    assert FIELDS["heater.boost_max_v"].hi == 13.0
    assert FIELDS["heater.boost_max_s"].hi == 30.0
    assert FIELDS["heater.continuous_max_v"].hi == 12.0
    for key in ("condensation_v", "ramp_start_v", "ramp_rate_v_per_s", "boost_max_v", "boost_max_s",
                "continuous_max_v"):
        assert FIELDS[f"heater.{key}"].lo >= 0.0


# --- immutability, and bad input changes nothing --------------------------------------------------


def test_settings_immutable_and_changed_copies():
    s = Settings()
    with pytest.raises(AttributeError):
        s.heater = None
    with pytest.raises(AttributeError):
        s._values = {}
    with pytest.raises(TypeError):
        s._values["heater.target_temp_c"] = 900.0
    t = s.changed(heater__target_temp_c=800.0)
    assert t.heater.target_temp_c == 800.0
    assert s.heater.target_temp_c == 780.0
    assert s == Settings() and t != s
    d = s.as_dict()
    d["heater.target_temp_c"] = 1.0
    assert s.get("heater.target_temp_c") == 780.0


def test_settings_sections_immutable():
    """The sections cannot be written either: that would bypass the schema and the Bosch limits
    (HeaterControl keeps settings.heater and reads it every tick)."""
    s = Settings()
    with pytest.raises((AttributeError, TypeError)):
        s.heater.ramp_rate_v_per_s = 5.0
    with pytest.raises((AttributeError, TypeError)):
        s.heater.new_key = 1.0
    with pytest.raises((AttributeError, TypeError)):
        del s.heater.ramp_rate_v_per_s
    assert s.heater.ramp_rate_v_per_s == 0.4
    assert s == Settings()


def test_settings_attributes_cannot_be_deleted():
    s = Settings()
    with pytest.raises((AttributeError, TypeError)):
        del s.heater
    assert s.heater.target_temp_c == 780.0


def test_failed_change_leaves_settings_unchanged():
    s = Settings().changed(heater__target_temp_c=800.0)
    before = s.as_dict()
    with pytest.raises(SettingsError):
        s.changed(heater__target_temp_c=800.0, heater__ramp_rate_v_per_s=1.0)
    with pytest.raises(SettingsError):
        s.changed(supply__off_v=12.0)
    assert s.as_dict() == before
    assert s.heater.target_temp_c == 800.0 and s.heater.ramp_rate_v_per_s == 0.4


def _snapshot(directory):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in directory.iterdir()}


@pytest.mark.parametrize("text", [
    "[heater]\nramp_rate_v_per_s = 0.5\n",
    "[heater]\ntarget_temp_c = 780\nbogus = 1\n",
    "[heater\n",
    "schema_version = 99\n",
    "[supply]\noff_v = 12.0\n",
])
def test_load_bad_file_raises_and_touches_nothing(tmp_path, text):
    good = tmp_path / "good.toml"
    save_settings(Settings().changed(heater__target_temp_c=790.0), good)
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    existing = load_settings(good)
    before = _snapshot(tmp_path)
    with pytest.raises(SettingsError) as info:
        load_settings(bad)
    assert str(bad) in str(info.value)
    assert _snapshot(tmp_path) == before
    assert existing == load_settings(good)
    assert existing.heater.target_temp_c == 790.0


def test_load_missing_file_creates_nothing(tmp_path):
    missing = tmp_path / "nope" / "controller.toml"
    with pytest.raises(SettingsError) as info:
        load_settings(missing)
    assert info.value.field == "file"
    assert not missing.exists() and not missing.parent.exists()
    assert os.listdir(tmp_path) == []


def test_misspelt_names_get_the_nearest_valid_one():
    with pytest.raises(SettingsError) as info:
        settings_from_toml_text("[heater]\ntarget_temp_ce = 780\n", "s.toml")
    assert (info.value.field, info.value.problem) == ("heater.target_temp_ce", "unknown setting")
    assert info.value.suggestions[0] == "target_temp_c"
    assert "did you mean 'target_temp_c'?" in str(info.value) and "ramp_rate_v_per_s" in info.value.allowed
    with pytest.raises(SettingsError) as info:
        settings_from_toml_text("[heatr]\ntarget_temp_c = 780\n", "s.toml")
    assert info.value.suggestions == ("heater",)
    with pytest.raises(SettingsError) as info:
        settings_from_toml_text("target_temp_c = 780\n", "s.toml")       # above every [section]
    assert info.value.suggestions == ("heater.target_temp_c",)
    with pytest.raises(SettingsError) as info:
        Settings({"heater.target_temp": 780.0})
    assert info.value.suggestions[0] == "heater.target_temp_c"
    with pytest.raises(SettingsError) as info:
        Settings().changed(heatre__target_temp_c=780.0)
    assert info.value.field == "heatre.target_temp_c" and info.value.suggestions == ("heater.target_temp_c",)
    with pytest.raises(SettingsError) as info:
        Settings({"conversion.fuel": "gasolin"})
    assert info.value.suggestions == ("gasoline",)


def test_settings_errors_are_input_errors_under_the_root():
    from lambdarig.common.errors import InputError, LambdarigError

    with pytest.raises(InputError) as info:
        settings_from_toml_text("[heater]\ntarget_temp_c = 1e9\n", "s.toml")
    assert isinstance(info.value, LambdarigError) and isinstance(info.value, SettingsError)
    assert info.value.allowed == "600 to 900 °C"


def test_every_section_is_declared_on_settings_for_type_checkers():
    declared = {name for name, kind in Settings.__annotations__.items() if kind == "Section"}
    assert declared == set(SECTIONS)
