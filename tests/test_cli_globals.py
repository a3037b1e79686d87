"""The command line's global options and commands that list or template: --version, -v/--log-level,
`scenarios`, `settings template` (loads back to the same settings for every element), and a reader
that goes away early (`| head -1`) ending every command quietly."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

import lambdarig
from lambdarig.cli import EXIT_BROKEN_PIPE, cmd_scenarios, main
from lambdarig.controller.profiles import settings_for_element
from lambdarig.controller.settings import ELEMENT_CHOICES, SCHEMA, load_settings, settings_from_toml_text
from lambdarig.emulator.scenario import builtin_scenarios


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"lambdarig {lambdarig.__version__}\n"


def test_version_comes_from_the_package_metadata():
    from importlib.metadata import version
    assert lambdarig.__version__ == version("lambdarig")


def test_log_level_turns_on_the_lambdarig_loggers(monkeypatch, capsys):
    seen = {}

    def fake_run(args):
        logging.getLogger("lambdarig.visa.pump").debug("QUERY *IDN? -> fake")
        logging.getLogger("lambdarig").info("progress line")
        seen["level"] = logging.getLogger("lambdarig").level
        return 0

    from lambdarig.cli import cmd_scenarios as module
    monkeypatch.setattr(module, "run", fake_run)
    before = logging.getLogger("lambdarig").level
    assert main(["--log-level", "debug", "scenarios"]) == 0
    err = capsys.readouterr().err
    assert "lambdarig.visa.pump DEBUG: QUERY *IDN? -> fake" in err
    assert "lambdarig INFO: progress line" in err
    assert seen["level"] == logging.DEBUG
    assert logging.getLogger("lambdarig").level == before   # as before once the command ends
    assert main(["-v", "scenarios"]) == 0
    err = capsys.readouterr().err
    assert "progress line" in err and "QUERY" not in err      # -v is INFO
    assert main(["-vv", "scenarios"]) == 0
    assert "QUERY *IDN?" in capsys.readouterr().err
    assert main(["scenarios"]) == 0                           # no option: nothing logged
    assert capsys.readouterr().err == ""


def test_bad_log_level_is_bad_input_with_the_levels_and_the_nearest(capsys):
    assert main(["--log-level", "debgu", "scenarios"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    assert "--log-level" in lines[0] and "DEBUG, INFO, WARNING, ERROR, CRITICAL" in lines[0]
    assert "did you mean 'DEBUG'?" in lines[0] or "did you mean DEBUG?" in lines[0]


def test_scenarios_lists_every_builtin_with_duration_and_description(capsys):
    assert main(["scenarios"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = list(builtin_scenarios())
    assert [line.split()[0] for line in lines] == names
    default = next(line for line in lines if line.startswith("default "))
    assert " 60 s  Main demo: cold start" in default
    assert main(["scenarios", "--json"]) == 0
    import json
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == names
    assert all(r["duration_s"] > 0 and r["description"] for r in rows)


def test_scenario_without_description_falls_back_to_its_first_comment(monkeypatch, tmp_path):
    path = tmp_path / "plain.toml"
    path.write_text("# Plain: lambda 1.0 for 5 s.\n# more text\nname = \"plain\"\nduration_s = 5\n")
    monkeypatch.setattr(cmd_scenarios, "builtin_scenarios", lambda: {"plain": ""})
    monkeypatch.setattr(cmd_scenarios, "builtin_path", lambda name: path)
    monkeypatch.setattr(cmd_scenarios, "load_scenario", lambda name: __import__(
        "lambdarig.emulator.scenario", fromlist=["load_scenario"]).load_scenario(str(path)))
    assert cmd_scenarios.scenario_rows() == [("plain", 5.0, "Plain: lambda 1.0 for 5 s.")]


@pytest.mark.parametrize("element", ELEMENT_CHOICES)
def test_settings_template_loads_back_to_the_same_settings(element, capsys, tmp_path):
    assert main(["settings", "template", "--element", element]) == 0
    text = capsys.readouterr().out
    path = tmp_path / f"{element}.toml"
    path.write_text(text)
    expected = settings_for_element(element)
    assert load_settings(path) == expected
    assert settings_from_toml_text(text) == expected
    lines = text.splitlines()
    for field in SCHEMA:   # every key, under a comment with its meaning, unit and range
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{field.key} = ")
                     and _section_of(lines, i) == field.section)
        comment = lines[index - 1]
        assert comment.startswith("# ") and field.doc in comment and field.allowed() in comment
        if field.unit:
            assert f"unit {field.unit}" in comment


def _section_of(lines, index):
    return next(line.strip("[]") for line in reversed(lines[:index]) if line.startswith("["))


def test_settings_template_default_is_lsu49_and_an_unknown_element_is_refused(capsys):
    assert main(["settings", "template"]) == 0
    assert 'element = "lsu49"' in capsys.readouterr().out
    assert main(["settings", "template", "--element", "lsu48"]) == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["udev", "print"], ["element", "--list"], ["settings", "template"],
                                  ["scenarios"], ["--help"]])
def test_a_reader_that_goes_away_ends_the_command_quietly(argv):
    # A real pipe whose read end is closed before the command writes: its write fails with EPIPE.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([sys.executable, "-m", "lambdarig.cli", *argv], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode in (0, EXIT_BROKEN_PIPE)


def test_head_dash_1_in_a_shell_pipeline():
    # The issue's own words: `lambdarig udev print | head -1` ends without a traceback.
    done = subprocess.run(["sh", "-c", f"'{sys.executable}' -m lambdarig.cli settings template | head -1; "
                                       f"'{sys.executable}' -m lambdarig.cli udev print | head -1"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stderr == ""
    assert len(done.stdout.splitlines()) == 2


def test_broken_pipe_in_process_is_exit_141(monkeypatch, capsys):
    def broken(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cmd_scenarios, "run", broken)
    assert main(["scenarios"]) == EXIT_BROKEN_PIPE == 141
    assert capsys.readouterr().err == ""


def test_a_bad_log_level_always_names_the_nearest_one(capsys):
    assert main(["--log-level", "verbose", "scenarios"]) == 2
    assert "did you mean 'ERROR'?" in capsys.readouterr().err
    assert main(["--log-level", "warn", "scenarios"]) == 2
    assert "did you mean 'WARNING'?" in capsys.readouterr().err


@pytest.mark.slow
def test_log_level_debug_shows_the_scpi_trace_of_a_visa_run(tmp_path, capsys):
    from lambdarig.emulator.instruments import InstrumentStation
    station_file = tmp_path / "station.toml"
    with InstrumentStation(element="lsu49", scenario="default", seed=0) as station:
        station.write_station_file(station_file, loop_hz=50)
        code = main(["--log-level", "DEBUG", "run", "--hal", f"visa:{station_file}", "--duration", "1", "--json"])
    assert code == 0
    err = capsys.readouterr().err
    assert "lambdarig.visa" in err and "QUERY *IDN?" in err


def test_a_broken_pipe_that_is_not_stdout_keeps_its_traceback(monkeypatch, tmp_path):
    def broken(args):
        raise BrokenPipeError(32, "Broken pipe")   # e.g. a socket the command wrote to

    monkeypatch.setattr(cmd_scenarios, "run", broken)
    with open(tmp_path / "out.txt", "w") as out:   # stdout a healthy file: not the reader going away
        monkeypatch.setattr(sys, "stdout", out)
        with pytest.raises(BrokenPipeError):
            main(["scenarios"])
