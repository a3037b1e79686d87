"""Lengths from a device are not trusted (issue 16, item 4): an emulated rig whose replies lie about
its settings image (a length of 0xFFFFFFF0; the largest slot the protocol can describe, with reads
past its real slot answered with erased bytes) makes `settings read`, `settings diff` and `run` fail
fast with one clear line and exit 3: no hang, no memory growth."""

from __future__ import annotations

import time

import pytest
from rig_cli_helpers import main
from test_flash_cli import GOOD, SERIAL, toml_file

from lambdarig.emulator.serial_rig import RigServer
from lambdarig.hal.rig_link import RigLink
from lambdarig.hal.types import FrontEndError
from lambdarig.protocol.codes import MAX_READ, MAX_SLOT_SIZE, SLOT_SIZE_UNIT
from lambdarig.protocol.framing import Frame
from lambdarig.protocol.messages import SETTINGS_INFO_LAYOUT as INFO
from lambdarig.protocol.messages import Message, SettingsData, SettingsInfo, SettingsInfoReply, SettingsRead

FAIL_FAST_S = 5.0            # generous: each case needs a handful of round trips of about 1 ms


class RawReply(Message):
    """A reply with whatever payload the lying rig wants to send."""

    def __init__(self, frame_type: int, payload: bytes):
        self.TYPE = frame_type
        self.payload = payload

    def pack(self) -> bytes:
        return self.payload


class LyingRig(RigServer):
    """The emulated rig with its SETTINGS_INFO reply tampered with: `length` and `slot_units` are
    what it claims; with `endless`, reads past its real slot answer erased bytes instead of an error
    (a rig that would keep a trusting host reading)."""

    def __init__(self, *args, length: int, slot_units: int, endless: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.claimed_length = length
        self.claimed_units = slot_units
        self.endless = endless
        self.reads = 0

    def _on_settings_info(self, frame: Frame, request) -> None:
        info = self.flash.info()
        payload = INFO.pack(0, self.claimed_length, info.image_crc, info.generation, self.claimed_units)
        self._send(RawReply(SettingsInfoReply.TYPE, payload), frame.seq)

    def _on_settings_read(self, frame: Frame, request: SettingsRead) -> None:
        self.reads += 1
        if self.endless and request.offset >= self.flash.slot_size:
            self._send(SettingsData(b"\xff" * request.length), frame.seq)
            return
        super()._on_settings_read(frame, request)

    _HANDLERS = {**RigServer._HANDLERS, SettingsInfo: _on_settings_info, SettingsRead: _on_settings_read}


LIES = {
    "length-0xFFFFFFF0": dict(length=0xFFFFFFF0, slot_units=4096 // SLOT_SIZE_UNIT),
    "largest-slot-endless": dict(length=MAX_SLOT_SIZE, slot_units=0xFFFF, endless=True),
    "length-shorter-than-a-header": dict(length=5, slot_units=16),
}


@pytest.fixture(params=list(LIES), ids=list(LIES))
def liar(request, tmp_path):
    honest = RigServer(scenario="free-air", flash_path=tmp_path / "flash.bin", serial_number=SERIAL).start()
    try:
        assert main(["flash", toml_file(tmp_path, GOOD), "--port", honest.path]) == 0
    finally:
        honest.stop()
    rig = LyingRig(scenario="free-air", flash_path=tmp_path / "flash.bin", serial_number=SERIAL,
                   **LIES[request.param]).start()
    try:
        yield rig
    finally:
        rig.stop()


def run_timed(argv: list[str]) -> tuple[int, float]:
    t0 = time.monotonic()
    code = main(argv)
    return code, time.monotonic() - t0


def test_settings_read_and_diff_fail_fast_on_a_lying_rig(liar, tmp_path, capsys):
    capsys.readouterr()
    for argv in (["settings", "read", "--port", liar.path],
                 ["settings", "diff", toml_file(tmp_path, GOOD), "--port", liar.path]):
        code, seconds = run_timed(argv)
        err = capsys.readouterr().err
        assert code == 3, err
        assert seconds < FAIL_FAST_S, seconds
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert liar.path in err and ("settings" in err or "SETTINGS_INFO" in err), err
    assert liar.reads * MAX_READ < 64 * 1024, "the host kept reading what the rig claimed"


def test_run_fails_fast_on_a_lying_rig(liar, capsys):
    capsys.readouterr()
    code, seconds = run_timed(["run", "--hal", f"serial://{liar.path}", "--duration", "0.5", "--quiet",
                               "--reconnect-s", "0"])
    err = capsys.readouterr().err
    assert code == 3, err
    assert seconds < FAIL_FAST_S + 2.0, seconds
    assert "Traceback" not in err and liar.path in err, err
    assert liar.outputs()[:2] == (0.0, 0.0)


def test_host_read_requests_are_bounded_by_the_protocol(liar):
    link = RigLink(liar.path)
    try:
        with pytest.raises(ValueError, match="largest slot"):
            link.settings_read(0, 0, MAX_SLOT_SIZE + 1)
        with pytest.raises(FrontEndError):
            link.settings_read_active()
    finally:
        link.close()


def test_a_device_that_floods_the_line_cannot_hold_the_host():
    """A peer on a real pty that writes bytes as fast as it can (no frames): a request ends with
    LinkLost near its timeout instead of the host reading for ever."""
    import os
    import subprocess
    import sys
    import tty

    from lambdarig.hal.types import LinkLost
    from lambdarig.protocol.messages import Ping

    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    os.close(slave)
    flood = ("import os, sys\nfd = int(sys.argv[1])\nblock = bytes([1]) * 65536\n"
             "while True:\n    try:\n        os.write(fd, block)\n    except BlockingIOError:\n        pass\n"
             "    except OSError:\n        pass\n")
    link = RigLink(path, timeout_s=0.1, retries=0)
    proc = subprocess.Popen([sys.executable, "-c", flood, str(master)], pass_fds=(master,))
    try:
        time.sleep(0.2)
        t0 = time.monotonic()
        with pytest.raises(LinkLost):
            link.request(Ping())
        assert time.monotonic() - t0 < FAIL_FAST_S
        assert link.dropped > 0
    finally:
        proc.kill()
        proc.wait(5.0)
        link.close()
        os.close(master)
