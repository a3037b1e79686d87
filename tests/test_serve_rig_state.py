"""`lambdarig serve rig` keeps its flash under the user's state directory, per serial number, unless
--flash says otherwise: nothing is left in the directory it was started from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rig_cli_helpers import main

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.timeout(60)]


def serve_once(cwd: Path, state: Path, *extra: str) -> str:
    """Start `serve rig`, wait for its pty path, stop it (SIGTERM); its stderr."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_STATE_HOME=str(state))
    proc = subprocess.Popen([sys.executable, "-m", "lambdarig", "serve", "rig", *extra], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("/dev/")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return err


def test_flash_goes_to_the_state_directory_per_serial_number(tmp_path):
    cwd, state = tmp_path / "cwd", tmp_path / "state"
    cwd.mkdir()
    err = serve_once(cwd, state, "--serial-number", "LR0042")
    flash = state / "lambdarig" / "rigs" / "LR0042" / "flash.bin"
    assert flash.is_file() and f"flash {flash}" in err
    assert list(cwd.iterdir()) == []
    serve_once(cwd, state)                                  # the default serial, a flash of its own
    assert (state / "lambdarig" / "rigs" / "LR0001" / "flash.bin").is_file()
    own = tmp_path / "mine.bin"
    serve_once(cwd, state, "--flash", str(own))
    assert own.is_file() and list(cwd.iterdir()) == []


def test_a_serial_number_that_cannot_name_a_folder_is_bad_input(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert main(["serve", "rig", "--serial-number", "../x"]) == 2
    err = capsys.readouterr().err
    assert "--serial-number" in err and "--flash" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
