"""What the real-time tests share: one scheduling margin, event waits with deadlines, and the emulated
rig in its own process.

A real-time test judges the mechanism, not the machine: an event happens no earlier than its cause
allows (a link is declared lost after >= the configured timeout), and no later than the cause plus
SLACK_S, the time a loaded machine may keep a ready thread off the CPU. SLACK_S is generous on
purpose (a busy 2-core machine delays a wake-up by ~10 ms at p99.9), and it stays below the next
mechanism a bound has to tell apart (pyvisa's 2 s default timeout, a reconnect's 5 s deadline).
Performance figures (late ticks, jitter, detection in milliseconds on an idle machine) are measured
by benchmarks/hil_serial.py and benchmarks/hil_visa.py, not asserted here.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lambdarig.hal.rig_link import RigLink
from lambdarig.protocol.codes import STATUS_OUTPUTS_SAFE

ROOT = Path(__file__).resolve().parents[1]


def _slack_from_env() -> float:
    text = os.environ.get("LAMBDARIG_TEST_SLACK_S", "1.0")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"LAMBDARIG_TEST_SLACK_S={text!r}: must be a number of seconds, e.g. 1.0") from None
    if not 0.0 < value <= 1.8:
        raise ValueError(f"LAMBDARIG_TEST_SLACK_S={text!r}: must be > 0 and <= 1.8 s (pyvisa's 2 s default "
                         f"timeout must stay distinguishable)")
    return value


SLACK_S = _slack_from_env()
# A subprocess (python, numpy, the element) starts within this even on a loaded machine.
STARTUP_S = 60.0


def wait_for(predicate: Callable[[], object], timeout_s: float = SLACK_S, step_s: float = 0.002):
    """Poll predicate() until it is true or timeout_s passes; returns its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step_s)
    return predicate()


def rig_timestamps_are_its_schedule(times_s: list[float], rate_hz: int, skipped: int) -> bool:
    """The rig stamps each SAMPLE with its scheduled time: consecutive stamps are whole periods apart,
    one period except where the rig fell behind and skipped (and counted) samples."""
    period_us = round(1e6 / rate_hz)
    missing = 0
    for a, b in zip(times_s, times_s[1:]):
        step_us = round((b - a) * 1e6)
        periods = round(step_us / period_us)
        if periods < 1 or abs(step_us - periods * period_us) > 1:
            return False
        missing += periods - 1
    return missing <= skipped


class RigProcess:
    """`lambdarig serve rig` in its own process, as a bench board is its own device: a stall of the
    test process (or its GIL) does not stop the rig, and the rig's stalls do not stop the test."""

    def __init__(self, flash: Path, *, element: str = "lsu49", scenario: str = "default",
                 watchdog_ms: int | None = None, serial_number: str | None = None,
                 die_after_flash_ops: int | None = None, pressure_sensor: bool = False):
        cmd = [sys.executable, "-m", "lambdarig", "serve", "rig", "--flash", str(flash), "--element", element,
               "--scenario", scenario]
        if watchdog_ms is not None:
            cmd += ["--watchdog-ms", str(watchdog_ms)]
        if serial_number is not None:
            cmd += ["--serial-number", serial_number]
        if die_after_flash_ops is not None:   # a simulated power cut: the rig exits (70) in that flash operation
            cmd += ["--die-after-flash-ops", str(die_after_flash_ops)]
        if pressure_sensor:                   # fit the exhaust-pressure sensor (CAP_PRESSURE)
            cmd += ["--pressure-sensor"]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.stderr = ""
        self._stopped = False
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        stdout = self.proc.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], STARTUP_S)
        self.path = stdout.readline().strip() if ready else ""
        if not self.path.startswith("/dev/"):
            self.stop()
            raise RuntimeError(f"the rig process printed no pty within {STARTUP_S:g} s: {self.path!r}, "
                               f"{self.stderr!r}")

    def outputs_safe(self) -> bool:
        """Heater off and pump 0, as the rig itself reports them in a SAMPLE's status."""
        with RigLink(self.path, timeout_s=SLACK_S) as link:
            link.start_stream(100)
            sample = link.read_sample(SLACK_S)
            link.stop_stream()
        return sample is not None and bool(link.latest.status & STATUS_OUTPUTS_SAFE)

    def stop(self) -> int:
        """SIGINT (the rig makes its outputs safe and prints its counters); the exit code."""
        if self._stopped:
            return self.proc.returncode
        self._stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            _, self.stderr = self.proc.communicate(timeout=STARTUP_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, self.stderr = self.proc.communicate()
        return self.proc.returncode

    def counter(self, name: str) -> int:
        """A counter from the line the stopped rig printed ("... samples_skipped 0, ...")."""
        match = re.search(rf"\b{name} (\d+)", self.stderr)
        if match is None:
            raise AssertionError(f"the rig printed no {name}: {self.stderr!r}")
        return int(match.group(1))

    def __enter__(self) -> RigProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
