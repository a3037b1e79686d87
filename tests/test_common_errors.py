"""The error root and the one input-error shape: rendering, suggestions, pickling, and that every
error the package raises on purpose sits under LambdarigError (input errors under InputError)."""

from __future__ import annotations

import pickle

import pytest

from lambdarig.common.errors import InputError, LambdarigError, nearest
from lambdarig.controller.settings import SettingsError
from lambdarig.emulator.errors import EmulatorInputError
from lambdarig.hal.registry import UnknownFrontEndError, open_frontend
from lambdarig.hal.types import FrontEndError, LinkLost
from lambdarig.protocol.wire import WireError


def test_message_shape_with_allowed_and_suggestion():
    error = InputError("settings.toml", "heater.target_temp_ce", "unknown key",
                       allowed="target_temp_c, temp_filter_s", suggestions=["target_temp_c"])
    assert str(error) == ("settings.toml: heater.target_temp_ce: unknown key "
                          "(allowed: target_temp_c, temp_filter_s; did you mean 'target_temp_c'?)")
    assert (error.source, error.field, error.problem) == ("settings.toml", "heater.target_temp_ce", "unknown key")
    assert error.allowed == "target_temp_c, temp_filter_s" and error.suggestions == ("target_temp_c",)


def test_message_shape_without_extras_and_with_several_suggestions():
    assert str(InputError("a.toml", "x", "is required")) == "a.toml: x: is required"
    assert str(InputError("a.toml", "x", "bad", suggestions=["p", "q", "r"])) == \
        "a.toml: x: bad (did you mean 'p', 'q' or 'r'?)"
    assert str(InputError("a.toml", "x", "bad", allowed="1 to 2 V")) == "a.toml: x: bad (allowed: 1 to 2 V)"


def test_nearest_is_case_insensitive_best_first_and_empty_when_nothing_is_close():
    keys = ["target_temp_c", "temp_filter_s", "temp_source", "warm_skip_c"]
    assert nearest("target_temp_ce", keys)[0] == "target_temp_c"
    assert nearest("TARGET_TEMP_C", keys) == ("target_temp_c",)
    assert nearest("zzzz", keys) == ()
    assert nearest(42, keys) == ()
    assert len(nearest("temp", keys * 3, count=2)) <= 2


@pytest.mark.parametrize("error", [
    InputError("f.toml", "a.b", "bad", allowed="x", suggestions=["b"]),
    SettingsError("heater.x", "unknown setting", "s.toml", allowed="y", suggestions=["heater.y"]),
    EmulatorInputError("e.toml", "heater.r", "bad", allowed="1 to 2"),
    UnknownFrontEndError("front-end URL", "scheme", "unknown", allowed="sim", suggestions=["sim"]),
])
def test_errors_pickle_with_their_parts(error):
    # Sweeps send errors back from worker processes.
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert back.parts() == error.parts()
    assert str(back) == str(error)


def test_replace_keeps_the_type_and_changes_one_part():
    error = EmulatorInputError("s.toml", "h_c", "too big", allowed="0 to 10")
    moved = error.replace(field="fuel.h_c")
    assert type(moved) is EmulatorInputError
    assert str(moved) == "s.toml: fuel.h_c: too big (allowed: 0 to 10)"
    settings = SettingsError("heater.x", "bad", "a.toml").replace(source="b.toml")
    assert type(settings) is SettingsError and settings.source == "b.toml" and settings.field == "heater.x"


def test_settings_error_keeps_its_argument_order_and_default_source():
    error = SettingsError("heater.target_temp_c", "is too hot")
    assert (error.source, error.field, error.problem) == ("settings", "heater.target_temp_c", "is too hot")
    assert str(error) == "settings: heater.target_temp_c: is too hot"


def test_every_error_type_sits_under_the_root():
    for input_type in (InputError, SettingsError, EmulatorInputError, UnknownFrontEndError):
        assert issubclass(input_type, InputError) and issubclass(input_type, ValueError)
    for other in (FrontEndError, LinkLost, WireError, UnknownFrontEndError):
        assert issubclass(other, LambdarigError)
    assert issubclass(FrontEndError, RuntimeError) and issubclass(WireError, ValueError)


def test_unknown_scheme_is_input_error_and_front_end_error_with_a_suggestion():
    with pytest.raises(UnknownFrontEndError) as info:
        open_frontend("smi:lsu49")
    assert isinstance(info.value, FrontEndError) and isinstance(info.value, InputError)
    assert info.value.field == "scheme" and "'smi'" in info.value.problem
    assert info.value.suggestions == ("sim",)
    with pytest.raises(InputError) as info:
        open_frontend("   ")
    assert info.value.field == "url"


def test_sim_option_errors_are_input_errors_with_suggestions():
    with pytest.raises(InputError) as info:
        open_frontend("sim:lsu49?sede=3")
    assert info.value.source == "sim front end"
    assert "'sede'" in info.value.field and "unknown" in info.value.problem
    assert info.value.suggestions == ("seed",) and "scenario" in info.value.allowed
    with pytest.raises(InputError) as info:
        open_frontend("sim:lsu49", max_stp_s=0.001)
    assert info.value.suggestions == ("max_step_s",)
    with pytest.raises(InputError, match="'seed'"):
        open_frontend("sim:lsu49?seed=-1")
