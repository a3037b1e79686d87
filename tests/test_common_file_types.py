"""Every input file type (settings, element, scenario) refuses every kind of bad file the same way:
an InputError (of the file type's own subclass) naming the file, the field, the problem, what is
allowed and, for a mistyped key, the nearest valid one; on the command line, exit 2 and one line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from lambdarig.cli import main
from lambdarig.common.errors import InputError, LambdarigError
from lambdarig.controller.settings import SettingsError, load_settings
from lambdarig.emulator.element_spec import load_element
from lambdarig.emulator.errors import EmulatorInputError
from lambdarig.emulator.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]
LSU49_TEXT = (REPO / "emulator" / "elements" / "lsu49.toml").read_text(encoding="utf-8")
HUGE = "9" * 400
DEEP = "[" * 3000 + "]" * 3000


@dataclass(frozen=True)
class FileType:
    name: str
    load: Callable[[str], object]
    error: type[InputError]
    valid: str                  # a file that loads
    field: str                  # a numeric field ...
    unit_range: str             # ... and its allowed range as the message gives it
    typo: str                   # a misspelling of `field`'s key
    suggestion: str             # the key it should suggest

    def with_value(self, value: str) -> str:
        """The valid file with `field` set to `value` (TOML text)."""
        key = self.field.rsplit(".", 1)[-1]
        text, count = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", self.valid, count=1)
        assert count == 1, f"{self.name}: no line for {key}"
        return text

    def with_typo(self) -> str:
        key = self.field.rsplit(".", 1)[-1]
        return re.sub(rf"(?m)^{key} = ", f"{self.typo} = ", self.valid, count=1)


FILE_TYPES = [
    FileType("settings", load_settings, SettingsError,
             "schema_version = 1\n[heater]\ntarget_temp_c = 780.0\n",
             "heater.target_temp_c", "600 to 900 °C", "target_temp_ce", "target_temp_c"),
    FileType("element", lambda path: load_element(path), EmulatorInputError, LSU49_TEXT,
             "operating_temp_c", "300 to 1100 °C", "operating_temp", "operating_temp_c"),
    FileType("scenario", load_scenario, EmulatorInputError,
             'name = "t"\nduration_s = 60.0\n[[at]]\nt_s = 1\nlambda = 0.9\n',
             "duration_s", "above 0 and at most 86400 s", "duraton_s", "duration_s"),
]
IDS = [t.name for t in FILE_TYPES]


def refused(kind: FileType, path: Path) -> InputError:
    with pytest.raises(kind.error) as info:
        kind.load(str(path))
    error = info.value
    assert isinstance(error, InputError) and isinstance(error, LambdarigError) and isinstance(error, ValueError)
    assert error.source == str(path)
    assert str(error).startswith(f"{path}: {error.field}: {error.problem}")
    return error


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "input.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", FILE_TYPES, ids=IDS)
def test_the_valid_file_loads(kind, tmp_path):
    kind.load(str(write(tmp_path, kind.valid)))


@pytest.mark.parametrize("kind", FILE_TYPES, ids=IDS)
def test_unknown_key_is_named_with_the_nearest_valid_one(kind, tmp_path):
    error = refused(kind, write(tmp_path, kind.with_typo()))
    assert error.field.rsplit(".", 1)[-1] == kind.typo
    assert "unknown" in error.problem
    assert kind.suggestion in error.suggestions
    assert f"did you mean '{kind.suggestion}'" in str(error)
    assert kind.suggestion in error.allowed


@pytest.mark.parametrize("kind", FILE_TYPES, ids=IDS)
def test_bad_type_names_field_and_range(kind, tmp_path):
    error = refused(kind, write(tmp_path, kind.with_value('"hot"')))
    assert error.field == kind.field
    assert error.problem == "'hot' is not a number"
    assert error.allowed.startswith(kind.unit_range)


@pytest.mark.parametrize("kind", FILE_TYPES, ids=IDS)
def test_out_of_range_names_field_and_range(kind, tmp_path):
    error = refused(kind, write(tmp_path, kind.with_value("1e9")))
    assert error.field == kind.field
    assert "outside the allowed range" in error.problem and "1e+09" in error.problem
    assert error.allowed.startswith(kind.unit_range)
    assert kind.unit_range in str(error)


@pytest.mark.parametrize("kind", FILE_TYPES, ids=IDS)
def test_a_400_digit_integer_is_refused_not_an_overflow(kind, tmp_path):
    error = refused(kind, write(tmp_path, kind.with_value(HUGE)))
    assert error.field == kind.field
    assert error.problem == "a 400-digit integer is outside the allowed range"
    assert len(str(error)) < 300   # the number is described, not quoted


@pytest.mark.parametrize("kind", FILE_TYPES, ids=IDS)
def test_an_integer_past_the_digit_limit_is_refused(kind, tmp_path):
    error = refused(kind, write(tmp_path, kind.with_value("9" * 5000)))
    assert error.field == "file"
    assert "too long" in error.problem


@pytest.mark.parametrize("kind", FILE_TYPES, ids=IDS)
def test_deep_nesting_is_refused_not_a_recursion_error(kind, tmp_path):
    error = refused(kind, write(tmp_path, kind.with_value(DEEP)))
    assert error.field == "file"
    assert "nested too deeply" in error.problem


@pytest.mark.parametrize("kind", FILE_TYPES, ids=IDS)
def test_toml_syntax_error_gives_its_line(kind, tmp_path):
    error = refused(kind, write(tmp_path, kind.valid + "\n[broken\n"))
    assert error.field == "file"
    assert "not valid TOML" in error.problem
    assert f"line {kind.valid.count(chr(10)) + 2}" in error.problem


@pytest.mark.parametrize("kind", FILE_TYPES, ids=IDS)
def test_non_utf8_names_the_file_and_line(kind, tmp_path):
    error = refused(kind, write(tmp_path, b"# fine\n# caf\xe9 au lait\n" + kind.valid.encode()))
    assert error.field == "file"
    assert "not UTF-8" in error.problem and "0xe9" in error.problem and "line 2" in error.problem


@pytest.mark.parametrize("kind", FILE_TYPES, ids=IDS)
def test_missing_file(kind, tmp_path):
    error = refused(kind, tmp_path / "absent.toml")
    assert error.field == "file"
    assert error.problem == "no such file"


@pytest.mark.parametrize("kind", FILE_TYPES, ids=IDS)
def test_directory_is_refused(kind, tmp_path):
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    error = refused(kind, folder)
    assert error.field == "file"
    assert "is a directory" in error.problem


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this platform")
@pytest.mark.timeout(20)
@pytest.mark.parametrize("kind", FILE_TYPES, ids=IDS)
def test_fifo_is_refused_without_waiting_for_a_writer(kind, tmp_path):
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    error = refused(kind, fifo)
    assert error.field == "file"
    assert "FIFO" in error.problem


# --- the same refusals on the command line: exit 2, one line, no traceback ------------------------

CLI = {
    "settings": lambda path: ["simulate", "--settings", path, "--duration", "0.1", "--quiet"],
    "element": lambda path: ["element", path],
    "scenario": lambda path: ["simulate", "--scenario", path, "--duration", "0.1", "--quiet"],
}


@pytest.mark.parametrize("kind", FILE_TYPES, ids=IDS)
@pytest.mark.parametrize("case", ["typo", "huge", "deep", "binary"])
def test_cli_exit_2_with_one_line(kind, case, tmp_path, capsys):
    text = {"typo": kind.with_typo(), "huge": kind.with_value(HUGE), "deep": kind.with_value(DEEP),
            "binary": b"\xff" + kind.valid.encode()}[case]
    path = write(tmp_path, text)
    assert main(CLI[kind.name](str(path))) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"lambdarig: error: {path}: "), captured.err
    assert "Traceback" not in captured.err
    if case == "typo":
        assert f"did you mean '{kind.suggestion}'?" in lines[0]
