"""Start-up stays light, checked on structure (which modules a command imports), never on time:
`lambdarig simulate` imports none of the heavy optional libraries (they load only in the commands
and options that use them), and the command line imports only the chosen command's module.
benchmarks/startup.py has the timings."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lambdarig.cli import COMMANDS, build_parser, chosen_command

# Imported only where used: the MDF4 log, the live view, CAN, sweeps, DataFrames, plots, pymeasure,
# the VISA and serial front ends, the browser test's driver.
HEAVY = ("asammdf", "starlette", "uvicorn", "can", "cantools", "dask", "distributed", "pandas", "matplotlib",
         "pymeasure", "pyvisa", "pyvisa_py", "serial", "pyarrow", "bokeh", "scipy", "playwright")
# lambdarig's own parts that `simulate` does not use.
NOT_FOR_SIMULATE = ("lambdarig.sweep", "lambdarig.live", "lambdarig.pymeasure", "lambdarig.cli.flash",
                    "lambdarig.cli.calibrate", "lambdarig.cli.cmd_sweep", "lambdarig.cli.cmd_udev",
                    "lambdarig.hal.visa_frontend", "lambdarig.can_output", "lambdarig.hal.can_bus",
                    "lambdarig.protocol",
                    # several sensors in one run: only for a run of several
                    "lambdarig.channels_api", "lambdarig.channels_session", "lambdarig.controller.interleaved",
                    # the log writers (and telemetry, which re-exports them): only with --log
                    "lambdarig.logs", "lambdarig.telemetry")

WRAPPER = """
import json, sys
from lambdarig.cli import main
code = main(sys.argv[1:])
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
sys.exit(code)
"""


def modules_after(*argv: str) -> set[str]:
    """The modules loaded once `lambdarig ARGV` has run in a fresh interpreter."""
    proc = subprocess.run([sys.executable, "-c", WRAPPER, *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    line = proc.stderr.rsplit("\nMODULES ", 1)[1]
    return set(json.loads(line))


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(name for name in names if name in modules or any(m.startswith(name + ".") for m in modules))


def test_simulate_imports_no_heavy_library():
    modules = modules_after("simulate", "--duration", "0.1", "--json", "--quiet")
    assert loaded(modules, HEAVY) == []
    assert loaded(modules, NOT_FOR_SIMULATE) == []
    assert "lambdarig.cli.cmd_simulate" in modules and "lambdarig.cli.cmd_run" not in modules


def test_the_whole_parser_imports_no_heavy_library():
    """`lambdarig --help` registers every command: registering stays cheap."""
    modules = modules_after("scenarios")
    assert loaded(modules, HEAVY) == []
    proc = subprocess.run([sys.executable, "-c", WRAPPER.replace("main(sys.argv[1:])", "main(['--help'])")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "simulate" in proc.stdout
    assert loaded(set(json.loads(proc.stderr.rsplit("\nMODULES ", 1)[1])), HEAVY) == []


@pytest.mark.parametrize("argv, name", [
    (["simulate", "--duration", "1"], "simulate"),
    (["-v", "run", "sim:lsu49"], "run"),
    (["-vv", "simulate"], "simulate"),
    (["--verbose", "sweep", "report"], "sweep"),
    (["--log-level", "debug", "scenarios"], "scenarios"),
    (["--log-level=debug", "udev", "print"], "udev"),
    (["--log", "info", "element"], "element"),
    (["--help"], None), (["-h", "simulate"], None), (["--version"], None), ([], None),
    (["simulat"], None), (["--", "simulate"], None), (["--bogus", "simulate"], None),
])
def test_chosen_command(argv, name):
    assert chosen_command(argv) == name


@pytest.mark.parametrize("argv", [
    ["simulate", "--duration", "2", "--json", "--element", "lsu49", "--element", "sealed-ref"],
    ["-vv", "--log-level", "info", "scenarios"],
    ["run", "--hal", "sim:lsu49", "--duration", "1"],
    ["element", "--lambda", "1.1", "--json"],
    ["udev", "print"],
    ["settings", "template"],
])
def test_one_command_parses_as_the_whole_parser(argv):
    """The parser built for the chosen command alone reads the command line as the whole one does."""
    expected = vars(build_parser().parse_args(argv))
    assert vars(build_parser(chosen_command(argv)).parse_args(argv)) == expected


def test_every_command_is_registered_under_its_name():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, type(parser._subparsers._group_actions[0])))
    assert list(subparsers.choices) == list(COMMANDS)


# --- the kernel for a short run ---------------------------------------------------------------------

def command_modules(env_no_jit: str | None, duration: str) -> set[str]:
    """The modules of `python -m lambdarig.cli simulate` (the command owning its process)."""
    code = ("import json, runpy, sys\n"
            "try:\n"
            "    runpy.run_module('lambdarig.cli', run_name='__main__')\n"
            "finally:\n"
            "    sys.stderr.write('\\nMODULES ' + json.dumps(sorted(sys.modules)) + '\\n')\n")
    env = {k: v for k, v in os.environ.items() if k != "LAMBDARIG_NO_JIT"}
    if env_no_jit is not None:
        env["LAMBDARIG_NO_JIT"] = env_no_jit
    proc = subprocess.run([sys.executable, "-c", code, "simulate", "--duration", duration, "--json", "--quiet"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stderr.rsplit("\nMODULES ", 1)[1]))


def test_a_short_simulate_does_not_load_numba():
    """Below COMPILE_FROM_SIM_S the command runs the kernel as Python: numba is not imported."""
    assert "numba" not in command_modules(None, "0.1")


def test_no_jit_0_forces_the_compiled_kernel():
    pytest.importorskip("numba")
    assert "numba" in command_modules("0", "0.1")


def test_choose_kernel_by_simulated_seconds(monkeypatch):
    from lambdarig.cli import cmd_simulate
    asked = []
    monkeypatch.setattr(cmd_simulate.jit, "prefer_python", lambda: asked.append(True) or True)
    limit = cmd_simulate.COMPILE_FROM_SIM_S
    assert cmd_simulate.choose_kernel(limit - 1.0, 1) and len(asked) == 1
    assert not cmd_simulate.choose_kernel(limit, 1) and len(asked) == 1
    assert not cmd_simulate.choose_kernel(limit / 2 + 1.0, 2) and len(asked) == 1   # summed over the elements
    assert not cmd_simulate.choose_kernel(None, 1) and len(asked) == 1              # unknown length: compiled


def test_in_process_callers_keep_the_compiled_kernel(monkeypatch):
    """main(argv) from a larger program (the tests, a notebook) makes no process-wide choice."""
    from lambdarig.cli import cmd_simulate
    monkeypatch.setattr(cmd_simulate.jit, "prefer_python", lambda: pytest.fail("chose for the whole process"))
    monkeypatch.setattr(cmd_simulate.api, "simulate", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    from lambdarig.cli import main
    main(["simulate", "--duration", "0.1", "--json", "--quiet"])


BLAS_THREADS = """
import os, sys
sys.argv = ["lambdarig", "scenarios"]
from lambdarig.cli import main
main()
import numpy
print("OPENBLAS", os.environ.get("OPENBLAS_NUM_THREADS"))
"""


@pytest.mark.parametrize(("preset", "expected"), [(None, "1"), ("3", "3")])
def test_the_command_starts_numpy_without_a_blas_thread_pool(preset, expected):
    """The `lambdarig` command (main() on the process's own argv) asks OpenBLAS for one thread before
    numpy is imported; a value the user has set stays."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if preset is not None:
        env["OPENBLAS_NUM_THREADS"] = preset
    proc = subprocess.run([sys.executable, "-c", BLAS_THREADS], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert f"OPENBLAS {expected}" in proc.stdout.splitlines(), proc.stdout
