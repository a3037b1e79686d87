"""The serial front end (hal/serial_frontend.py) and its link (hal/rig_link.py), over the real pyserial
transport against the emulated rig (emulator/serial_rig.py) on a pseudo-terminal.

Robustness is tested on the wire: a relay (`Relay`) opens the rig's pty as its host and offers the
host under test a second pty (or a TCP socket), forwarding bytes both ways; it can corrupt the
rig-to-host stream frame by frame (garbage, flipped bits, truncated and duplicated frames) or cut
the line. Nothing here fakes the rig.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import re
import select
import socket
import threading
import time
import tty

import pytest
from realtime import SLACK_S, RigProcess, rig_timestamps_are_its_schedule, wait_for

from lambdarig.controller.core import Controller
from lambdarig.controller.runtime import Runtime
from lambdarig.controller.settings import Settings
from lambdarig.emulator.serial_rig import RigServer
from lambdarig.hal import serial_frontend
from lambdarig.hal.registry import open_frontend
from lambdarig.hal.rig_link import RigError, RigLink
from lambdarig.hal.serial_frontend import SerialFrontEnd, parse_serial_url
from lambdarig.hal.types import Command, FrontEndError, LinkLost
from lambdarig.protocol.codes import ACK, CAP_WATCHDOG, E_OUT_OF_RANGE, SAMPLE, SETTINGS_COMMIT, SETTINGS_WRITE
from lambdarig.protocol.errors import WireError
from lambdarig.protocol.framing import PROTOCOL_VERSION, decode_body
from lambdarig.protocol.image import image_crc, pack_image
from lambdarig.protocol.messages import Identity, SampleMessage, VerifyReply

pytestmark = [pytest.mark.timeout(90), pytest.mark.usefixtures("no_gc_pauses")]

PERIOD_S = 0.002
# The link-loss tests configure the timeouts they judge: the host declares loss after
# LINK_TIMEOUT_S without a SAMPLE, the rig's watchdog makes it safe after WATCHDOG_MS without a host
# frame. Both well above one tick, so that a loaded machine stalling this process (the emulated rig
# and the relay are threads of it) for tens of ms does not fire them before the test's own event.
# The defaults (100 ms each) are measured on an idle machine by benchmarks/hil_serial.py.
LINK_TIMEOUT_S = 0.3
WATCHDOG_MS = 300
TIMED = f"link_timeout_s={LINK_TIMEOUT_S}&watchdog_ms={WATCHDOG_MS}"
# Tests that are not about link-loss timing give the link more slack still.
TOLERANT = "link_timeout_s=1.0&watchdog_ms=1000"


def drive(fe: SerialFrontEnd, seconds: float, command: Command | None = None, on_tick=None) -> list:
    """The runtime's loop shape by hand: wait_until, sample, apply at 500 Hz for `seconds`."""
    command = command or Command(0.0, 0.0, True)
    samples = []
    t0 = fe.now()
    n = 0
    while n * PERIOD_S < seconds:
        fe.wait_until(t0 + n * PERIOD_S)
        samples.append(fe.sample())
        fe.apply(command)
        if on_tick is not None:
            on_tick(n)
        n += 1
    return samples


def heater_is(rig, duty: float) -> bool:
    """The rig's heater duty is `duty` (its PWM is quantised)."""
    return abs(rig.outputs()[1] - duty) < 2e-3


def reported_quiet_s(lost: LinkLost) -> float:
    """The silence the front end itself measured when it declared the loss ("no SAMPLE for N ms")."""
    match = re.search(r"no SAMPLE for (\d+) ms", str(lost))
    assert match, str(lost)
    return int(match.group(1)) * 1e-3


def streamed_at(fe: SerialFrontEnd, rig, rate_hz: int, run) -> None:
    """run() with the link streaming: every SAMPLE of the rig arrived (no gap, none corrupt) and the
    rig stamped them at its schedule for rate_hz, whatever the machine's load made of wall time."""
    fe.link.pop_samples()
    skipped = rig.counters.samples_skipped
    run()
    times = [s.sample.t_s for s in fe.link.pop_samples()]
    assert len(times) > 10, len(times)
    assert rig_timestamps_are_its_schedule(times, rate_hz, rig.counters.samples_skipped - skipped), times[:20]
    assert fe.link.sample_gaps == 0 and fe.link.dropped == 0, fe.stats()


def is_safe(rig) -> bool:
    """Heater off, pump within one DAC step of 0 (0 A is not a code of the emulated 16-bit DAC)."""
    pump_a, duty, _ = rig.outputs()
    return duty == 0.0 and abs(pump_a) < 1e-6


class Relay:
    """A byte relay between the rig's pty and a host-side pty (or a TCP socket), on a thread.

    rig -> host bytes are split into frames at 0x00 and each frame goes through `mutate(frame) ->
    bytes` (None: unchanged); `cut = True` drops everything in both directions (a pulled cable)."""

    def __init__(self, rig_path: str, tcp: bool = False):
        self.rig_fd = os.open(rig_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.rig_fd)
        self.tcp = tcp
        self._conn = None
        self._listener = None
        if tcp:
            self._listener = socket.socket()
            self._listener.bind(("127.0.0.1", 0))
            self._listener.listen(1)
            self.url = f"socket://127.0.0.1:{self._listener.getsockname()[1]}"
            self.host_fd = None
        else:
            self.host_fd, self._slave = os.openpty()
            tty.setraw(self._slave)
            os.set_blocking(self.host_fd, False)
            self.url = os.ttyname(self._slave)
        self.mutate = None            # rig -> host, per frame
        self.mutate_to_rig = None     # host -> rig, per frame
        self.cut = False              # both directions
        self.cut_to_rig = False       # host -> rig only
        self.frames = 0
        self._buf = bytearray()
        self._buf_to_rig = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _host_write(self, data: bytes) -> None:
        while data and not self._stop.is_set():
            try:
                if self.tcp:
                    if self._conn is None:
                        return
                    n = self._conn.send(data)
                else:
                    n = os.write(self.host_fd, data)
            except (BlockingIOError, InterruptedError):
                time.sleep(0.0002)
                continue
            except OSError:
                return
            data = data[n:]

    def _run(self) -> None:
        while not self._stop.is_set():
            fds = [self.rig_fd]
            if self.tcp:
                fds.append(self._conn if self._conn is not None else self._listener)
            else:
                fds.append(self.host_fd)
            try:
                ready, _, _ = select.select(fds, [], [], 0.01)
            except (OSError, ValueError):
                return
            for fd in ready:
                if fd is self._listener:
                    self._conn, _ = self._listener.accept()
                    self._conn.setblocking(False)
                    continue
                try:
                    data = fd.recv(4096) if fd is self._conn else os.read(fd, 4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    if fd == self.rig_fd:
                        return
                    continue
                if fd == self.rig_fd:
                    self._from_rig(data)
                elif data:
                    self._to_rig(data)

    def _to_rig(self, data: bytes) -> None:
        self._buf_to_rig += data
        while True:
            end = self._buf_to_rig.find(0)
            if end < 0:
                return
            frame = bytes(self._buf_to_rig[:end + 1])
            del self._buf_to_rig[:end + 1]
            if self.cut or self.cut_to_rig:
                continue
            mutate = self.mutate_to_rig
            out = frame if mutate is None else mutate(frame)
            try:
                if out:
                    os.write(self.rig_fd, out)
            except OSError:
                pass

    def _from_rig(self, data: bytes) -> None:
        self._buf += data
        while True:
            end = self._buf.find(0)
            if end < 0:
                return
            frame = bytes(self._buf[:end + 1])
            del self._buf[:end + 1]
            self.frames += 1
            if self.cut:
                continue
            mutate = self.mutate
            out = frame if mutate is None else mutate(frame)
            if out:
                self._host_write(out)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        for fd in (self.rig_fd, self.host_fd, getattr(self, "_slave", None)):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        if self.tcp:
            if self._conn is not None:
                self._conn.close()
            self._listener.close()


# --- opening, identity, URLs ------------------------------------------------------------------------


def test_open_identity_info_and_stream(rig):
    fe = open_frontend(f"serial://{rig.path}?{TOLERANT}")
    try:
        assert isinstance(fe, SerialFrontEnd)
        info = fe.info()
        assert (info.kind, info.name, info.element) == ("serial", f"serial://{rig.path}", "lsu49")
        assert info.measures_ri and info.measures_heater and info.measures_pump_v
        assert not info.virtual_time and not info.has_truth
        assert info.pump_current_min_a < 0 < info.pump_current_max_a
        assert info.details["serial_number"] == "LR0001"
        assert info.details["firmware"] == "0.1.0"
        assert info.details["port"] == rig.path
        assert fe.truth() is None
        ident = fe.link.identity()
        assert isinstance(ident, Identity) and ident.protocol_version == PROTOCOL_VERSION
        assert ident.max_rate_hz >= 500 and ident.has(CAP_WATCHDOG)
        t_ping = time.monotonic()
        rtt = fe.link.ping()
        assert 0 < rtt <= time.monotonic() - t_ping       # the round trip, measured inside the call
        # the clock is monotonic seconds since open; samples arrive at 500 Hz on the rig's clock
        assert 0 <= fe.now() < SLACK_S + 1.0
        samples: list = []
        streamed_at(fe, rig, 500, lambda: samples.extend(drive(fe, 0.5, Command(0.0, 0.2, True))))
        s = samples[-1]
        assert 12.0 < s.supply_v < 15.0 and math.isfinite(s.nernst_v) and s.ri_ohm > 0
        assert s.t_s <= fe.now()
        assert fe.last_rig_time_s is not None and fe.last_rig_time_s > 0
        assert wait_for(lambda: heater_is(rig, 0.2))   # the set-point reached the rig
        assert fe.stored_settings_image() is None and fe.stored_settings() is None  # fresh flash
    finally:
        fe.close()
    assert wait_for(lambda: is_safe(rig))              # close() made it safe


def test_url_forms_and_options(rig, tmp_path):
    assert parse_serial_url("serial:///dev/ttyACM0") == ("/dev/ttyACM0", {})
    assert parse_serial_url("serial:/dev/ttyACM0?rate_hz=250") == ("/dev/ttyACM0", {"rate_hz": "250"})
    assert parse_serial_url("serial://socket://127.0.0.1:5000?logging=debug&watchdog_ms=50") == (
        "socket://127.0.0.1:5000?logging=debug", {"watchdog_ms": "50"})
    assert parse_serial_url("serial:auto") == ("auto", {})
    with pytest.raises(ValueError, match="bogus"):
        parse_serial_url("serial:///dev/ttyACM0?bogus=1")
    with pytest.raises(ValueError, match="names no port"):
        parse_serial_url("serial://")
    with pytest.raises(ValueError, match="rate_hz"):
        open_frontend(f"serial://{rig.path}", rate_hz=5000)       # above the rig's 1000 Hz
    with pytest.raises(ValueError, match="watchdog_ms"):
        open_frontend(f"serial://{rig.path}?watchdog_ms=-1")
    with pytest.raises(ValueError, match="unknown option"):
        open_frontend(f"serial://{rig.path}", colour="red")
    with pytest.raises(FrontEndError, match="does not exist.*serve rig"):
        open_frontend(f"serial://{tmp_path}/no-such-tty")
    # a pyserial URL with its own query: spy:// taps the traffic into a file; our key is taken out
    log = tmp_path / "spy.txt"
    fe = open_frontend(f"serial://spy://{rig.path}?file={log}&rate_hz=250&link_timeout_s=1.0&watchdog_ms=1000")
    try:
        assert fe.rate_hz == 250
        streamed_at(fe, rig, 250, lambda: drive(fe, 0.4))
    finally:
        fe.close()
    assert " TX " in log.read_text() and " RX " in log.read_text()


def test_socket_url(rig):
    relay = Relay(rig.path, tcp=True)
    try:
        fe = open_frontend(f"serial://{relay.url}?{TOLERANT}")
        try:
            assert fe.info().details["serial_number"] == "LR0001"
            drive(fe, 0.3)
            assert fe.link.sample_gaps == 0
        finally:
            fe.close()
    finally:
        relay.close()


def test_protocol_version_mismatch_is_refused(rig, monkeypatch):
    real = RigLink.identity

    def future_rig(self):
        ident = real(self)
        return dataclasses.replace(ident, protocol_version=PROTOCOL_VERSION + 1)

    monkeypatch.setattr(RigLink, "identity", future_rig)
    with pytest.raises(FrontEndError, match=r"protocol version 2, this host speaks 1: update the host"):
        open_frontend(f"serial://{rig.path}")
    monkeypatch.undo()
    open_frontend(f"serial://{rig.path}").close()     # the port was released


def test_exclusive_access(rig):
    fe = open_frontend(f"serial://{rig.path}?{TOLERANT}")
    try:
        with pytest.raises(FrontEndError, match=rf"rig port {rig.path} is in use by another program"):
            RigLink(rig.path)
        with pytest.raises(FrontEndError, match="in use"):
            open_frontend(f"serial://{rig.path}")
        drive(fe, 0.05)                                  # the first owner is unaffected
    finally:
        fe.close()
    with RigLink(rig.path) as link:                      # released on close
        assert link.identity().serial_number == "LR0001"


def test_errors_replies_and_settings_flash(rig):
    # requests are not retried here: attempts of a generous length, so no reply comes late
    with RigLink(rig.path, timeout_s=SLACK_S) as link:
        with pytest.raises(RigError, match=rf"{rig.path}: the rig refused WATCHDOG: E_OUT_OF_RANGE") as err:
            link.set_watchdog(5)
        assert err.value.code == E_OUT_OF_RANGE and err.value.request == "WATCHDOG"
        with pytest.raises(RigError, match="STREAM_START"):
            link.start_stream(2000)
        with pytest.raises(ValueError):
            link.send_setpoint(math.nan, 0.0, True)
        # the flash sequence the `flash` command uses, through the public API; > MAX_WRITE bytes
        image = pack_image(1, bytes(range(256)) * 3)
        info0 = link.settings_info()
        assert info0.image_length == 0 and info0.active_slot is None and info0.slot_size >= len(image)
        link.settings_erase()
        link.settings_write(0, image)
        verified = link.settings_verify()
        crc = verified.image_crc
        assert verified == VerifyReply(True, len(image), image_crc(image))
        with pytest.raises(RigError, match="SETTINGS_COMMIT"):
            link.settings_commit(crc ^ 1)
        link.settings_commit(crc)
        info1 = link.settings_info()
        assert (info1.image_length, info1.image_crc) == (len(image), crc) and info1.generation > info0.generation
        assert link.settings_read_active() == image
        # streaming and requests at the same time: replies are matched, samples queued
        link.start_stream(500)
        assert wait_for(lambda: link.poll(0.001) >= 0 and link.samples_received >= 20)
        assert link.settings_read_active() == image
        assert len(link.pop_samples()) >= 20
        assert link.retries == 0 and link.dropped == 0
    fe = open_frontend(f"serial://{rig.path}?{TOLERANT}")
    try:
        assert fe.stored_settings_image() == image
        assert fe.stored_settings() is None                       # no decoder registered
        serial_frontend.register_settings_decoder(lambda data: f"# {len(data)} bytes\n")
        assert fe.stored_settings() == f"# {len(image)} bytes\n"
    finally:
        serial_frontend.register_settings_decoder(None)
        fe.close()


def test_apply_validates_and_clamps(rig):
    fe = open_frontend(f"serial://{rig.path}?{TOLERANT}")
    try:
        sent = fe.link.setpoints_sent
        for bad in (Command(math.nan, 0.1, True), Command(0.0, math.inf, True), Command(0.0, 1.5, True)):
            with pytest.raises(ValueError, match="serial front end"):
                fe.apply(bad)
        assert fe.link.setpoints_sent == sent                     # nothing reached the wire
        fe.apply(Command(1.0, 0.1, True))                         # 1 A: beyond the 10 mA DAC -> clamped
        assert fe.clamped == 1
        drive(fe, 0.05, Command(0.0, 0.1, True))                  # and the rig did not refuse it
        assert wait_for(lambda: rig.counters.setpoints_rejected == 0 and rig.counters.setpoints > 10)
    finally:
        fe.close()


# --- the controller on the rig ---------------------------------------------------------------------


@pytest.mark.slow
def test_controller_reaches_closed_loop_in_real_time(tmp_path):
    """The firmware's runtime loop at 500 Hz on the wall clock: the cold element warms up and the
    controller closes the loop (about 10-12 s on the emulated LSU 4.9). The rig runs in its own
    process, as a board is its own device: this process's catch-up after a stall (late ticks run
    back to back) then cannot starve the rig of the GIL and show the firmware stale samples."""
    with RigProcess(tmp_path / "flash.bin") as rig:
        fe = open_frontend(f"serial://{rig.path}?{TOLERANT}")
        states, heater_v = [], []
        # A 1 s condensation phase (the default is 5 s): this test is about the wall-clock loop, and
        # the shorter warm-up keeps it within 14 s of real time.
        ctl = Controller(Settings({"heater.condensation_s": 1.0}))

        def sink(status, truth):
            states.append(status.state)
            heater_v.append(status.heater_v)     # measured by the rig

        n0, rig_t0 = fe.link.samples_received, fe.last_rig_time_s
        try:
            result = Runtime(fe, ctl, sinks=[sink]).run(14.0, should_stop=lambda: states[-1:] == ["closed_loop"]
                                                        and len(states) > 50 + states.index("closed_loop"))
            received, rig_span_s = fe.link.samples_received - n0, fe.last_rig_time_s - rig_t0
        finally:
            fe.close()
        assert wait_for(rig.outputs_safe)       # ended safe, as the rig itself reports
        rig.stop()
    assert not result.link_lost, result.message
    assert result.time_to_ready_s is not None and result.time_to_ready_s < 13.0, result.summary()
    assert "closed_loop" in states and not result.faults, result.summary()
    assert max(heater_v) > 7.0                                 # the rig's heater really was driven
    # Late ticks are the machine's (a few per mille idle: benchmarks/hil_serial.py); the runtime
    # counts every tick the front end found late.
    assert result.late_ticks == fe.late_ticks, (result.late_ticks, fe.stats())
    # 500 Hz on the rig's clock, every SAMPLE it made arrived intact (any it skipped are counted)
    assert received + rig.counter("samples_skipped") == pytest.approx(rig_span_s * 500, abs=2), (received, rig_span_s)
    assert fe.link.sample_gaps == 0 and fe.link.dropped == 0
    assert fe.link.watchdog_trips == 0, fe.stats()            # the host kept the rig's watchdog fed


# --- robustness over the wire ----------------------------------------------------------------------


@pytest.mark.slow
def test_resynchronises_after_corrupted_frames(rig):
    relay = Relay(rig.path)
    rng = random.Random(5)
    done = {"garbage": 0, "flip": 0, "truncate": 0, "merge": 0, "duplicate": 0, "burst": 0}

    def mutate(frame: bytes) -> bytes:
        if relay.frames == 400:                  # one long run of non-zero garbage (> 2 frames' worth)
            done["burst"] += 1
            return bytes(rng.randrange(1, 256) for _ in range(3000)) + frame
        r = rng.random()
        if r < 0.02:
            done["garbage"] += 1
            return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))) + frame
        if r < 0.04:
            done["flip"] += 1
            i = rng.randrange(len(frame) - 1)
            b = bytearray(frame)
            b[i] ^= 1 << rng.randrange(8)
            return bytes(b)
        if r < 0.06:
            done["truncate"] += 1                 # tail lost, delimiter kept
            return frame[:rng.randrange(1, len(frame) - 1)] + b"\x00"
        if r < 0.07:
            done["merge"] += 1                    # tail and delimiter lost: runs into the next frame
            return frame[:rng.randrange(1, len(frame) - 1)]
        if r < 0.09:
            done["duplicate"] += 1
            return frame + frame
        return frame

    try:
        # requests in the loop (each reply lost with ~9 % odds) must not stall it past the rig's
        # watchdog: attempts of 0.2 s, four at most, against a watchdog of 2 s (the relay and the
        # rig are threads of this process, which a loaded machine can starve for a few 100 ms)
        fe = open_frontend(f"serial://{relay.url}?timeout_s=0.2&link_timeout_s=2.0&watchdog_ms=2000")
        try:
            relay.mutate = mutate
            samples = []
            pings = []

            def on_tick(n):
                if n % 100 == 50:                 # requests while streaming, through the same mess
                    fe.link.ping()
                    pings.append(fe.link.settings_info().slot_size)
                if n % 50 == 25:                  # host -> rig garbage: the rig must resynchronise too
                    fe.link._write(bytes(rng.randrange(256) for _ in range(30)), "injecting garbage")

            produced = rig.counters.samples
            samples = drive(fe, 3.0, Command(0.0, 0.15, True), on_tick=on_tick)
            produced = rig.counters.samples - produced
            link = fe.link
            corrupting = done["garbage"] + done["flip"] + done["truncate"] + done["merge"] + done["burst"]
            assert corrupting > 30 and done["duplicate"] > 5, done
            assert link.dropped >= corrupting * 0.5, (done, link.counters())
            assert link.sample_gaps > 0
            assert len(pings) >= 5 and all(p == pings[0] for p in pings)
            assert all(12.0 < s.supply_v < 15.0 and 0.0 <= s.heater_a < 5.0 for s in samples)  # no corrupt values
            assert link.samples_received > 0.8 * produced            # ~9% of the frames were mangled
            assert rig.counters.rx_dropped > 10               # the rig dropped our garbage ...
            assert wait_for(lambda: rig.counters.setpoints > 0.9 * link.setpoints_sent)  # ... took set-points
            assert heater_is(rig, 0.15)
        finally:
            fe.close()
    finally:
        relay.close()


def test_silent_line_declares_link_loss_after_the_link_timeout_and_rig_goes_safe(rig):
    relay = Relay(rig.path)
    try:
        fe = open_frontend(f"serial://{relay.url}?{TIMED}")
        try:
            drive(fe, 0.3, Command(0.0, 0.3, True))
            assert wait_for(lambda: heater_is(rig, 0.3))
            relay.cut = True                                   # the cable is pulled
            t_cut = time.monotonic()
            last_rx = fe.link.latest.rx_monotonic
            with pytest.raises(LinkLost) as lost:
                drive(fe, 2.0 + SLACK_S, Command(0.0, 0.3, True))
            t_lost = time.monotonic()
            # declared once the line had been silent for the link timeout, not before, and within a
            # loaded machine's scheduling slack after it
            assert reported_quiet_s(lost.value) >= LINK_TIMEOUT_S, str(lost.value)
            assert t_lost - last_rx >= LINK_TIMEOUT_S
            assert t_lost - t_cut < LINK_TIMEOUT_S + SLACK_S
            assert "went silent" in str(lost.value) and relay.url in str(lost.value)
            assert "no answer to PING" in str(lost.value) and "watchdog" in str(lost.value)
            # the rig got nothing either: its watchdog has turned the heater off, once
            assert wait_for(lambda: is_safe(rig))
            assert time.monotonic() - t_cut < WATCHDOG_MS * 1e-3 + SLACK_S
            assert rig.counters.watchdog_trips == 1
        finally:
            fe.close()
    finally:
        relay.close()


def test_a_stalled_host_reads_what_arrived_before_judging_silence(rig):
    """A host that was itself off the CPU for longer than the link timeout (a loaded machine) finds
    the SAMPLEs the rig streamed meanwhile in the port: not a link loss."""
    fe = open_frontend(f"serial://{rig.path}?link_timeout_s=0.1&watchdog_ms=2000")
    try:
        drive(fe, 0.05)
        received = fe.link.samples_received
        time.sleep(0.3)                              # this host stalls; the rig keeps streaming
        fe.wait_until(fe.now() + 0.01)               # would raise LinkLost judging the stale newest SAMPLE
        assert fe.link.samples_received > received + 50
        drive(fe, 0.05)
    finally:
        fe.close()


def test_rig_reset_is_reported(rig):
    fe = open_frontend(f"serial://{rig.path}?{TIMED}")
    try:
        drive(fe, 0.1, Command(0.0, 0.3, True))
        fe.link.reset()                                        # the board resets: stream stops, outputs safe
        t_reset = time.monotonic()
        with pytest.raises(LinkLost, match="stopped streaming.*answers PING.*reset") as lost:
            drive(fe, 1.0 + SLACK_S, Command(0.0, 0.3, True))
        assert reported_quiet_s(lost.value) >= LINK_TIMEOUT_S, str(lost.value)
        assert time.monotonic() - t_reset < LINK_TIMEOUT_S + SLACK_S, str(lost.value)
        fe.safe()                          # what the runtime does on LinkLost (the rig took our
        assert wait_for(lambda: is_safe(rig))   # set-points after its reset until then)
    finally:
        fe.close()


def test_rig_vanishes_mid_run(tmp_path):
    server = RigServer(flash_path=tmp_path / "flash.bin").start()
    # a silence timeout longer than the bound below: the loss must come from the port vanishing
    fe = open_frontend(f"serial://{server.path}?link_timeout_s=2.0&watchdog_ms=2000")
    stopped = {}

    def pull():
        stopped["t"] = time.monotonic()
        server.stop()

    timer = threading.Timer(0.5, pull)
    timer.start()
    try:
        result = Runtime(fe, Controller()).run(5.0 + SLACK_S)
        ended = time.monotonic()
    finally:
        timer.cancel()
        timer.join()
        fe.close()
        server.stop()
    assert result.link_lost, result.summary()
    assert "vanished" in result.message and server.path in result.message
    assert ended - stopped["t"] < min(SLACK_S, fe.link_timeout_s)
    assert result.final_state == "fault" and any(e["code"] == "link_loss" for e in result.events)
    fe.safe()                                                  # never raises on a dead link


def test_reconnect_when_the_rig_returns(tmp_path):
    link = tmp_path / "rig"
    first = RigServer(flash_path=tmp_path / "flash.bin", link=link).start()
    fe = open_frontend(f"serial://{link}?{TOLERANT}")
    second = None
    holder: dict = {}
    timer = None
    try:
        drive(fe, 0.1)
        first.stop()                                           # the rig goes away, its symlink too
        with pytest.raises(LinkLost, match="vanished"):
            drive(fe, 1.0)
        with pytest.raises(LinkLost, match="did not come back"):
            fe.reconnect(timeout_s=0.2)

        def restart():
            holder["t"] = time.monotonic()                     # before the symlink exists
            holder["rig"] = RigServer(flash_path=tmp_path / "flash.bin", link=link).start()

        timer = threading.Timer(0.3, restart)
        timer.start()
        fe.reconnect(timeout_s=5.0)                            # polls until the symlink is back
        back = time.monotonic()
        timer.join()                                           # the rig thread is running by now
        second = holder["rig"]
        # it came back on the new rig, after it appeared and within the slack of a poll + handshake
        assert holder["t"] < back < holder["t"] + SLACK_S + 1.0
        assert fe.reconnects == 1 and fe.info().details["port"] == str(link)
        clock = fe.now()
        drive(fe, 0.3, Command(0.0, 0.25, True))              # the clock went on; samples flow again
        assert fe.now() > clock
        assert wait_for(lambda: heater_is(second, 0.25))
    finally:
        fe.close()
        if timer is not None:
            timer.join()
        first.stop()
        for rig in (second, holder.get("rig")):
            if rig is not None:
                rig.stop()
    assert not link.exists()


def test_reconnect_can_be_disabled(rig):
    fe = open_frontend(f"serial://{rig.path}?reconnect=0")
    try:
        with pytest.raises(FrontEndError, match="reconnecting is disabled"):
            fe.reconnect()
    finally:
        fe.close()


def test_silent_rig_request_times_out_with_clear_message(rig):
    relay = Relay(rig.path)
    try:
        with RigLink(relay.url, timeout_s=0.05, retries=2) as link:
            assert link.identity().element == "lsu49"
            relay.cut = True
            t0 = time.monotonic()
            with pytest.raises(LinkLost, match=rf"no reply to SETTINGS_INFO from the rig on {relay.url} after 3 "
                                               r"attempt\(s\) of 0.05 s: the rig is silent"):
                link.settings_info()
            elapsed = time.monotonic() - t0
            assert 3 * 0.05 <= elapsed < 3 * 0.05 + SLACK_S, elapsed    # three whole attempts
            assert link.retries == 2
    finally:
        relay.close()


def test_host_to_rig_direction_broken_is_detected(rig):
    relay = Relay(rig.path)
    try:
        fe = open_frontend(f"serial://{relay.url}?{TIMED}")
        try:
            drive(fe, 0.2, Command(0.0, 0.3, True))
            relay.cut_to_rig = True                       # samples still come; our set-points do not arrive
            t_cut = time.monotonic()
            with pytest.raises(LinkLost, match="does not receive our set-points") as lost:
                drive(fe, 2.0 + SLACK_S, Command(0.0, 0.3, True))
            # judged on a SAMPLE that arrived more than the link timeout after the set-point it lacks
            ago_ms = int(re.search(r"sent (\d+) ms ago", str(lost.value)).group(1))
            assert ago_ms >= LINK_TIMEOUT_S * 1e3, str(lost.value)
            assert time.monotonic() - t_cut < LINK_TIMEOUT_S + SLACK_S, str(lost.value)
            assert wait_for(lambda: is_safe(rig))         # the rig's watchdog
            assert rig.counters.watchdog_trips == 1
        finally:
            fe.close()
    finally:
        relay.close()


def _frame_info(frame: bytes):
    try:
        return decode_body(frame[:-1])
    except WireError:
        return None


def test_lost_replies_and_requests_during_a_flash_are_recovered(rig):
    """A lost WRITE reply is re-sent (idempotent); a lost COMMIT reply is not re-sent blindly: the
    link asks SETTINGS_INFO whether it happened; a lost COMMIT request is re-sent after that check."""
    relay = Relay(rig.path)
    requests: dict[int, int] = {}                          # seq -> request type, host -> rig
    drop = {"reply_to": {SETTINGS_WRITE, SETTINGS_COMMIT}, "request": set()}

    def to_rig(frame: bytes) -> bytes:
        f = _frame_info(frame)
        if f is not None:
            requests[f.seq] = f.type
            if f.type in drop["request"]:
                drop["request"].discard(f.type)
                return b""
        return frame

    def to_host(frame: bytes) -> bytes:
        f = _frame_info(frame)
        if f is not None and f.type == ACK and requests.get(f.seq) in drop["reply_to"]:
            drop["reply_to"].discard(requests[f.seq])
            return b""
        return frame

    relay.mutate, relay.mutate_to_rig = to_host, to_rig
    try:
        # each lost frame costs one attempt; attempts long enough that no reply is late on a busy machine
        with RigLink(relay.url, timeout_s=0.25) as link:
            for n, image in enumerate((pack_image(1, b"first " * 100), pack_image(1, b"second " * 90))):
                if n == 1:
                    drop["request"] = {SETTINGS_COMMIT}
                before = link.settings_info()
                retries = link.retries
                link.settings_erase()
                link.settings_write(0, image)
                assert link.settings_verify() == VerifyReply(True, len(image), image_crc(image))
                link.settings_commit(image_crc(image))
                after = link.settings_info()
                assert after.generation == before.generation + 1        # committed exactly once
                assert after.image_crc == image_crc(image) and link.settings_read_active() == image
                assert link.retries > retries
            assert not drop["reply_to"] and not drop["request"]          # every loss really happened
    finally:
        relay.close()


def test_serial_auto_uses_port_discovery(rig, monkeypatch):
    from lambdarig.hal import ports
    monkeypatch.setattr(ports, "find_rig", lambda *a, **k: f"serial://{rig.path}")
    fe = open_frontend("serial:auto")
    try:
        assert fe.info().details["port"] == rig.path and fe.info().name == "serial:auto"
    finally:
        fe.close()

    def none_found(*a, **k):
        raise FrontEndError("no lambdarig bench board found")

    monkeypatch.setattr(ports, "find_rig", none_found)
    with pytest.raises(FrontEndError, match="no lambdarig bench board"):
        open_frontend("serial:auto")


def test_rig_clock_wrap_is_unwrapped_and_a_clock_restart_is_a_reset(rig):
    """The rig's t_us counter wraps at 2^32 us (~71.6 min): the relay shifts the rig's clock so that it
    wraps during the test, then makes it jump back (what a board's reboot looks like)."""
    relay = Relay(rig.path)
    shift = {"us": None, "back": False}

    def retime(frame: bytes) -> bytes:
        f = _frame_info(frame)
        if f is None or f.type != SAMPLE:
            return frame
        sample = SampleMessage.unpack(f.payload)
        if shift["us"] is None:
            shift["us"] = (1 << 32) - sample.t_us - 200_000        # wraps 0.2 s from now
        t_us = (sample.t_us + shift["us"] - (5_000_000 if shift["back"] else 0)) & 0xFFFFFFFF
        return dataclasses.replace(sample, t_us=t_us).encode(f.seq)

    relay.mutate = retime
    try:
        fe = open_frontend(f"serial://{relay.url}?{TOLERANT}")
        try:
            drive(fe, 0.5)
            # the stamp of every SAMPLE since the stream started, unwrapped by the link (so a stall
            # of this loop does not matter)
            times = [s.sample.t_s for s in fe.link.pop_samples()]
            assert times[0] < 2 ** 32 * 1e-6 < times[-1]              # crossed the wrap ...
            assert rig_timestamps_are_its_schedule(times, 500, rig.counters.samples_skipped)  # ... continuously
            assert fe.link.clock_resets == 0
            shift["back"] = True
            with pytest.raises(LinkLost, match="was reset: its clock restarted"):
                drive(fe, 0.5)
        finally:
            fe.close()
    finally:
        relay.close()


def test_runtime_resumes_after_reconnect(tmp_path):
    """The recipe for `run --hal serial://...` with reconnect: after a LinkLost the runtime ends with
    link_lost; reconnect(), restart the controller (link loss is not retried by itself), run on."""
    link = tmp_path / "rig"
    rigs = [RigServer(flash_path=tmp_path / "flash.bin", link=link).start()]
    fe = open_frontend(f"serial://{link}?{TOLERANT}")
    pull = threading.Timer(0.3, rigs[0].stop)
    try:
        ctl = Controller()
        pull.start()
        first = Runtime(fe, ctl).run(5.0)
        assert first.link_lost and ctl.state.value == "fault"
        pull.join()                           # the first rig has let go of its flash file
        rigs.append(RigServer(flash_path=tmp_path / "flash.bin", link=link).start())
        fe.reconnect(timeout_s=3.0)
        ctl.stop()
        ctl.start()
        second = Runtime(fe, ctl).run(0.5)
        assert not second.link_lost and second.ticks == 251, second.summary()
        assert any(e["code"] == "link_loss" for e in first.events)
    finally:
        pull.cancel()
        pull.join()
        fe.close()
        for r in rigs:
            r.stop()
