"""Output paths that cannot take the output: a full disk mid-run (/dev/full), a directory, a missing
folder for `simulate --log`; /proc and a missing tree for `udev install --dest`. One line on stderr,
an exit code, no traceback, nothing created that was not asked for, and the outputs safe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import lambdarig
from lambdarig.cli import main
from lambdarig.hal.registry import open_frontend
from lambdarig.telemetry import OutputError

ROOT = Path(__file__).resolve().parents[1]
FULL = Path("/dev/full")


def _cli(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "lambdarig", *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full (Linux)")
def test_simulate_log_on_a_full_disk_is_one_line_and_exit_1():
    proc = _cli("simulate", "--duration", "20", "--log", str(FULL), "--quiet")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"lambdarig: error: cannot write the log {FULL}: No space left on device; outputs made safe, run ended"]


@pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full (Linux)")
def test_full_disk_mid_run_leaves_the_front_end_safe_and_closed():
    fe = open_frontend("sim:lsu49", scenario="default")
    with pytest.raises(OutputError, match="No space left on device"):
        lambdarig.run(fe, duration_s=30.0, log=FULL, keep_samples=False)
    board = fe.rig.board
    assert board.heater_duty == 0.0 and board.pump_command_a == 0.0
    assert fe.now() > 0.0                       # it ran until the buffer's first flush failed
    with pytest.raises(lambdarig.hal.types.FrontEndError):
        fe.sample()                             # closed


@pytest.mark.parametrize("where", ["folder", "missing"])
def test_simulate_log_at_a_folder_or_in_a_missing_folder_is_refused_before_running(tmp_path, capsys, where):
    path = tmp_path if where == "folder" else tmp_path / "nope" / "run.csv"
    assert main(["simulate", "--duration", "1", "--log", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--log" in err
    assert not (tmp_path / "nope").exists()


def test_udev_install_into_proc_is_refused_cleanly(capsys):
    assert main(["udev", "install", "--dest", "/proc"]) == 2
    err = capsys.readouterr().err
    # As root: /proc takes no new files; as a user: not writable. Either way one refusal naming it.
    assert err.startswith("lambdarig: error: udev install: ") and "/proc" in err and "Traceback" not in err


def test_udev_install_does_not_grow_a_missing_tree(tmp_path, capsys):
    dest = tmp_path / "nonexistent" / "x"
    assert main(["udev", "install", "--dest", str(dest)]) == 2
    err = capsys.readouterr().err
    assert f"folder {tmp_path / 'nonexistent'} does not exist" in err and "--parents" in err
    assert not (tmp_path / "nonexistent").exists()
    assert main(["udev", "install", "--dest", str(dest), "--dry-run"]) == 0
    assert "would refuse" in capsys.readouterr().out
    assert not (tmp_path / "nonexistent").exists()


def test_udev_install_creates_one_missing_folder_and_says_so(tmp_path, capsys):
    dest = tmp_path / "rules.d"
    assert main(["udev", "install", "--dest", str(dest)]) == 0
    assert f"created   {dest}/" in capsys.readouterr().out
    assert sorted(p.name for p in dest.iterdir()) == ["60-lambdarig-instruments.rules", "60-lambdarig.rules"]
