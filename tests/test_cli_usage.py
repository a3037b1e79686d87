"""The command line's own usage: every --help renders clean text, and a misspelt command, option or
choice is one line naming the field, the allowed names and the nearest one, exit 2, no usage dump
(lambdarig.cli.parser). The trial's commands run as the `lambdarig` a user types (a subprocess)."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from lambdarig.cli import EXIT_USAGE, build_parser, main
from lambdarig.cli.parser import subparsers_of


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every command of the tree with its parser: (), ("simulate",), ("serve", "rig"), ..."""
    yield path, parser
    sub = subparsers_of(parser)
    for name, child in (sub.choices.items() if sub is not None else ()):
        yield from commands(child, (*path, name))


COMMANDS = dict(commands(build_parser()))
PATHS = list(COMMANDS)
# What argparse leaves in a help text it could not format: a %-format of its own Action (an
# unescaped % in a help string: "wet % at" became "wet {'option_strings': ...}t"), or a
# placeholder left over.
GARBAGE = ("%(", "{'option_strings'", "<argparse.", "_ArgumentGroup object", "%%")


def test_every_command_is_in_the_walk():
    assert ("element",) in PATHS and ("serve", "instruments") in PATHS and ("settings", "template") in PATHS
    assert len(PATHS) >= 18


@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(path) or "lambdarig")
def test_every_help_renders_clean(path, capsys):
    assert main([*path, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: lambdarig")
    for garbage in GARBAGE:
        assert garbage not in out, f"`lambdarig {' '.join(path)} --help` shows {garbage!r}"


def test_every_option_value_has_a_placeholder_of_the_house_style():
    """NAME|FILE, N, S, ... in every usage line; never argparse's dest upper-cased (--serial-number
    SERIAL_NUMBER, --seed SEED as `serve rig` showed)."""
    raw = [f"{' '.join(path)} {action.option_strings[-1]}" for path, parser in COMMANDS.items()
           for action in parser._actions
           if action.option_strings and action.nargs != 0 and action.choices is None
           and action.help != argparse.SUPPRESS and action.metavar is None]
    assert raw == []


def test_element_help_shows_the_percent_sign(capsys):
    assert main(["element", "--help"]) == 0
    assert "wet % at lambda 1, 0..3" in " ".join(capsys.readouterr().out.split())


def lambdarig(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lambdarig.cli", *argv], capture_output=True, text=True,
                          timeout=120)


TRIAL = {   # the trial's commands (notes/trial.md) -> what the one line must say
    "option": (["simulate", "--elemnt", "lsu49"],
               "lambdarig: error: simulate: --elemnt: unknown option (allowed: --help, --element, ",
               "did you mean '--element'?)"),
    "command": (["simulat"],
                "lambdarig: error: command line: COMMAND: unknown command 'simulat' (allowed: simulate, run, ",
                "did you mean 'simulate'?)"),
    "choice": (["settings", "template", "--element", "lsu48"],
               "lambdarig: error: settings template: --element: unknown value 'lsu48' (allowed: lsu49, ",
               "did you mean 'lsu42' or 'lsu49'?)"),
    "nested choice": (["serve", "instruments", "--pump-model", "keithley2401"],
                      "lambdarig: error: serve instruments: --pump-model: unknown value 'keithley2401' "
                      "(allowed: keithley2400, keithley2450; ", "did you mean 'keithley2400'"),
}


@pytest.mark.parametrize("case", TRIAL, ids=list(TRIAL))
def test_misspelt_names_get_one_line_with_the_nearest_name(case, tmp_path):
    argv, start, end = TRIAL[case]
    done = lambdarig(*argv)
    assert done.returncode == EXIT_USAGE
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr          # no usage dump
    assert lines[0].startswith(start) and end in lines[0], lines[0]
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("argv, fragment", [
    (["flash", "a.toml", "b.toml", "--port", "x"], "flash: 'b.toml': unexpected argument (allowed: lambdarig flash "),
    (["settings", "reed"], "settings: ACTION: unknown action 'reed' (allowed: read, diff, template; did you mean "
                           "'read'?)"),
    (["simulate", "--unit"], "simulate: --unit: expected one argument (allowed: --unit N)"),
    (["flash", "x.toml"], "flash: the following arguments are required: --port (see `lambdarig flash --help`)"),
    (["sweep"], "sweep: the following arguments are required: FILE|report|replay (see"),   # no ", ARG"
    # A global option after the command: where it goes (trial item 28).
    (["simulate", "-v"], "simulate: -v: is an option of lambdarig itself, not of this command (allowed: before "
                         "the command: lambdarig -v simulate ...)"),
    (["settings", "read", "--log-level", "DEBUG", "--port", "x"],
     "settings read: --log-level: is an option of lambdarig itself, not of this command (allowed: before the "
     "command: lambdarig --log-level LEVEL settings read ...)"),
])
def test_other_usage_errors_are_one_line_too(argv, fragment, capsys):
    assert main(argv) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1
    assert captured.err.startswith(f"lambdarig: error: {fragment}"), captured.err
