"""The emulated bench rig over a real pseudo-terminal, with pyserial and the shared typed messages."""

from __future__ import annotations

import math
import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial
from realtime import SLACK_S, STARTUP_S, RigProcess, rig_timestamps_are_its_schedule, wait_for

from lambdarig.emulator.flash_store import FlashStore
from lambdarig.emulator.serial_rig import RigServer
from lambdarig.protocol.codes import (
    CAP_ANALOG_OUT,
    CAP_HEATER_SENSE,
    CAP_PUMP_V,
    CAP_RI,
    CAP_SETTINGS,
    CAP_WATCHDOG,
    E_BAD_LENGTH,
    E_CRC_MISMATCH,
    E_IMAGE_INVALID,
    E_NOT_ERASED,
    E_OUT_OF_RANGE,
    E_UNKNOWN_TYPE,
    MAX_READ,
    PING,
    SAMPLE,
    SETPOINT,
    STATUS_OUTPUTS_SAFE,
    STATUS_WATCHDOG_TRIPPED,
)
from lambdarig.protocol.framing import Frame, FrameReader, encode_frame
from lambdarig.protocol.image import check_image, image_crc, pack_image
from lambdarig.protocol.messages import (
    Ack,
    Error,
    Hello,
    Identity,
    Message,
    Ping,
    Reset,
    SampleMessage,
    SetPoint,
    SettingsCommit,
    SettingsData,
    SettingsErase,
    SettingsInfo,
    SettingsInfoReply,
    SettingsRead,
    SettingsVerify,
    SettingsWrite,
    StreamStart,
    StreamStop,
    VerifyReply,
    Watchdog,
)

pytestmark = pytest.mark.usefixtures("no_gc_pauses")  # on the wall clock: see tests/conftest.py

ROOT = Path(__file__).resolve().parents[1]


class Host:
    """A minimal host: pyserial, non-blocking reads, own framing, deadline loops."""

    def __init__(self, path: str):
        self.port = serial.Serial(path, timeout=0)
        self.reader = FrameReader()
        self.seq = 0
        self.pending: list[Frame] = []

    def close(self) -> None:
        self.port.close()

    def send_raw(self, frame_type: int, payload: bytes = b"", seq: int | None = None) -> int:
        """A frame with any payload, e.g. one the protocol does not allow."""
        if seq is None:
            self.seq = (self.seq + 1) & 0xFFFF
            seq = self.seq
        self.port.write(encode_frame(frame_type, seq, payload))
        return seq

    def send(self, message: Message, seq: int | None = None) -> int:
        return self.send_raw(message.TYPE, message.pack(), seq)

    def poll(self) -> list[Frame]:
        data = self.port.read(65536)
        frames = self.reader.feed(data) if data else []
        self.pending += frames
        return frames

    def collect(self, seconds: float) -> list[Frame]:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if not self.poll():
                time.sleep(0.0005)
        out, self.pending = self.pending, []
        return out

    def wait_reply(self, seq: int, timeout: float = SLACK_S + 1.0) -> Frame:
        end = time.monotonic() + timeout
        while True:
            for i, frame in enumerate(self.pending):
                if frame.type != SAMPLE and frame.seq == seq:
                    del self.pending[i]
                    return frame
            if time.monotonic() > end:
                raise TimeoutError(f"no reply to seq {seq} within {timeout} s")
            if not self.poll():
                time.sleep(0.0005)

    def request(self, message: Message, timeout: float = SLACK_S + 1.0) -> Frame:
        return self.wait_reply(self.send(message), timeout)

    def request_raw(self, frame_type: int, payload: bytes = b"", timeout: float = 1.0) -> Frame:
        return self.wait_reply(self.send_raw(frame_type, payload), timeout)

    def samples(self) -> list[SampleMessage]:
        out = [SampleMessage.unpack(f.payload) for f in self.pending if f.type == SAMPLE]
        self.pending = [f for f in self.pending if f.type != SAMPLE]
        return out


def expect_ack(frame: Frame) -> None:
    assert frame.type == Ack.TYPE, frame
    assert Ack.unpack(frame.payload) == Ack(0)


def expect_error(frame: Frame, code: int) -> str:
    assert frame.type == Error.TYPE, frame
    error = Error.unpack(frame.payload)
    assert error.code == code, error
    return error.text


@pytest.fixture
def rig(tmp_path):
    server = RigServer(scenario="free-air", flash_path=tmp_path / "flash.bin", serial_number="LR0042",
                       link=tmp_path / "lambdarig0").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def host(rig):
    h = Host(rig.path)
    try:
        yield h
    finally:
        h.close()


def test_identity_and_link(rig, host, tmp_path):
    assert os.path.realpath(tmp_path / "lambdarig0") == os.path.realpath(rig.path)
    reply = host.request(Hello())
    assert reply.type == Identity.TYPE == 0x81
    identity = Identity.unpack(reply.payload)
    assert identity.protocol_version == 1 and identity.firmware_version == "0.1.0"
    assert identity.capabilities == (CAP_RI | CAP_HEATER_SENSE | CAP_PUMP_V | CAP_WATCHDOG | CAP_SETTINGS
                                     | CAP_ANALOG_OUT)
    assert identity.max_rate_hz == 1000
    assert identity.pump_min_a == pytest.approx(rig.rig.board.spec.pump_dac_min_a)
    assert identity.pump_max_a == pytest.approx(rig.rig.board.spec.pump_dac_max_a)
    assert identity.serial_number == "LR0042" and identity.element == "lsu49"
    expect_ack(host.request(Ping()))
    expect_error(host.request_raw(0x3E), E_UNKNOWN_TYPE)
    expect_error(host.request_raw(SAMPLE), E_UNKNOWN_TYPE)        # a rig-to-host type sent to the rig
    expect_error(host.request_raw(PING, b"x"), E_BAD_LENGTH)


def test_link_removed_on_stop(tmp_path):
    server = RigServer(flash_path=tmp_path / "flash.bin", link=tmp_path / "rig").start()
    assert os.path.islink(tmp_path / "rig")
    server.stop()
    assert not os.path.lexists(tmp_path / "rig")


def test_stream_500hz_for_one_second(rig, host):
    expect_ack(host.request(StreamStart(500)))
    frames = []
    t_start = time.monotonic()
    while time.monotonic() - t_start < 1.0:
        host.send(Ping())          # keeps the watchdog fed
        frames += host.collect(0.02)
    expect_ack(host.wait_reply(host.send(StreamStop()), timeout=SLACK_S + 1.0))
    frames += host.collect(0.02)      # what came before the ACK, and nothing after it
    samples = [SampleMessage.unpack(f.payload) for f in frames if f.type == SAMPLE]
    skipped = rig.counters.samples_skipped              # only when the rig thread is starved of CPU
    # 500 Hz on the rig's clock: the stream's length in samples (any it skipped counted) is its
    # length in time; the sample timing on an idle machine (jitter) is benchmarks/hil_serial.py's
    t_us = [s.t_us for s in samples]
    span_s = ((t_us[-1] - t_us[0]) & 0xFFFFFFFF) * 1e-6
    assert span_s >= 1.0 - 0.01, span_s                               # streamed the whole second
    assert len(samples) - 1 + skipped == round(span_s * 500), (len(samples), skipped, span_s)
    seqs = [f.seq for f in frames if f.type == SAMPLE]
    assert all((b - a) & 0xFFFF == 1 for a, b in zip(seqs, seqs[1:])), "sample seq must increase by 1"
    # each SAMPLE stamped with its scheduled time, 2 ms apart (whole periods where it skipped)
    assert rig_timestamps_are_its_schedule([t * 1e-6 for t in t_us], 500, skipped)
    last = samples[-1]
    values = (last.nernst_v, last.pump_current_a, last.ri_ohm, last.heater_v, last.heater_a, last.supply_v, last.pump_v)
    assert all(math.isfinite(v) for v in values)                  # excitation on: Ri measured too


def test_setpoint_applied_and_heater_warms(rig, host):
    expect_ack(host.request(StreamStart(200)))
    temp_before = rig.truth().temp_c
    seq = None
    t_start = time.monotonic()
    while time.monotonic() - t_start < 1.0:
        seq = host.send(SetPoint(0.0, 0.8))
        host.poll()
        time.sleep(0.01)

    def newest_sample() -> SampleMessage | None:
        host.poll()
        samples = host.samples()
        return samples[-1] if samples else None

    # the first SAMPLE taken after the rig applied our last SETPOINT echoes its seq
    last = wait_for(lambda: (lambda s: s if s is not None and s.applied_seq == seq else None)(newest_sample()))
    assert last is not None and last.applied_seq == seq          # applied_seq echoes the SETPOINT
    assert not last.status & STATUS_OUTPUTS_SAFE
    heater_v, heater_a = last.heater_v, last.heater_a
    assert heater_v > 5.0 and heater_a > 0.5                     # the heater is driven
    assert rig.outputs()[1] == pytest.approx(0.8, abs=1e-3)
    assert rig.truth().temp_c > temp_before + 20.0               # and the element warms (free air)


def test_bad_setpoints_are_refused_and_not_applied(rig, host):
    host.send(SetPoint(1e-3, 0.25))
    assert wait_for(lambda: rig.outputs()[1] > 0.2)
    applied = rig.applied_seq
    reserved_flag = bytearray(SetPoint(0.0, 0.1).pack())
    reserved_flag[-1] |= 0x80
    for bad in (SetPoint(1e-3, 1.5).pack(), SetPoint(1e-3, -0.1).pack(), SetPoint(0.5, 0.1).pack(),
                SetPoint(math.nan, 0.1).pack(), SetPoint(1e-3, math.inf).pack(), bytes(reserved_flag)):
        text = expect_error(host.request_raw(SETPOINT, bad), E_OUT_OF_RANGE)
        assert text
    expect_error(host.request_raw(SETPOINT, SetPoint(0.0, 0.1).pack()[:-1]), E_BAD_LENGTH)
    pump, duty, _ = rig.outputs()
    assert duty == pytest.approx(0.25, abs=1e-3) and pump == pytest.approx(1e-3, rel=1e-3)
    assert rig.applied_seq == applied
    assert rig.counters.setpoints_rejected == 6


def test_garbage_and_damaged_frames_are_dropped(rig, host):
    rng = random.Random(5)
    dropped_before = rig.counters.rx_dropped
    expected_drops = 0
    for i in range(40):
        kind = i % 5
        frame = Ping().encode(1000 + i)
        if kind == 0:       # garbage, ended by a delimiter
            host.port.write(bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 40))) + b"\0")
            expected_drops += 1
        elif kind == 1:     # a flipped bit
            damaged = bytearray(frame)
            pos = rng.randrange(0, len(damaged) - 1)
            damaged[pos] ^= 1 << rng.randrange(8)
            if 0 in damaged[:-1]:           # the flip made a delimiter: two damaged pieces
                expected_drops += 1
            host.port.write(bytes(damaged))
            expected_drops += 1
        elif kind == 2:     # truncated: the end and its delimiter lost
            host.port.write(frame[:len(frame) // 2] + b"\0")
            expected_drops += 1
        elif kind == 3:     # duplicated: both copies answered
            host.port.write(frame + frame)
        # A valid request after each: it must be answered.
        seq = host.send(Ping())
        expect_ack(host.wait_reply(seq))
        if kind == 3:
            assert host.wait_reply(1000 + i).type == Ack.TYPE
            assert host.wait_reply(1000 + i).type == Ack.TYPE
    assert rig.counters.rx_dropped - dropped_before == expected_drops
    # A long run of garbage without any delimiter is discarded too, then the line recovers.
    host.port.write(bytes(rng.randrange(1, 256) for _ in range(3000)) + b"\0")
    expect_ack(host.request(Ping()))


def test_watchdog_makes_outputs_safe_in_time(rig, host):
    expect_ack(host.request(Watchdog(50)))
    expect_ack(host.request(StreamStart(500)))
    for _ in range(10):
        time.sleep(0.005)
        t_sending = time.monotonic()    # the rig cannot get the frame before this
        last_seq = host.send(SetPoint(2e-3, 0.6))
    t_last = time.monotonic()           # the host goes silent after this frame
    # (a stall of this thread between two frames may have tripped it early: judge the last frame's trip)
    assert wait_for(lambda: rig.applied_seq == last_seq, step_s=0.0002)
    safe = wait_for(lambda: rig.outputs()[:2] == (0.0, 0.0), 50e-3 + SLACK_S, step_s=0.0002)
    t_safe = time.monotonic()
    assert safe
    # not before 50 ms of silence after the last frame, and within the slack after that
    assert (t_safe - t_sending) * 1e3 >= 50.0 - 1e-6, (t_safe - t_sending) * 1e3
    assert (t_safe - t_last) * 1e3 <= 50 + SLACK_S * 1e3, (t_safe - t_last) * 1e3
    assert rig.counters.watchdog_trips >= 1 and rig.counters.setpoints == 10
    # Streaming goes on: the SAMPLEs show the last set-point applied (heater driven), then the trip.
    frames = host.collect(0.05)

    def status_and_applied() -> list[tuple[int, int]]:
        messages = (SampleMessage.unpack(f.payload) for f in frames if f.type == SAMPLE)
        return [(m.status, m.applied_seq) for m in messages]

    def tripped_tail() -> bool:
        frames.extend(host.collect(0.01))
        tail = [st for st, _ in status_and_applied()][-5:]
        return len(tail) == 5 and all(st & STATUS_WATCHDOG_TRIPPED and st & STATUS_OUTPUTS_SAFE for st in tail)

    assert wait_for(tripped_tail), status_and_applied()[-20:]
    assert any(applied == last_seq and not st & STATUS_OUTPUTS_SAFE for st, applied in status_and_applied())
    # The next SETPOINT clears the flag and drives again.
    host.send(SetPoint(0.0, 0.3))
    assert wait_for(lambda: not rig.watchdog_tripped and rig.outputs()[1] > 0.2)
    expect_ack(host.request(Watchdog(0)))     # off: no trip
    time.sleep(0.15)
    assert rig.outputs()[1] > 0.2
    expect_error(host.request(Watchdog(3)), E_OUT_OF_RANGE)


def test_host_vanishes_and_returns(rig):
    host = Host(rig.path)
    expect_ack(host.request(StreamStart(1000)))
    host.send(SetPoint(1e-3, 0.5))
    assert wait_for(lambda: rig.outputs()[1] > 0.4)
    host.close()                        # the host disappears mid-stream
    assert wait_for(lambda: rig.counters.host_disconnects >= 1)
    assert wait_for(lambda: rig.outputs()[:2] == (0.0, 0.0), 0.1 + SLACK_S)   # the watchdog (100 ms)
    time.sleep(0.1)
    assert rig._thread is not None and rig._thread.is_alive()
    host = Host(rig.path)               # a new host: a clean line, the rig answers
    try:
        reply = host.request(Hello())
        assert reply.type == Identity.TYPE
        host.collect(0.05)
        assert host.reader.dropped == 0, "stale bytes from before the host left"
    finally:
        host.close()


def test_reset(rig, host):
    expect_ack(host.request(Watchdog(1000)))
    expect_ack(host.request(StreamStart(100)))
    host.send(SetPoint(1e-3, 0.5))
    assert wait_for(lambda: rig.outputs()[1] > 0.4)
    expect_ack(host.request(Reset()))
    assert wait_for(lambda: not rig.streaming)
    assert rig.outputs()[:2] == (0.0, 0.0)
    assert rig.watchdog_ms == 100 and rig.applied_seq == 0
    host.collect(0.05)
    assert not host.collect(0.05)       # no samples after the reset


def flash_over_pty(host: Host, image: bytes, chunk: int = 48) -> None:
    expect_ack(host.request(SettingsErase()))
    for offset in range(0, len(image), chunk):
        expect_ack(host.request(SettingsWrite(offset, image[offset:offset + chunk])))
    verified = VerifyReply.unpack(host.request(SettingsVerify()).payload)
    assert verified == VerifyReply(True, len(image), image_crc(image))
    expect_ack(host.request(SettingsCommit(verified.image_crc)))


def read_settings(host: Host) -> bytes | None:
    reply = host.request(SettingsInfo())
    assert reply.type == SettingsInfoReply.TYPE == 0xA0
    info = SettingsInfoReply.unpack(reply.payload)
    if info.active_slot is None:
        assert info.image_length == 0
        return None
    data = b""
    while len(data) < info.image_length:
        n = min(MAX_READ, info.image_length - len(data))
        reply = host.request(SettingsRead(0, len(data), n))
        assert reply.type == SettingsData.TYPE == 0xA1
        data += SettingsData.unpack(reply.payload).data
    check_image(data)
    assert image_crc(data) == info.image_crc
    return data


def test_settings_flash_over_pty(rig, host, tmp_path):
    assert read_settings(host) is None
    image = pack_image(1, bytes(range(256)) * 3)          # 780 bytes: several chunks, reads
    flash_over_pty(host, image)
    assert read_settings(host) == image
    info = SettingsInfoReply.unpack(host.request(SettingsInfo()).payload)
    assert info == SettingsInfoReply(0, len(image), image_crc(image), 1, 4096)
    # Refusals: writing over written bytes, committing a wrong crc or a bad image.
    second = pack_image(2, b"second")
    expect_ack(host.request(SettingsErase()))
    expect_ack(host.request(SettingsWrite(0, second)))
    expect_error(host.request(SettingsWrite(0, b"\xff\xff")), E_NOT_ERASED)
    expect_error(host.request(SettingsCommit(image_crc(second) ^ 1)), E_CRC_MISMATCH)
    expect_error(host.request(SettingsWrite(4090, b"0123456789")), E_OUT_OF_RANGE)
    expect_error(host.request(SettingsRead(0, 0, 300)), E_OUT_OF_RANGE)     # more than MAX_READ
    expect_error(host.request(SettingsRead(2, 0, 16)), E_OUT_OF_RANGE)      # no slot 2
    expect_error(host.request_raw(SettingsWrite.TYPE, SettingsWrite(0, b"x").pack()[:4]), E_BAD_LENGTH)
    expect_ack(host.request(SettingsErase()))
    expect_ack(host.request(SettingsWrite(0, second[:10])))
    assert not VerifyReply.unpack(host.request(SettingsVerify()).payload).valid
    expect_error(host.request(SettingsCommit(image_crc(second))), E_IMAGE_INVALID)
    assert read_settings(host) == image                          # untouched by all of that
    # The reset reloads from flash; a restarted rig on the same file boots the same settings.
    expect_ack(host.request(Reset()))
    assert rig.settings == image


# --- power loss during a flash, with a subprocess rig ---------------------------------------------

OLD = pack_image(1, b"old: heater.ramp_v_per_s=0.4")
NEW = pack_image(1, b"new: heater.ramp_v_per_s=0.3, pump.target_mv=450")
CHUNK = 16


class SubprocessRig(RigProcess):
    """The rig in its own process (a simulated power cut ends it) with a host on its pty."""

    def __init__(self, flash: Path, die_after: int | None = None):
        super().__init__(flash, scenario="free-air", die_after_flash_ops=die_after)
        self.host = Host(self.path)

    def close(self) -> int:
        self.host.close()
        return self.stop()


def flash_until_death(rig: SubprocessRig, image: bytes) -> str:
    """Run the flash sequence; 'died' when the rig went away mid-way, 'done' when it completed."""
    try:
        flash_over_pty(rig.host, image, CHUNK)
    except (TimeoutError, serial.SerialException, OSError):
        code = rig.proc.wait(STARTUP_S)
        assert code == 70, (code, rig.proc.stderr.read())
        return "died"
    return "done"


def test_cli_prints_pty_and_link_and_stops_cleanly(tmp_path):
    link = tmp_path / "lambdarig0"
    cmd = [sys.executable, "-m", "lambdarig", "serve", "rig", "--flash", str(tmp_path / "flash.bin"),
           "--link", str(link), "--serial-number", "LR0777", "--scenario", "free-air"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], STARTUP_S)
        assert ready, f"no output within {STARTUP_S:g} s"
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/") and proc.stdout.readline().strip() == str(link)
        assert os.path.realpath(link) == os.path.realpath(path)
        host = Host(str(link))
        try:
            identity = Identity.unpack(host.request(Hello(), timeout=SLACK_S + 1.0).payload)
            assert identity.serial_number == "LR0777"
            host.send(SetPoint(0.0, 0.5))
        finally:
            host.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(STARTUP_S) == 0
        assert "stopped" in proc.stderr.read()
        assert not os.path.lexists(link)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5.0)


@pytest.mark.slow
def test_power_loss_at_every_flash_op_boots_old_or_new(tmp_path):
    flash = tmp_path / "flash.bin"
    with FlashStore(flash) as store:                             # the old settings, committed
        store.erase()
        store.write(0, OLD)
        store.commit(image_crc(OLD))
    n_ops = 2 + math.ceil(len(NEW) / CHUNK) + 1                  # erase (record, data), writes, record
    rig = SubprocessRig(flash, die_after=1)
    try:
        for k in range(1, n_ops + 1):
            # The rig dies in the middle of op k (half its bytes written, the last one being the
            # commit record: torn), is restarted, and must boot the old settings, valid.
            assert flash_until_death(rig, NEW) == "died", f"op {k}"
            rig.close()
            rig = SubprocessRig(flash, die_after=k + 1)
            booted = read_settings(rig.host)
            assert booted == OLD, f"power loss in op {k}/{n_ops}: booted {booted!r}"
        # Past the last op the flash completes, and the next boot has the new settings.
        assert flash_until_death(rig, NEW) == "done"
        assert read_settings(rig.host) == NEW
        assert rig.close() == 0
        rig = SubprocessRig(flash)
        assert read_settings(rig.host) == NEW
    finally:
        rig.close()
