"""`lambdarig run --hal serial://...` over a real pty: the rig vanishes mid-run and comes back on the
same symlink; the run reconnects, restarts the firmware, carries on and says what happened."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from realtime import STARTUP_S, wait_for

from lambdarig.emulator.serial_rig import RigServer

pytestmark = pytest.mark.usefixtures("no_gc_pauses")  # on the wall clock: see tests/conftest.py

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_run_reconnects_when_the_rig_returns(tmp_path):
    link = tmp_path / "rig"
    rig = RigServer(flash_path=tmp_path / "flash.bin", link=link).start()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # The rig is a thread of this process: a silence timeout and watchdog of 1 s, so that only its
    # vanishing (not a loaded machine's stall) ends the first connection.
    proc = subprocess.Popen([sys.executable, "-m", "lambdarig", "run", "--hal",
                             f"serial://{link}?link_timeout_s=1.0&watchdog_ms=1000",
                             "--duration", "6", "--json", "--reconnect-s", "5"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = None
    try:
        # the run is under way (however long the start-up took on this machine): the firmware is
        # driving the heater, and has been for a while
        assert wait_for(lambda: rig.counters.setpoints > 500 or proc.poll() is not None, STARTUP_S)
        assert proc.poll() is None, proc.communicate()
        rig.stop()            # the board vanishes (pty closed)
        time.sleep(0.5)
        second = RigServer(flash_path=tmp_path / "flash.bin", link=link).start()
        out, err = proc.communicate(timeout=STARTUP_S)
    finally:
        proc.kill()
        rig.stop()
        if second is not None:
            second.stop()
    assert proc.returncode == 0, err
    report = json.loads(out)
    assert [f["code"] for f in report["faults"]] == ["link_loss"]
    assert report["final_state"] == "stopped"
    assert 5.5 <= report["sim_s"] <= 6.5
    assert "vanished" in report["events"][0]["text"]
