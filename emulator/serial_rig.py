"""The emulated bench rig: a board's firmware, emulated, on a pseudo-terminal.

`RigServer` opens a pty (os.openpty, slave in raw mode), exposes the slave's path (and an optional
symlink) and runs an element in wall-clock time behind the lambdarig wire protocol (lambdarig.protocol,
docs/protocol.md): identity, sample streaming at 1..1000 Hz, set-points, the watchdog, reset and the
two-slot settings flash (emulator/flash_store.py), persistent in a file.

The loop (one thread, or the foreground with `serve()`):
  1. advance the physics (emulator.rig.EmulatedRig) to each due sample time on time.monotonic and
     stream SAMPLE frames; then to now;
  2. read what the host sent (non-blocking), split frames (lambdarig.protocol.framing.FrameReader: corrupt
     frames are dropped and counted), decode each into its typed request (lambdarig.protocol.messages, the
     classes the host packs with), answer it, apply set-points;
  3. the watchdog: no valid host frame for watchdog_ms -> heater off, pump 0 (EmulatedRig.safe()),
     STATUS_WATCHDOG_TRIPPED until the next SETPOINT; streaming goes on;
  4. write pending output without blocking;
  5. wait for input or the next deadline, never more than 1 ms.

The host side of the pty may close and reopen at any time: while no host has it open (the master
reads EIO / polls POLLHUP) nothing is written (a new host starts on a clean line), nothing crashes.
A rig that loses its host makes its outputs safe at once, watchdog or not (watchdog_ms=0 included):
a host that died cannot send the SETPOINT that would turn the heater off. Frames the host sent just
before it left are still handled (they were read first), and the outputs are made safe after them.

Nothing from lambdarig.hal is imported: the protocol package is the one thing both ends share.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import random
import re
import select
import signal
import sys
import tempfile
import termios
import threading
import time
import tty
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from lambdarig.common.errors import InputError
from lambdarig.common.state_dir import user_state_dir
from lambdarig.protocol.codes import (
    ANALOG_OUT_MAX_V,
    CAP_ANALOG_OUT,
    CAP_HEATER_SENSE,
    CAP_PRESSURE,
    CAP_PUMP_V,
    CAP_RI,
    CAP_SENSE,
    CAP_SETTINGS,
    CAP_TRIM,
    CAP_WATCHDOG,
    E_BAD_LENGTH,
    E_FLASH_FAILED,
    E_OUT_OF_RANGE,
    ERROR_TEXT,
    SETPOINT,
    STATUS_OUTPUTS_SAFE,
    STATUS_WATCHDOG_TRIPPED,
)
from lambdarig.protocol.errors import WireError
from lambdarig.protocol.framing import PROTOCOL_VERSION, Frame, FrameReader, encode_frame
from lambdarig.protocol.messages import (
    Ack,
    AnalogOut,
    AnalogOutReply,
    Error,
    Hello,
    Identity,
    Message,
    Ping,
    Request,
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
    TrimMessage,
    TrimRead,
    VerifyReply,
    Watchdog,
    decode_request,
)

from .ageing import check_age_h, individual_spec
from .element_spec import ElementSpec, load_element
from .flash_store import FlashError, FlashStore
from .production import check_unit
from .rig import EmulatedRig
from .scenario import Scenario, load_scenario

FIRMWARE_VERSION = (0, 1, 0)
CAPABILITIES = CAP_RI | CAP_HEATER_SENSE | CAP_PUMP_V | CAP_WATCHDOG | CAP_SETTINGS | CAP_ANALOG_OUT
ANALOG_DAC_STEPS = 4095         # the emulated board's analog outputs: a 12-bit DAC over 0..5 V
MAX_RATE_HZ = 1000
DEFAULT_WATCHDOG_MS = 100
MIN_WATCHDOG_MS = 10            # 1..9 ms is refused (E_OUT_OF_RANGE); 0 turns it off
DEFAULT_FLASH_FILE = "lambdarig-rig-flash.bin"
MAX_WAIT_S = 0.001              # the loop never sleeps longer than this
TX_BACKLOG_MAX = 16384          # bytes queued for a slow host; frames beyond are dropped (counted)
MAX_SAMPLE_BACKLOG_S = 0.05     # behind by more than this: skip the missed samples (counted)
JITTER_WINDOW = 20000           # recent sample latencies kept for the statistics
MAX_READS_PER_TICK = 16         # reads of 4096 bytes per loop pass, at most
# The optional exhaust-pressure sensor (--pressure-sensor): noise 1 sd, kPa. The same assumption as
# the sim front end's input (a 400 kPa MAP sensor at ~0.06 % of full scale); written here on its own,
# the emulator imports nothing from the HAL.
PRESSURE_SENSOR_NOISE_KPA = 0.25
PRESSURE_NOISE_SEED = 0x5052    # xor the rig's seed: the sensor's noise is its own stream


@dataclass
class Counters:
    rx_bytes: int = 0
    rx_frames: int = 0           # valid frames from the host
    rx_dropped: int = 0          # corrupt frames dropped (bad COBS, CRC, version, length, overrun)
    tx_frames: int = 0
    tx_dropped: int = 0          # frames not sent: no host on the line, or the host does not read
    samples: int = 0             # SAMPLE frames produced
    samples_skipped: int = 0     # samples not produced because the loop fell behind
    errors_sent: int = 0
    setpoints: int = 0
    setpoints_rejected: int = 0
    watchdog_trips: int = 0
    host_disconnects: int = 0    # the pty's host side went away (EIO / POLLHUP)
    host_loss_safes: int = 0     # outputs made safe because the host went away
    flash_failures: int = 0      # flash operations that failed with an I/O error (answered E_FLASH_FAILED)
    resets: int = 0
    loops: int = 0


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    k = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[k]


class RigServer:
    """An emulated bench board on a pseudo-terminal. `with RigServer(...) as rig: rig.path ...`"""

    def __init__(self, element: str | ElementSpec = "lsu49", scenario: str | Scenario = "default",
                 flash_path: str | os.PathLike | None = None, serial_number: str = "LR0001", seed: int = 0,
                 watchdog_ms: int = DEFAULT_WATCHDOG_MS, link: str | os.PathLike | None = None,
                 die_after_flash_ops: int | None = None, pressure_sensor: bool = False):
        if not 0 <= watchdog_ms <= 0xFFFF or 0 < watchdog_ms < MIN_WATCHDOG_MS:
            raise ValueError(f"watchdog_ms {watchdog_ms}: 0 (off) or {MIN_WATCHDOG_MS}..65535")
        if not serial_number or len(serial_number.encode("ascii", "replace")) > 16:
            raise ValueError(f"serial number {serial_number!r}: 1..16 ASCII characters")
        self.scenario = load_scenario(scenario) if isinstance(scenario, (str, os.PathLike)) else scenario
        self.rig = EmulatedRig(element, self.scenario, seed=seed)
        self.element_name = self.rig.spec.name
        self.serial_number = serial_number
        self.default_watchdog_ms = watchdog_ms
        self.lock = threading.RLock()      # held while the loop touches the physics
        self.counters = Counters()

        self._temp_dir = None
        if flash_path is None:
            self._temp_dir = tempfile.TemporaryDirectory(prefix="lambdarig-rig-")
            flash_path = os.path.join(self._temp_dir.name, DEFAULT_FLASH_FILE)
        self.flash_path = os.fspath(flash_path)
        self.flash = FlashStore(self.flash_path, die_after_ops=die_after_flash_ops)

        spec = self.rig.board.spec
        self.pump_min_a = spec.pump_dac_min_a
        self.pump_max_a = spec.pump_dac_max_a
        # A mixed-potential element has a second (measuring) cell: its voltage rides in each SAMPLE.
        self.has_sense = bool(getattr(self.rig.element, "has_measuring_cell", False))
        capabilities = CAPABILITIES | (CAP_SENSE if self.has_sense else 0)
        # The board measures the connector's trim resistor (CAP_TRIM) when the element has one.
        # getattr: the element's trim_ohm arrives with the production-spread work (sensemu); an
        # element without one answers NaN.
        trim = getattr(self.rig.element, "trim_ohm", None)
        self.trim_ohm = math.nan if trim is None else float(trim)
        capabilities |= CAP_TRIM if trim is not None else 0
        # A board with an exhaust-pressure sensor fitted (CAP_PRESSURE): the world's pressure with
        # the sensor's own seeded noise rides in each SAMPLE's second trailer.
        self.pressure_sensor = bool(pressure_sensor)
        self._pressure_noise = random.Random(PRESSURE_NOISE_SEED ^ seed).gauss
        capabilities |= CAP_PRESSURE if self.pressure_sensor else 0
        self.identity = Identity(PROTOCOL_VERSION, *FIRMWARE_VERSION, capabilities, MAX_RATE_HZ, self.pump_min_a,
                                 self.pump_max_a, serial_number, self.element_name[:16])

        # The pty: the master is ours; the slave is closed once raw, so the host's close is seen
        # (EIO on the master) and nothing we write piles up for the next host while none is there.
        try:
            self._master, slave = os.openpty()
        except OSError:
            self.flash.discard_if_new()
            raise
        try:
            tty.setraw(slave)
            attrs = termios.tcgetattr(slave)
            attrs[2] &= ~termios.HUPCL                  # no hang-up games on the host's close
            termios.tcsetattr(slave, termios.TCSANOW, attrs)
            self.path = os.ttyname(slave)
        except BaseException:
            os.close(self._master)
            self.flash.discard_if_new()
            raise
        finally:
            os.close(slave)
        os.set_blocking(self._master, False)
        self.link = None
        if link is not None:
            self.link = os.fspath(link)
            try:
                if os.path.islink(self.link):
                    os.unlink(self.link)
                os.symlink(self.path, self.link)
            except OSError as exc:
                link_path, self.link = self.link, None      # not ours: _close_fds must not remove it
                self.flash.discard_if_new()                 # a refused start leaves no new flash file
                self._close_fds()
                raise ValueError(f"--link {link_path}: cannot create the symlink: {exc.strerror or exc}") from None

        self._reader = FrameReader()
        self._tx = bytearray()
        self._host_present = False
        self._host_lost = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._closed = False
        self.t0 = time.monotonic()
        self._boot_state()
        self._latency: deque[float] = deque(maxlen=JITTER_WINDOW)   # sample emission lateness, s
        self._loop_gap: deque[float] = deque(maxlen=JITTER_WINDOW)  # time between loop passes, s
        self._work: deque[float] = deque(maxlen=JITTER_WINDOW)      # time a loop pass works (not waiting), s
        self.watchdog_trip_latency_s: list[float] = []              # trip time - deadline, each trip

    # -- state ----------------------------------------------------------------------------------

    def _boot_state(self) -> None:
        """Power-up / RESET state: outputs safe, no stream, default watchdog (armed by the first
        valid host frame), settings loaded from flash."""
        with self.lock:
            self.rig.safe()
            self.rig.apply(excitation=True)
        self.streaming = False
        self.rate_hz = 0
        self._next_sample_t = 0.0
        self._sample_seq = 0
        self.applied_seq = 0
        self.watchdog_ms = self.default_watchdog_ms
        self.watchdog_tripped = False
        self._last_rx_t: float | None = None     # monotonic time of the last valid host frame
        self.flash.boot()
        self.settings = self.flash.active_image()
        self.analog_out_v = (0.0, 0.0)      # what the analog DAC drives (ANALOG_OUT), 0 V at power-up

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def outputs(self) -> tuple[float, float, bool]:
        """(pump current command A, heater duty, excitation) on the emulated board right now."""
        with self.lock:
            fe = self.rig.board
            return fe.pump_command_a, fe.heater_duty, fe.excitation_on

    def truth(self):
        with self.lock:
            return self.rig.truth()

    def stats(self) -> dict:
        """Counters plus timing: sample lateness (jitter) and loop gaps, in milliseconds."""
        lat = sorted(self._latency)
        gaps = sorted(self._loop_gap)
        work = sorted(self._work)
        out = dict(vars(self.counters))
        out.update(
            sample_late_ms_p50=_percentile(lat, 0.5) * 1e3, sample_late_ms_p99=_percentile(lat, 0.99) * 1e3,
            sample_late_ms_max=(lat[-1] * 1e3 if lat else math.nan),
            loop_gap_ms_p50=_percentile(gaps, 0.5) * 1e3, loop_gap_ms_p99=_percentile(gaps, 0.99) * 1e3,
            loop_gap_ms_max=(gaps[-1] * 1e3 if gaps else math.nan),
            loop_work_ms_p99=_percentile(work, 0.99) * 1e3, loop_work_ms_max=(work[-1] * 1e3 if work else math.nan),
            watchdog_trip_late_ms=[x * 1e3 for x in self.watchdog_trip_latency_s],
            rx_dropped_reader=self._reader.dropped,
        )
        return out

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> RigServer:
        if self._thread is not None:
            raise RuntimeError("rig server already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"rig {self.path}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        self._thread = None
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self.lock:
            self.rig.safe()
        self._close_fds()

    def _close_fds(self) -> None:
        if self.link is not None:
            try:
                if os.path.islink(self.link) and os.readlink(self.link) == self.path:
                    os.unlink(self.link)
            except OSError:
                pass
        try:
            os.close(self._master)
        except OSError:
            pass
        self.flash.close()
        if self._temp_dir is not None:
            self._temp_dir.cleanup()
            self._temp_dir = None

    def __enter__(self) -> RigServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def serve(self) -> None:
        """Run the loop in the calling thread until stop() (e.g. from a signal handler)."""
        try:
            self._run()
        finally:
            self.close()

    def request_stop(self) -> None:
        self._stop.set()

    # -- the loop -------------------------------------------------------------------------------

    def _run(self) -> None:
        stop = self._stop
        master = self._master
        monotonic = time.monotonic
        poller: select.poll | None = None
        if master >= 1024:                     # select() cannot watch descriptors past FD_SETSIZE
            poller = select.poll()
            poller.register(master, select.POLLIN)
        last = monotonic()
        try:
            while not stop.is_set():
                now = monotonic()
                self._loop_gap.append(now - last)
                last = now
                self.counters.loops += 1
                self._tick(now)
                self._work.append(monotonic() - now)
                # Wait for input or the next deadline, at most MAX_WAIT_S.
                wait = MAX_WAIT_S
                if self.streaming:
                    wait = min(wait, self._next_sample_t - (monotonic() - self.t0))
                if self._last_rx_t is not None and self.watchdog_ms:
                    wait = min(wait, self._last_rx_t + self.watchdog_ms * 1e-3 - monotonic())
                if wait <= 0.0:
                    continue
                if not self._host_present:
                    time.sleep(wait)          # the master polls as hung up: nothing to wait on
                    continue
                try:
                    if poller is None:
                        wlist = [master] if self._tx else []
                        select.select([master], wlist, [], wait)
                    else:
                        poller.modify(master, select.POLLIN | (select.POLLOUT if self._tx else 0))
                        poller.poll(max(1, int(wait * 1e3)))
                except (OSError, ValueError):
                    if stop.is_set():
                        break
                    time.sleep(wait)
        finally:
            with self.lock:
                self.rig.safe()

    def _tick(self, now: float) -> None:
        t = now - self.t0
        # 1. physics and the samples due (each taken at its scheduled time).
        with self.lock:
            if self.streaming:
                if t - self._next_sample_t > MAX_SAMPLE_BACKLOG_S:
                    period = 1.0 / self.rate_hz
                    missed = int((t - self._next_sample_t) / period)
                    self.counters.samples_skipped += missed
                    self._next_sample_t += missed * period
                while self.streaming and self._next_sample_t <= t:
                    ts = self._next_sample_t
                    self.rig.advance_to(ts)
                    self._send_sample(ts)
                    self._latency.append(t - ts)
                    self._next_sample_t = ts + 1.0 / self.rate_hz
            self.rig.advance_to(t)
        # 2. the host's requests.
        self._receive(now)
        # 3. the watchdog.
        if self._last_rx_t is not None and self.watchdog_ms:
            deadline = self._last_rx_t + self.watchdog_ms * 1e-3
            check = time.monotonic()
            if check >= deadline:
                with self.lock:
                    self.rig.advance_to(check - self.t0)
                    self.rig.safe()
                self.watchdog_tripped = True
                self._last_rx_t = None        # trips once; re-armed by the next valid frame
                self.counters.watchdog_trips += 1
                self.watchdog_trip_latency_s.append(check - deadline)
        # 4. output.
        self._flush()

    # -- I/O ------------------------------------------------------------------------------------

    def _host_gone(self) -> None:
        if self._host_present:
            self.counters.host_disconnects += 1
            self._host_lost = True        # outputs made safe in _receive, after the host's last frames
        self._host_present = False
        if self._tx:
            self.counters.tx_dropped += self._tx.count(0)
            self._tx.clear()
        # Bytes already in the pty stay queued for the next host (a tcflush on the master cannot
        # reach them, and TCIFLUSH would eat a new host's first request): pyserial flushes its
        # input on open, and the framing resynchronises anyway.

    def _receive(self, now: float) -> None:
        chunks = []
        for _ in range(MAX_READS_PER_TICK):     # a flooding host cannot keep the loop from its other work
            try:
                data = os.read(self._master, 4096)
            except BlockingIOError:
                self._host_present = True
                break
            except OSError as exc:
                if exc.errno in (errno.EIO, errno.EBADF, errno.ENXIO):
                    self._host_gone()
                    break
                raise
            if not data:
                self._host_gone()
                break
            self._host_present = True
            chunks.append(data)
            if len(data) < 4096:
                break
        if chunks:
            self._handle_bytes(b"".join(chunks))
        if self._host_lost:
            self._host_lost = False
            self._safe_after_host_loss()

    def _safe_after_host_loss(self) -> None:
        """The host went away (closed the port, died, the cable went): nobody is left to turn the
        heater off, so the rig does, whether or not its watchdog is on."""
        with self.lock:
            self.rig.advance_to(self.elapsed())
            self.rig.safe()
        self._last_rx_t = None            # nothing left for the watchdog to time
        self.counters.host_loss_safes += 1

    def _handle_bytes(self, data: bytes) -> None:
        self.counters.rx_bytes += len(data)
        before = self._reader.dropped
        frames = self._reader.feed(data)
        self.counters.rx_dropped += self._reader.dropped - before
        for frame in frames:
            self.counters.rx_frames += 1
            self._last_rx_t = time.monotonic()
            self._handle(frame)

    def _send(self, message: Message, seq: int) -> None:
        if not self._host_present:
            self.counters.tx_dropped += 1
            return
        data = encode_frame(message.TYPE, seq, message.pack())
        if len(self._tx) + len(data) > TX_BACKLOG_MAX:
            self.counters.tx_dropped += 1
            return
        self._tx += data
        self.counters.tx_frames += 1

    def _flush(self) -> None:
        if not self._tx:
            return
        try:
            n = os.write(self._master, self._tx)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno in (errno.EIO, errno.EBADF, errno.ENXIO):
                self._host_gone()
                return
            raise
        del self._tx[:n]

    def _send_sample(self, ts: float) -> None:
        r = self.rig.sample(1.0 / self.rate_hz)
        fe = self.rig.board
        status = 0
        if self.watchdog_tripped:
            status |= STATUS_WATCHDOG_TRIPPED
        if fe.heater_duty == 0.0 and fe.pump_command_a == 0.0:
            status |= STATUS_OUTPUTS_SAFE
        message = SampleMessage(
            int(ts * 1e6) & 0xFFFFFFFF, r.nernst_v, r.pump_current_a, r.ri_ohm, r.heater_v, r.heater_a,
            r.supply_v, r.pump_v, status, self.applied_seq, sense_v=r.sense_v if self.has_sense else None,
            pressure_kpa=self._pressure_reading() if self.pressure_sensor else None)
        self._send(message, self._sample_seq)
        self._sample_seq = (self._sample_seq + 1) & 0xFFFF
        self.counters.samples += 1

    def _pressure_reading(self) -> float:
        """The fitted pressure sensor: the emulated world's exhaust pressure (absolute) plus noise, kPa."""
        return self.rig.world.pressure_kpa + PRESSURE_SENSOR_NOISE_KPA * self._pressure_noise(0.0, 1.0)

    def _error(self, frame: Frame, code: int, text: str = "") -> None:
        self.counters.errors_sent += 1
        self._send(Error(code, frame.type, text or ERROR_TEXT.get(code, "")), frame.seq)

    def _ack(self, frame: Frame) -> None:
        self._send(Ack(0), frame.seq)

    # -- requests -------------------------------------------------------------------------------

    def _handle(self, frame: Frame) -> None:
        try:
            request = decode_request(frame)
        except WireError as exc:
            if frame.type == SETPOINT and exc.code != E_BAD_LENGTH:
                self.counters.setpoints_rejected += 1
            self._error(frame, exc.code, str(exc))
            return
        try:
            self._HANDLERS[type(request)](self, frame, request)
        except OSError as exc:
            # The flash file failed (disk full, I/O error): a refusal, never the end of the board.
            self.counters.flash_failures += 1
            self._error(frame, E_FLASH_FAILED, f"I/O error: {exc.strerror or exc}")

    def _on_hello(self, frame: Frame, request: Hello) -> None:
        self._send(self.identity, frame.seq)

    def _on_stream_start(self, frame: Frame, request: StreamStart) -> None:
        rate = request.rate_hz
        if not 1 <= rate <= MAX_RATE_HZ:
            self._error(frame, E_OUT_OF_RANGE, f"rate {rate} Hz: 1..{MAX_RATE_HZ}")
            return
        self._ack(frame)
        was = self.streaming
        self.rate_hz = rate
        self.streaming = True
        if not was:
            self._next_sample_t = self.elapsed()   # the first sample right away

    def _on_stream_stop(self, frame: Frame, request: StreamStop) -> None:
        self.streaming = False
        self._ack(frame)

    def _on_ping(self, frame: Frame, request: Ping) -> None:
        self._ack(frame)

    def _on_setpoint(self, frame: Frame, request: SetPoint) -> None:
        # The protocol's own rules (finite, duty 0..1, reserved flags) were checked by decoding;
        # the DAC range is this board's.
        pump_a = request.pump_current_a
        if not self.pump_min_a <= pump_a <= self.pump_max_a:
            self.counters.setpoints_rejected += 1
            self._error(frame, E_OUT_OF_RANGE, f"pump current {pump_a!r} A: {self.pump_min_a:g}..{self.pump_max_a:g} A")
            return
        with self.lock:
            self.rig.advance_to(self.elapsed())
            self.rig.apply(pump_a, request.heater_duty, request.excitation)
        self.applied_seq = frame.seq
        self.watchdog_tripped = False
        self.counters.setpoints += 1

    def _on_settings_info(self, frame: Frame, request: SettingsInfo) -> None:
        info = self.flash.info()
        reply = SettingsInfoReply(info.active_slot, info.image_length, info.image_crc, info.generation,
                                  info.slot_size)
        self._send(reply, frame.seq)

    def _on_settings_read(self, frame: Frame, request: SettingsRead) -> None:
        try:
            data = self.flash.read(request.slot, request.offset, request.length)
        except FlashError as exc:
            self._error(frame, exc.code, str(exc))
            return
        self._send(SettingsData(data), frame.seq)

    def _flash_op(self, frame: Frame, op, *args) -> None:
        try:
            op(*args)
        except FlashError as exc:
            self._error(frame, exc.code, str(exc))
            return
        self._ack(frame)

    def _on_settings_erase(self, frame: Frame, request: SettingsErase) -> None:
        self._flash_op(frame, self.flash.erase)

    def _on_settings_write(self, frame: Frame, request: SettingsWrite) -> None:
        self._flash_op(frame, self.flash.write, request.offset, request.data)

    def _on_settings_verify(self, frame: Frame, request: SettingsVerify) -> None:
        state = self.flash.verify()
        self._send(VerifyReply(state.image_valid, state.image_length, state.image_crc), frame.seq)

    def _on_settings_commit(self, frame: Frame, request: SettingsCommit) -> None:
        try:
            self.flash.commit(request.expected_crc)
        except FlashError as exc:
            self._error(frame, exc.code, str(exc))
            return
        self.settings = self.flash.active_image()
        self._ack(frame)

    def _on_reset(self, frame: Frame, request: Reset) -> None:
        self._ack(frame)
        self._flush()
        self.counters.resets += 1
        self._boot_state()

    def _on_watchdog(self, frame: Frame, request: Watchdog) -> None:
        ms = request.timeout_ms
        if 0 < ms < MIN_WATCHDOG_MS:
            self._error(frame, E_OUT_OF_RANGE, f"watchdog {ms} ms: 0 (off) or {MIN_WATCHDOG_MS}..65535 ms")
            return
        self.watchdog_ms = ms
        self._ack(frame)

    def _on_analog_out(self, frame: Frame, request: AnalogOut) -> None:
        # The DAC's steps: the reply says what the outputs really drive.
        step_v = ANALOG_OUT_MAX_V / ANALOG_DAC_STEPS
        self.analog_out_v = (round(request.out1_v / step_v) * step_v, round(request.out2_v / step_v) * step_v)
        self._send(AnalogOutReply(*self.analog_out_v), frame.seq)


    def _on_trim_read(self, frame: Frame, request: TrimRead) -> None:
        self._send(TrimMessage(self.trim_ohm), frame.seq)

    _HANDLERS: dict[type[Request], Callable[..., None]] = {
        Hello: _on_hello, StreamStart: _on_stream_start, StreamStop: _on_stream_stop, Ping: _on_ping,
        SetPoint: _on_setpoint, SettingsInfo: _on_settings_info, SettingsRead: _on_settings_read,
        SettingsErase: _on_settings_erase, SettingsWrite: _on_settings_write, SettingsVerify: _on_settings_verify,
        SettingsCommit: _on_settings_commit, Reset: _on_reset, Watchdog: _on_watchdog,
        AnalogOut: _on_analog_out,
        TrimRead: _on_trim_read,
    }


# --- the command line: `lambdarig serve rig` --------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--element", default="lsu49", metavar="NAME",
                        help="element name or .toml file (default: lsu49)")
    parser.add_argument("--scenario", default="default", metavar="NAME|FILE",
                        help="scenario name or .toml file; its last values hold after it ends (default: default)")
    parser.add_argument("--link", default=None, metavar="PATH",
                        help="also make this symlink to the pty (e.g. /tmp/lambdarig0)")
    parser.add_argument("--flash", default=None, metavar="FILE",
                        help="the rig's settings flash, a file (default: per serial number under the user's state "
                             "directory, $XDG_STATE_HOME/lambdarig/rigs/SERIAL/flash.bin, "
                             "XDG_STATE_HOME defaulting to ~/.local/state)")
    parser.add_argument("--serial-number", default="LR0001", metavar="S",
                        help="the serial number the rig reports (default: LR0001)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="noise seed, integer >= 0 (default: 0)")
    parser.add_argument("--watchdog-ms", type=int, default=DEFAULT_WATCHDOG_MS, metavar="N",
                        help=f"watchdog after power-up and reset, ms; 0 off (default: {DEFAULT_WATCHDOG_MS})")
    parser.add_argument("--unit", default=None, metavar="N",
                        help="production unit N of the element (integer >= 0; default: the nominal element)")
    parser.add_argument("--age-h", default=None, metavar="H",
                        help="operating hours the element has aged by (default 0)")
    parser.add_argument("--pressure-sensor", action="store_true",
                        help="fit an exhaust-pressure sensor: CAP_PRESSURE, pressure_kpa in every SAMPLE "
                             "(default: none, as on the bench board)")
    parser.add_argument("--die-after-flash-ops", type=int, default=None, help=argparse.SUPPRESS)


SERIAL_IN_PATH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,15}\Z")


def default_flash_path(serial_number: str) -> str:
    """$XDG_STATE_HOME/lambdarig/rigs/SERIAL/flash.bin (folders made): each emulated rig keeps its
    settings across restarts, wherever it is started from, and two serial numbers never share one."""
    if not SERIAL_IN_PATH.match(serial_number or ""):
        raise InputError("command line", "--serial-number", f"{serial_number!r} cannot name the rig's flash folder",
                         allowed="1..16 letters, digits, '.', '_' or '-' (or give --flash FILE)")
    folder = user_state_dir() / "rigs" / serial_number
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError("command line", "--flash", f"cannot make the rig's state folder {folder}: "
                                                    f"{exc.strerror or exc}",
                         allowed="a writable state directory, or --flash FILE") from None
    return str(folder / "flash.bin")


def serve(args: argparse.Namespace) -> int:
    if args.seed < 0:
        raise ValueError(f"--seed {args.seed}: must be >= 0")
    unit = check_unit(args.unit, "serve rig", "--unit")
    age_h = 0.0 if args.age_h is None else check_age_h(args.age_h, "serve rig", "--age-h")
    element = individual_spec(load_element(args.element), unit, age_h)
    flash_path = args.flash if args.flash is not None else default_flash_path(args.serial_number)
    server = RigServer(element=element, scenario=args.scenario, flash_path=flash_path,
                       serial_number=args.serial_number, seed=args.seed, watchdog_ms=args.watchdog_ms,
                       link=args.link, die_after_flash_ops=args.die_after_flash_ops,
                       pressure_sensor=args.pressure_sensor)

    def on_signal(signum, _frame):
        server.request_stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(server.path, flush=True)
        print(f"lambdarig serve rig: serial {server.serial_number}, flash {server.flash_path}", file=sys.stderr,
              flush=True)
        if server.link:
            print(server.link, flush=True)
        server.serve()
        st = server.stats()
        print("lambdarig serve rig: stopped; " + ", ".join(
            f"{k} {st[k]:.3g}" if isinstance(st[k], float) else f"{k} {st[k]}"
            for k in ("rx_frames", "rx_dropped", "tx_frames", "tx_dropped", "samples", "samples_skipped",
                      "watchdog_trips", "host_disconnects", "sample_late_ms_p99", "sample_late_ms_max",
                      "loop_gap_ms_p99", "loop_gap_ms_max", "loop_work_ms_max")), file=sys.stderr, flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(prog="serial_rig")
    add_arguments(parser)
    sys.exit(serve(parser.parse_args()))
