"""Output paths that cannot take the output: a disk that fills up mid-run, a directory, a missing
folder for `simulate --log`; /proc and a missing tree for `udev install --dest`. One line on stderr,
an exit code, no traceback, nothing created that was not asked for, and the outputs safe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lambdarig.cli import main

ROOT = Path(__file__).resolve().parents[1]
FULL = Path("/dev/full")


def _cli(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "lambdarig", *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


# A disk that fills up mid-run: the log may grow to LOG_LIMIT_B bytes (RLIMIT_FSIZE, with SIGXFSZ
# ignored so the write fails with EFBIG instead of killing the process). /dev/full cannot stand in
# for it any more: an output path that takes no file is refused before the run.
LOG_LIMIT_B = 64 * 1024
LIMITED_RUN = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
{body}
"""


def _limited(body: str, *args: str) -> subprocess.CompletedProcess:
    code = LIMITED_RUN.format(limit=LOG_LIMIT_B, body=body)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_simulate_log_on_a_disk_that_fills_up_is_one_line_and_exit_1(tmp_path):
    log = tmp_path / "run.csv"
    proc = _limited("from lambdarig.cli import main; sys.exit(main(sys.argv[1:]))",
                    "simulate", "--duration", "60", "--log", str(log), "--quiet")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"lambdarig: error: cannot write the log {log}: File too large; outputs made safe, run ended"]
    assert 0 < log.stat().st_size <= LOG_LIMIT_B


def test_a_full_disk_mid_run_leaves_the_front_end_safe_and_closed(tmp_path):
    body = """
import lambdarig
from lambdarig.hal.registry import open_frontend
from lambdarig.hal.types import FrontEndError
from lambdarig.telemetry import OutputError
fe = open_frontend("sim:lsu49", scenario="default")
try:
    lambdarig.run(fe, duration_s=60.0, log=sys.argv[1], keep_samples=False)
    print("no error")
except OutputError as exc:
    board = fe.rig.board
    try:
        fe.sample()
        closed = False
    except FrontEndError:
        closed = True
    print(board.heater_duty, board.pump_command_a, fe.now() > 0.0, closed, "File too large" in str(exc))
"""
    proc = _limited(body, str(tmp_path / "run.csv"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0.0", "0.0", "True", "True", "True"], proc.stdout


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


def test_a_plot_the_disk_has_no_room_for_is_a_warning_in_words_and_exit_1(tmp_path):
    """The run completed; its plot could not be written (a file-size limit of 8 kB stands in for a full
    disk): the summary is printed, one warning names the file and the system's reason (not
    "[Errno 27]"), and the exit code says an output is missing, as for a log."""
    pytest.importorskip("matplotlib")
    plot = tmp_path / "run.png"
    code = LIMITED_RUN.format(limit=8 * 1024, body="from lambdarig.cli import main; sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", code, "simulate", "--duration", "2", "--quiet", "--plot", str(plot)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Errno" not in proc.stderr
    assert f"lambdarig: warning: plot not written: cannot write {plot}: File too large" in proc.stderr
    assert "final state" in proc.stdout and "plot not written" in proc.stdout
