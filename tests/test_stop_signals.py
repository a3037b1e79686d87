"""Stop signals: SIGTERM, SIGHUP (and `timeout`, which sends TERM) end a run like Ctrl-C: outputs
safe, summary printed, exit code 128 + N; the previous handlers come back after the session.

Real subprocesses (`lambdarig simulate`, `lambdarig run --hal serial://` against an emulated rig on
a pty) and an in-process API session that signals itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lambdarig
from lambdarig.emulator.serial_rig import RigServer
from lambdarig.hal.registry import open_frontend

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _wait_for(predicate, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.05)
    assert predicate(), "timed out waiting for the run to start"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT])
def test_simulate_stops_on_signal_with_summary_and_exit_code(tmp_path, sig):
    log = tmp_path / "run.csv"
    proc = subprocess.Popen([sys.executable, "-m", "lambdarig", "simulate", "--duration", "86400", "--json",
                             "--log", str(log)], cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: log.exists() and log.stat().st_size > 20000)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err
    report = json.loads(out)
    assert report["interrupted"] is True and report["interrupted_by"] == sig.name
    assert report["message"] == f"interrupted ({sig.name}); outputs made safe"
    assert report["final_state"] == "stopped"
    assert 0 < report["sim_s"] < 86400


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_run_on_a_serial_rig_leaves_it_safe_on_signal(tmp_path, sig):
    """The rig's own watchdog is off: only the host can make its outputs safe before it exits."""
    link = tmp_path / "rig"
    rig = RigServer(flash_path=tmp_path / "flash.bin", link=link, watchdog_ms=0).start()
    proc = subprocess.Popen([sys.executable, "-m", "lambdarig", "run", "--hal", f"serial://{link}", "--json"],
                            cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: rig.outputs()[1] > 0.0)      # the host is heating the element
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        pump_a, duty, _ = rig.outputs()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        rig.stop()
    assert proc.returncode == 128 + sig, err
    assert duty == 0.0 and abs(pump_a) < 1e-6
    report = json.loads(out)
    assert report["interrupted_by"] == sig.name and report["final_state"] == "stopped"


def test_api_session_stops_on_sigterm_and_restores_the_handlers():
    fe = open_frontend("sim:lsu49", scenario="default")
    board = fe.rig.board
    seen = []

    def sink(status, truth):
        if status.t_s > 15.0 and not seen:
            seen.append(board.heater_duty)
            os.kill(os.getpid(), signal.SIGTERM)

    mine = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    hup = signal.signal(signal.SIGHUP, signal.SIG_IGN)         # as under nohup
    try:
        during = []
        result = lambdarig.run(fe, duration_s=60.0, keep_samples=False,
                               sinks=[sink, lambda s, t: during.append(signal.getsignal(signal.SIGHUP))])
        after_term, after_hup = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)
    finally:
        signal.signal(signal.SIGTERM, mine)
        signal.signal(signal.SIGHUP, hup)
    assert seen and seen[0] > 0.0                                 # it was heating when the signal came
    assert result.interrupted and result.interrupted_by == "SIGTERM"
    assert result.summary["message"] == "interrupted (SIGTERM); outputs made safe"
    assert 15.0 < result.summary["sim_s"] < 16.0
    assert board.heater_duty == 0.0 and board.pump_command_a == 0.0
    assert after_term is signal.SIG_DFL                           # the previous handler is back
    assert after_hup is signal.SIG_IGN and set(during) == {signal.SIG_IGN}   # an ignored one stays ignored
