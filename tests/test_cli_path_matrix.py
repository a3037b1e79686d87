"""Every command-line option that takes a path, at every kind of path that is not a usable file
(issue 16, item 7): a directory, a missing folder, /dev/full, /dev/null, a FIFO, a read-only place
(/proc, /sys: root writes anywhere else), a non-UTF-8 file, a name too long for the system.

Expected of each: exit 2, one line on stderr naming the option or the path, no traceback, nothing on
stdout, no hang, no stray file (nothing created, the FIFO not opened). Each case is a process of its
own (tests/tools/cli_forks.py forks one per case from one interpreter: a real exit code and real
stderr, without paying for an interpreter start 100 times).

Done elsewhere: `serve rig --flash`, `settings read --out` (test_rig_cli_paths.py), `serve instruments
--station-out` (test_station_out.py), `udev install --dest` (test_udev_cli.py); `simulate --log` at a
directory, a missing folder and /dev/full belongs to the signal/disk-full work, so only its other
kinds are here. `calibrate --out` writes a profile of the user's (never into the package) and
`element --set` takes values, not files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "tests" / "tools" / "cli_forks.py"
CASE_LIMIT_S = 20.0     # a refusal takes milliseconds; only a hang gets near this
LONG = "a" * 300        # longer than a file name may be (255 bytes)
PORT = "/nonexistent/lambdarig-test-tty"   # flash/settings diff must refuse the file before the port

INPUT_OPTIONS = {
    # name -> argv with {} where the path goes
    "simulate --settings": ["simulate", "--duration", "0.1", "--quiet", "--settings", "{}"],
    "simulate --scenario": ["simulate", "--duration", "0.1", "--quiet", "--scenario", "{}"],
    "simulate --element": ["simulate", "--duration", "0.1", "--quiet", "--element", "{}"],
    "run --settings": ["run", "--hal", "sim:lsu49", "--duration", "0.1", "--quiet", "--settings", "{}"],
    "run --hal sim:ELEMENT": ["run", "--hal", "sim:{}", "--duration", "0.1", "--quiet"],
    "run --hal visa:STATION": ["run", "--hal", "visa:{}", "--duration", "0.1", "--quiet"],
    "flash FILE": ["flash", "--port", PORT, "{}"],
    "settings diff FILE": ["settings", "diff", "--port", PORT, "{}"],
    "element FILE": ["element", "{}"],
}

OUTPUT_OPTIONS = {
    "simulate --plot": ["simulate", "--duration", "0.1", "--quiet", "--plot", "{}"],
    "run --log": ["run", "--hal", "sim:lsu49", "--duration", "0.1", "--quiet", "--log", "{}"],
    "run --plot": ["run", "--hal", "sim:lsu49", "--duration", "0.1", "--quiet", "--plot", "{}"],
    # the kinds not covered by the disk-full/folder work on simulate --log
    "simulate --log": ["simulate", "--duration", "0.1", "--quiet", "--log", "{}"],
    "calibrate --out": ["calibrate", "lsu49", "--quiet", "--out", "{}"],
}
SIMULATE_LOG_ELSEWHERE = ("directory", "missing-folder", "dev-full")


def input_kinds(tmp: Path) -> dict[str, tuple[str, str]]:
    """kind -> (path, a word the one-line error must contain)."""
    (tmp / "folder").mkdir()
    os.mkfifo(tmp / "fifo")
    (tmp / "latin1.toml").write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    return {
        "directory": (str(tmp / "folder"), "directory"),
        "missing-folder": (str(tmp / "no" / "such" / "x.toml"), "no such file"),
        "dev-full": ("/dev/full", "device"),
        "dev-null": ("/dev/null", "device"),
        "fifo": (str(tmp / "fifo"), "FIFO"),
        "proc": ("/proc/version", "not valid TOML"),
        "non-utf8": (str(tmp / "latin1.toml"), "not UTF-8"),
        "name-too-long": (str(tmp / f"{LONG}.toml"), "name too long"),
    }


def output_kinds(tmp: Path, suffix: str) -> dict[str, tuple[str, str]]:
    return {
        "directory": (str(tmp / "folder"), "folder"),
        "missing-folder": (str(tmp / "no" / "such" / f"x{suffix}"), "does not exist"),
        "dev-full": ("/dev/full", "device"),
        "dev-null": ("/dev/null", "device"),
        "fifo": (str(tmp / "fifo"), "FIFO"),
        "proc": (f"/proc/lambdarig-test{suffix}", "cannot be written"),
        "sys": (f"/sys/lambdarig-test{suffix}", "cannot be written"),
        "name-too-long": (str(tmp / f"{LONG}{suffix}"), "name too long"),
    }


def run_forked(cases: list[dict], tmp: Path) -> dict[str, dict]:
    spec, results = tmp.parent / f"{tmp.name}-cases.json", tmp.parent / f"{tmp.name}-results.json"
    spec.write_text(json.dumps({"limit_s": CASE_LIMIT_S, "parallel": 4, "cases": cases}))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tests"))
    subprocess.run([sys.executable, str(RUNNER), str(spec), str(results)], check=True, env=env, cwd=tmp,
                   timeout=CASE_LIMIT_S * 3 + 30)
    return json.loads(results.read_text())


def _fill(argv: list[str], path: str) -> list[str]:
    return [part.replace("{}", path) for part in argv]


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def judge(name: str, result: dict, word: str) -> str | None:
    """Why a refusal is not as expected, or None."""
    err = result["stderr"]
    lines = [line for line in err.splitlines() if line.strip()]
    if result["rc"] is None:
        return f"{name}: hung (killed after {CASE_LIMIT_S:g} s)"
    if "Traceback" in err:
        return f"{name}: traceback: {err[-600:]}"
    if result["rc"] != 2:
        return f"{name}: exit {result['rc']}, not 2: {err[-300:]!r}"
    if len(lines) != 1 or not lines[0].startswith("lambdarig: error: "):
        return f"{name}: not one error line: {err[-400:]!r}"
    if word.lower() not in lines[0].lower():
        return f"{name}: the line does not say {word!r}: {lines[0][:300]!r}"
    if len(lines[0]) > 1000:
        return f"{name}: the line is {len(lines[0])} characters long"
    if result["stdout"].strip():
        return f"{name}: printed on stdout: {result['stdout'][:200]!r}"
    return None


@pytest.fixture
def matrix_dir(tmp_path):
    tmp = tmp_path / "paths"
    tmp.mkdir()
    return tmp


def test_every_input_path_option_refuses_every_non_file(matrix_dir):
    kinds = input_kinds(matrix_dir)
    cases, words = [], {}
    for option, argv in INPUT_OPTIONS.items():
        for kind, (path, word) in kinds.items():
            name = f"{option} × {kind}"
            cases.append({"name": name, "argv": _fill(argv, path), "cwd": str(matrix_dir)})
            words[name] = word
    before = _tree(matrix_dir)
    results = run_forked(cases, matrix_dir)
    failures = [why for name, result in results.items() if (why := judge(name, result, words[name]))]
    assert not failures, f"{len(failures)} of {len(cases)} cases:\n" + "\n".join(failures)
    assert _tree(matrix_dir) == before, "a file was created or removed"
    assert Path(kinds["fifo"][0]).is_fifo()
    assert not (matrix_dir / "no").exists()


def test_every_output_path_option_refuses_every_unwritable_place(matrix_dir):
    (matrix_dir / "folder").mkdir()
    os.mkfifo(matrix_dir / "fifo")
    cases, words = [], {}
    for option, argv in OUTPUT_OPTIONS.items():
        suffix = ".csv" if "--log" in option else ".toml" if "--out" in option else ".png"
        for kind, (path, word) in output_kinds(matrix_dir, suffix).items():
            if option == "simulate --log" and kind in SIMULATE_LOG_ELSEWHERE:
                continue
            name = f"{option} × {kind}"
            cases.append({"name": name, "argv": _fill(argv, path), "cwd": str(matrix_dir)})
            words[name] = word
    before = _tree(matrix_dir)
    results = run_forked(cases, matrix_dir)
    failures = [why for name, result in results.items() if (why := judge(name, result, words[name]))]
    assert not failures, f"{len(failures)} of {len(cases)} cases:\n" + "\n".join(failures)
    assert _tree(matrix_dir) == before, "a file was created, left behind or removed"
    assert (matrix_dir / "fifo").is_fifo()
    for suffix in (".csv", ".png"):
        assert not Path(f"/proc/lambdarig-test{suffix}").exists()
        assert not Path(f"/sys/lambdarig-test{suffix}").exists()


def test_a_usable_output_path_is_still_written_and_an_existing_file_replaced(matrix_dir):
    """The writability probe leaves nothing behind and does not refuse what is fine."""
    old = matrix_dir / "old.csv"
    old.write_bytes(b"\xff\xfe not a log\n")
    cases = [{"name": "new", "argv": ["run", "--hal", "sim:lsu49", "--duration", "0.2", "--quiet", "--log",
                                      str(matrix_dir / "new.csv"), "--plot", str(matrix_dir / "new.png")]},
             {"name": "replace", "argv": ["run", "--hal", "sim:lsu49", "--duration", "0.2", "--quiet",
                                          "--log", str(old)]}]
    results = run_forked(cases, matrix_dir)
    for name, result in results.items():
        assert result["rc"] == 0 and "Traceback" not in result["stderr"], (name, result["stderr"][-600:])
    # no probe file left; each CSV log has its metadata beside it
    assert _tree(matrix_dir) == {"old.csv", "new.csv", "new.png", "old.csv.json", "new.csv.json"}
    assert (matrix_dir / "new.png").read_bytes()[:4] == b"\x89PNG"
    assert old.read_text(encoding="utf-8").startswith("#") or "," in old.read_text(encoding="utf-8")


def test_a_scenario_name_too_long_is_one_line(matrix_dir):
    cases = [{"name": "long", "argv": ["simulate", "--duration", "0.1", "--quiet", "--scenario", LONG]}]
    result = run_forked(cases, matrix_dir)["long"]
    assert judge("simulate --scenario LONG", result, "scenario") is None, result["stderr"][-400:]
