"""Suite-wide test settings. The real-time tests (tests/realtime.py) must hold on a loaded machine
as well as on an idle one: the report header says how busy the machine was, and `no_gc_pauses`
keeps the suite's own heap from stalling them."""

from __future__ import annotations

import gc
import os
import tempfile

import pytest
from realtime import SLACK_S

# numba's cache of the emulator's compiled step kernel (lambdarig.emulator.jit) goes outside the
# repository during the tests, into one folder per user that the suite's subprocesses share and later
# runs reuse (a kernel is keyed by a digest of its sources, so a stale one is never loaded). Without
# this numba would write it into emulator/__pycache__. Set before numba is imported; a NUMBA_CACHE_DIR
# given from outside wins.
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), f"lambdarig-numba-cache-{os.getuid()}"))


def pytest_report_header(config) -> list[str]:
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    return [f"lambdarig real-time tests: {os.cpu_count()} core(s), load average {load}, "
            f"scheduling slack {SLACK_S:g} s (LAMBDARIG_TEST_SLACK_S)"]


@pytest.fixture
def no_gc_pauses():
    """For a test on the wall clock: what the suite has accumulated so far (~400k objects late in a
    full run) is kept out of the cyclic collector's reach while it runs. A full collection of that
    heap holds the GIL for 100 ms and more (three times that on a loaded machine), stalling the test
    and the emulated rig, relay and instrument threads it runs in this process; a `lambdarig run`
    process has no such heap. gc.freeze() is a constant-time move; unfreeze() hands it all back."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@pytest.fixture
def rig(tmp_path):
    """An emulated bench rig on a pseudo-terminal (its defaults), stopped after the test. A module
    that needs another rig defines its own `rig`."""
    from lambdarig.emulator.serial_rig import RigServer

    server = RigServer(flash_path=tmp_path / "flash.bin").start()
    try:
        yield server
    finally:
        server.stop()
