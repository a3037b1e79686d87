"""A rig that loses its host makes its outputs safe, watchdog or not (issue 16, item 2): over a real
pseudo-terminal, with the watchdog off (watchdog_ms=0, a documented option), a host that closes the
port, a host process killed with SIGKILL, and a host that sends a set-point and closes at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from lambdarig.emulator.serial_rig import RigServer
from lambdarig.protocol.messages import SetPoint, Watchdog

ROOT = Path(__file__).resolve().parents[1]
SAFE_WITHIN_S = 0.5        # generous: the rig notices within a loop pass (about 1 ms) when unloaded
HEATER_DUTY = 0.6


@pytest.fixture
def rig(tmp_path):
    server = RigServer(scenario="free-air", flash_path=tmp_path / "flash.bin", watchdog_ms=0).start()
    try:
        yield server
    finally:
        server.stop()


def wait_for(predicate, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.001)
    return bool(predicate())


def heater_on(rig: RigServer) -> bool:
    return rig.outputs()[1] > HEATER_DUTY - 0.01


def outputs_safe(rig: RigServer) -> bool:
    return rig.outputs()[:2] == (0.0, 0.0)


def drive_heater(port: serial.Serial) -> None:
    port.write(Watchdog(0).encode(1))
    port.write(SetPoint(1e-3, HEATER_DUTY).encode(2))


def test_host_that_closes_the_port_leaves_outputs_safe_without_a_watchdog(rig):
    port = serial.Serial(rig.path, timeout=0)
    drive_heater(port)
    assert wait_for(lambda: heater_on(rig), 2.0)
    time.sleep(0.3)                       # longer than the default watchdog: with it off, still on
    assert heater_on(rig), "the watchdog is off: the heater must still be driven while the host is there"
    port.close()
    t_closed = time.monotonic()
    assert wait_for(lambda: outputs_safe(rig), SAFE_WITHIN_S), rig.outputs()
    assert time.monotonic() - t_closed < SAFE_WITHIN_S
    assert rig.counters.host_loss_safes >= 1 and rig.counters.watchdog_trips == 0
    time.sleep(0.2)
    assert outputs_safe(rig) and rig._thread is not None and rig._thread.is_alive()


def test_host_killed_with_sigkill_leaves_outputs_safe_without_a_watchdog(rig):
    host = (
        "import sys, time, serial\n"
        "from lambdarig.protocol.messages import SetPoint, Watchdog\n"
        "port = serial.Serial(sys.argv[1], timeout=0)\n"
        f"port.write(Watchdog(0).encode(1)); port.write(SetPoint(1e-3, {HEATER_DUTY}).encode(2)); port.flush()\n"
        "print('driving', flush=True)\n"
        "time.sleep(60)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", host, rig.path], stdout=subprocess.PIPE, env=env, cwd=ROOT)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"driving"
        assert wait_for(lambda: heater_on(rig), 2.0)
        proc.kill()                       # SIGKILL: no handler runs, the kernel closes the port
        proc.wait(5.0)
        t_dead = time.monotonic()
        assert wait_for(lambda: outputs_safe(rig), SAFE_WITHIN_S), rig.outputs()
        assert time.monotonic() - t_dead < SAFE_WITHIN_S
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5.0)


def test_a_setpoint_sent_just_before_the_host_closes_does_not_outlive_it(rig):
    for _ in range(5):
        port = serial.Serial(rig.path, timeout=0)
        drive_heater(port)
        port.flush()
        port.close()                      # frames still in the pty: the rig reads them after the close
        time.sleep(SAFE_WITHIN_S)
        assert outputs_safe(rig), rig.outputs()
