"""The host end of the bench-rig wire protocol (lambdarig.protocol) over any pyserial URL.

    link = RigLink("/dev/lambdarig0")            # or "/dev/pts/5", "socket://127.0.0.1:5000", "loop://"
    ident = link.identity()
    link.set_watchdog(100)
    link.start_stream(500)
    sample = link.read_sample(0.1)               # hal.types.Sample, t_s on the rig's clock
    link.send_setpoint(1e-3, 0.4, True)
    link.close()

I/O rules (pyserial 3.5): the port is opened with `timeout=0` (non-blocking reads) and, where
the transport supports it, `exclusive=True` (a POSIX flock: a second opener fails with a clear
message). Framing is our own: bytes go through lambdarig.protocol.framing.FrameReader, which resynchronises at
the next 0x00 after garbage; requests and replies are the typed messages of lambdarig.protocol.messages;
waits are deadline loops on time.monotonic that sleep in select() on the port's file descriptor (never
readline, never a busy loop).

Both directions at once: SAMPLE frames that arrive while a request waits for its reply are queued
(the newest is kept for read_sample), and replies that arrive while streaming are matched to their
request by sequence number. Requests are retried a bounded number of times when no reply comes;
only idempotent ones are simply re-sent (SETTINGS_WRITE at the same offset with the same data is;
SETTINGS_COMMIT is not: after a lost reply the link asks SETTINGS_INFO whether the commit happened).

Errors: an ERROR reply raises RigError(code, text, request); a rig that stays silent past the
retries raises LinkLost; a port that cannot be opened (missing, busy, no permission) raises
FrontEndError; a port that vanishes (the rig unplugged or its server stopped) raises LinkLost. Every
message names the port and the request.

Not thread-safe: one thread drives a link.
"""

from __future__ import annotations

import collections
import errno
import logging
import math
import select
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import serial

from lambdarig.protocol.codes import (
    E_NOT_ERASED,
    ERROR_NAMES,
    ERROR_TEXT,
    MAX_READ,
    MAX_SLOT_SIZE,
    MAX_WRITE,
    SAMPLE,
    STATUS_WATCHDOG_TRIPPED,
)
from lambdarig.protocol.errors import WireError
from lambdarig.protocol.framing import Frame, FrameReader, encode_frame
from lambdarig.protocol.image import IMAGE_HEAD, IMAGE_OVERHEAD, declared_length
from lambdarig.protocol.messages import (
    Ack,
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
    decode_reply,
    message_name,
)

from .types import FrontEndError, LinkLost, Sample

# pyserial URL schemes whose transport has no flock (exclusive= is not passed to them).
NO_LOCK_SCHEMES = {"socket", "loop", "rfc2217", "cp2110"}

READ_CHUNK = 4096
MAX_CHUNKS_PER_READ = 64   # one _read_available() takes at most 256 KiB: a flooding device cannot hold it
POLL_S = 0.0005            # sleep step for transports without a file descriptor (loop://)
SAMPLE_QUEUE = 1024        # samples kept for pop_samples(); older ones are discarded
# A port that does not take a frame within this is treated as lost. pyserial judges it on elapsed
# time, so a host preempted inside write() for longer gets a timeout although every byte went out:
# generous, as a rig that stops reading is found sooner by the link checks (set-points not applied).
WRITE_TIMEOUT_S = 1.0
T_WRAP = 1 << 32           # the rig's t_us counter wraps here (~71.6 min)

ReplyT = TypeVar("ReplyT", bound=Message)

# The frame trace: one DEBUG line per frame each way (`lambdarig -vv run --hal serial:...`). Each
# frame asks isEnabledFor once, so with the trace off a 500 Hz stream formats nothing.
FRAMES_LOG = logging.getLogger("lambdarig.hal.frames")
TRACE_HEX_BYTES = 24       # payload bytes shown in hex; the rest is elided with its count


def trace_frame(port: str, direction: str, frame_type: int, seq: int, payload: bytes) -> None:
    """Log one frame: port, direction (TX/RX), type name, seq, payload length and its first bytes."""
    shown = payload[:TRACE_HEX_BYTES].hex(" ")
    more = f" ... (+{len(payload) - TRACE_HEX_BYTES} bytes)" if len(payload) > TRACE_HEX_BYTES else ""
    FRAMES_LOG.debug("%s %s %s seq %d len %d: %s%s", port, direction, message_name(frame_type), seq, len(payload),
                     shown, more)


class RigError(FrontEndError):
    """The rig answered a request with ERROR."""

    def __init__(self, code: int, text: str, request: str, port: str = ""):
        self.code = code
        self.text = text
        self.request = request
        self.port = port
        name = ERROR_NAMES.get(code, f"error {code}")
        meaning = ERROR_TEXT.get(code, "")
        detail = text or meaning
        if meaning and text and meaning not in text:
            detail = f"{meaning}: {text}"
        where = f"{port}: " if port else ""
        super().__init__(f"{where}the rig refused {request}: {name} ({detail})")


@dataclass(slots=True)
class RigSample:
    """One decoded SAMPLE frame with its link metadata."""

    sample: Sample        # t_s on the rig's clock, unwrapped
    status: int
    applied_seq: int
    seq: int
    rx_monotonic: float   # time.monotonic() when it was decoded on the host


def _scheme(url: str) -> str:
    head, sep, _ = url.partition("://")
    return head.lower() if sep else ""


class RigLink:
    """One open connection to a bench rig. See the module docstring."""

    def __init__(self, url: str, *, timeout_s: float = 0.2, retries: int = 3, exclusive: bool = True,
                 baudrate: int = 1_000_000, write_timeout_s: float = WRITE_TIMEOUT_S):
        if not isinstance(url, str) or not url.strip():
            raise ValueError(f"rig port must be a device path or pyserial URL, got {url!r}")
        if not (isinstance(timeout_s, (int, float)) and 0 < timeout_s <= 60):
            raise ValueError(f"rig link: timeout_s must be > 0 and <= 60 s, got {timeout_s!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 20:
            raise ValueError(f"rig link: retries must be an integer 0..20, got {retries!r}")
        self.url = url.strip()
        self.port = self.url
        self.timeout_s = float(timeout_s)
        self.max_retries = retries    # re-sends allowed per request (the counter is .retries)
        self._reader = FrameReader()
        self._seq = 0
        self._replies: dict[int, Frame] = {}           # seq -> reply frame, for requests in flight
        self._waiting: set[int] = set()                # seqs of requests whose reply is wanted
        self._async_errors: collections.deque[Frame] = collections.deque(maxlen=64)
        self._samples: collections.deque[RigSample] = collections.deque(maxlen=SAMPLE_QUEUE)
        self.latest: RigSample | None = None
        self.on_frame: Callable[[Frame], None] | None = None   # optional tap (tests, logging)
        # counters
        self.retries = 0              # re-sends made so far
        self.stale_replies = 0
        self.samples_received = 0
        self.sample_gaps = 0          # SAMPLE frames missing from the rig's sequence
        self.clock_resets = 0         # the rig's clock went backwards (rig reset)
        self.watchdog_trips = 0       # SAMPLEs whose status says the watchdog tripped (edges)
        self.bytes_in = 0
        self.bytes_out = 0
        self.setpoints_sent = 0
        self.last_setpoint_seq: int | None = None
        self._last_sample_seq: int | None = None
        self._last_t_raw: int | None = None
        self._t_offset = 0
        self._tripped = False
        self._error: BaseException | None = None      # the port failure that ended this link
        self.closed = False
        self._ser = self._open(exclusive, baudrate, write_timeout_s)
        try:
            self._fd = self._ser.fileno()
        except Exception:
            self._fd = None

    # --- opening ----------------------------------------------------------------------------------

    def _open(self, exclusive: bool, baudrate: int, write_timeout_s: float):
        url = self.url
        kwargs = dict(timeout=0, write_timeout=write_timeout_s, baudrate=baudrate)
        if _scheme(url) not in NO_LOCK_SCHEMES:
            kwargs["exclusive"] = bool(exclusive)
        try:
            return serial.serial_for_url(url, **kwargs)
        except serial.SerialException as exc:
            text = str(exc)
            errno_ = getattr(exc, "errno", None)
            if "exclusively lock" in text or errno_ == 11:
                raise FrontEndError(f"rig port {url} is in use by another program (it holds the exclusive "
                                    f"lock); close the other `lambdarig run`/`flash`/terminal on it first "
                                    f"({text})") from exc
            # The known causes in words; pyserial's own text ("[Errno 2] could not open port ...") only
            # for the others.
            if errno_ == 2 or "No such file" in text:
                raise FrontEndError(f"rig port {url} does not exist: is the board plugged in, or the emulated "
                                    "rig (`lambdarig serve rig`) running?") from exc
            if errno_ == 13 or "Permission denied" in text:
                raise FrontEndError(f"no permission to open rig port {url}: install the udev rules "
                                    "(`lambdarig udev install`) or join the 'dialout' group") from exc
            if errno_ == errno.ENOTTY or "Inappropriate ioctl" in text:   # termios refused: not a terminal
                raise FrontEndError(f"{url} is not a serial port (a file or a device that takes no serial "
                                    "settings); give the board's port, e.g. /dev/ttyACM0, or the pty "
                                    "`lambdarig serve rig` prints") from exc
            raise FrontEndError(f"cannot open rig port {url}: {text}") from exc
        except (ValueError, OSError) as exc:
            raise FrontEndError(f"cannot open rig port {url}: {exc}") from exc

    # --- low-level I/O ----------------------------------------------------------------------------

    def _lost(self, exc: BaseException, doing: str) -> LinkLost:
        self._error = exc
        return LinkLost(f"rig port {self.port} vanished while {doing}: the rig was unplugged, reset or its "
                        f"server stopped ({exc})")

    def _check_open(self, doing: str) -> None:
        if self.closed:
            raise LinkLost(f"rig port {self.port} is closed (while {doing})")
        if self._error is not None:
            raise LinkLost(f"rig port {self.port} vanished earlier ({self._error}); "
                           f"cannot continue {doing}")

    def _write(self, data: bytes, doing: str) -> None:
        self._check_open(doing)
        try:
            self._ser.write(data)
        except serial.SerialTimeoutException as exc:
            raise LinkLost(f"rig port {self.port} does not take data (write timed out while {doing}): "
                           f"the rig stopped reading") from exc
        except (serial.SerialException, OSError) as exc:
            raise self._lost(exc, doing) from exc
        self.bytes_out += len(data)

    def _send(self, message: Request) -> int:
        self._seq = (self._seq + 1) & 0xFFFF
        payload = message.pack()
        if FRAMES_LOG.isEnabledFor(logging.DEBUG):
            trace_frame(self.port, "TX", message.TYPE, self._seq, payload)
        self._write(encode_frame(message.TYPE, self._seq, payload), f"sending {message.NAME}")
        return self._seq

    def _read_available(self) -> int:
        """Read whatever the port has (non-blocking) and dispatch the frames; number of frames."""
        self._check_open("reading")
        n = 0
        for _ in range(MAX_CHUNKS_PER_READ):
            try:
                data = self._ser.read(READ_CHUNK)
            except (serial.SerialException, OSError) as exc:
                raise self._lost(exc, "reading") from exc
            if not data:
                return n
            self.bytes_in += len(data)
            now = time.monotonic()
            for frame in self._reader.feed(data):
                n += 1
                self._dispatch(frame, now)
            if len(data) < READ_CHUNK:
                return n
        return n

    def _wait_readable(self, timeout_s: float) -> None:
        if timeout_s <= 0:
            return
        if self._fd is not None:
            try:
                select.select([self._fd], [], [], timeout_s)
            except (OSError, ValueError) as exc:
                raise self._lost(exc, "waiting for data") from exc
        else:
            time.sleep(min(timeout_s, POLL_S))

    def poll(self, timeout_s: float = 0.0) -> int:
        """Dispatch the frames that are waiting; when there are none, wait up to timeout_s for some.
        Returns the number of frames dispatched."""
        n = self._read_available()
        if n or timeout_s <= 0:
            return n
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return n
            self._wait_readable(left)
            n = self._read_available()
            if n:
                return n

    def _dispatch(self, frame: Frame, now: float) -> None:
        if FRAMES_LOG.isEnabledFor(logging.DEBUG):
            trace_frame(self.port, "RX", frame.type, frame.seq, frame.payload)
        tap = self.on_frame
        if tap is not None:
            tap(frame)
        if frame.type == SAMPLE:
            self._on_sample(frame, now)
        elif frame.seq in self._waiting:
            self._replies[frame.seq] = frame
        elif frame.type == Error.TYPE:
            # an answer to a frame nobody waits for: a SETPOINT the rig refused, or a late reply
            self._async_errors.append(frame)
        else:
            self.stale_replies += 1

    def _on_sample(self, frame: Frame, now: float) -> None:
        try:
            message = SampleMessage.unpack(frame.payload)
        except WireError:
            self._reader.dropped += 1       # a SAMPLE of another layout: dropped like a corrupt frame
            return
        t_us = message.t_us
        last = self._last_t_raw
        if last is not None:
            delta = (t_us - last) % T_WRAP
            if delta >= T_WRAP // 2:       # went backwards: the rig restarted its clock
                self.clock_resets += 1
                self._t_offset = 0
                self._last_sample_seq = None
            elif t_us < last:              # wrapped
                self._t_offset += T_WRAP
        self._last_t_raw = t_us
        last_seq = self._last_sample_seq
        if last_seq is not None:
            gap = (frame.seq - last_seq - 1) & 0xFFFF
            if gap < 0x8000:
                self.sample_gaps += gap
            # else a duplicate / reordered frame: not a gap
        self._last_sample_seq = frame.seq
        tripped = bool(message.status & STATUS_WATCHDOG_TRIPPED)
        if tripped and not self._tripped:
            self.watchdog_trips += 1
        self._tripped = tripped
        sample = Sample(t_s=(t_us + self._t_offset) * 1e-6, nernst_v=message.nernst_v,
                        pump_current_a=message.pump_current_a, ri_ohm=message.ri_ohm, heater_v=message.heater_v,
                        heater_a=message.heater_a, supply_v=message.supply_v, pump_v=message.pump_v,
                        sense_v=math.nan if message.sense_v is None else message.sense_v,
                        pressure_kpa=math.nan if message.pressure_kpa is None else message.pressure_kpa)
        rs = RigSample(sample, message.status, message.applied_seq, frame.seq, now)
        self.latest = rs
        self._samples.append(rs)
        self.samples_received += 1

    # --- request / response -----------------------------------------------------------------------

    def request(self, message: Request, *, idempotent: bool = True, timeout_s: float | None = None,
                retries: int | None = None) -> Message:
        """Send a request and return its decoded reply (its typed reply, or Ack). RigError for ERROR,
        LinkLost when no reply comes after the retries (only idempotent requests are re-sent)."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        retries = self.max_retries if retries is None else retries
        attempts = 1 + (retries if idempotent else 0)
        name = message.NAME
        seqs: list[int] = []
        samples_before = self.samples_received
        try:
            for attempt in range(attempts):
                if attempt:
                    self.retries += 1
                seq = self._send(message)
                seqs.append(seq)
                self._waiting.add(seq)
                reply = self._await(seqs, time.monotonic() + timeout_s)
                if reply is not None:
                    return self._check_reply(reply, message)
        finally:
            for seq in seqs:
                self._waiting.discard(seq)
                self._replies.pop(seq, None)
        streaming = self.samples_received > samples_before
        why = ("the rig keeps streaming samples, so it does not receive our frames or ignores them"
               if streaming else "the rig is silent (not powered, not running the firmware, or the wrong port)")
        raise LinkLost(f"no reply to {name} from the rig on {self.port} after {len(seqs)} attempt(s) of "
                       f"{timeout_s:g} s: {why}")

    def send_request(self, message: Request) -> int:
        """Send a request without waiting; its reply frame is kept for take_reply(seq). Returns the seq."""
        seq = self._send(message)
        self._waiting.add(seq)
        return seq

    def take_reply(self, seq: int, *, forget: bool = True) -> Frame | None:
        """The reply to a send_request() that has arrived (None if not yet). forget=True stops
        waiting for it."""
        frame = self._replies.pop(seq, None) if forget else self._replies.get(seq)
        if forget:
            self._waiting.discard(seq)
        return frame

    def _await(self, seqs: list[int], deadline: float) -> Frame | None:
        replies = self._replies
        while True:
            for seq in seqs:
                frame = replies.get(seq)
                if frame is not None:
                    return frame
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not self._read_available():
                self._wait_readable(left)

    def _check_reply(self, frame: Frame, request: Request) -> Message:
        name = request.NAME
        try:
            reply = decode_reply(type(request), frame)
        except WireError as exc:
            raise FrontEndError(f"{self.port}: bad reply to {name}: {exc}") from exc
        if isinstance(reply, Error):
            raise RigError(reply.code, reply.text, name, self.port)
        if isinstance(reply, Ack) and reply.status != 0:
            raise RigError(reply.status, f"ACK with status {reply.status}", name, self.port)
        return reply

    def _typed_reply(self, request: Request, expected: type[ReplyT]) -> ReplyT:
        """request() for a request whose success is its typed reply (an Ack instead is a fault)."""
        reply = self.request(request)
        if not isinstance(reply, expected):
            raise FrontEndError(f"{self.port}: {request.NAME} answered with {reply.NAME}, expected {expected.NAME}")
        return reply

    def async_errors(self) -> list[RigError]:
        """ERROR frames the rig sent that answered no pending request (e.g. a refused SETPOINT)."""
        out = []
        while self._async_errors:
            frame = self._async_errors.popleft()
            try:
                error = Error.unpack(frame.payload)
            except WireError as exc:
                error = Error(0, 0, f"undecodable ERROR: {exc}")
            out.append(RigError(error.code, error.text, f"{message_name(error.request_type)} (seq {frame.seq})",
                                self.port))
        return out

    # --- the API ----------------------------------------------------------------------------------

    def identity(self) -> Identity:
        return self._typed_reply(Hello(), Identity)

    def ping(self) -> float:
        """Round trip time of one PING, seconds."""
        t0 = time.monotonic()
        self.request(Ping())
        return time.monotonic() - t0

    def trim_ohm(self) -> float:
        """The sensor's trim resistor as a board with CAP_TRIM measures it; NaN: none."""
        return self._typed_reply(TrimRead(), TrimMessage).trim_ohm

    def settings_info(self) -> SettingsInfoReply:
        return self._typed_reply(SettingsInfo(), SettingsInfoReply)

    def settings_read(self, slot: int, offset: int, length: int) -> bytes:
        """Bytes of a slot (0 active, 1 inactive), chunked into reads of at most MAX_READ. Never more
        than the largest slot the protocol can describe: the loop and the buffer are bounded."""
        if not (0 <= offset and 0 <= length and offset + length <= MAX_SLOT_SIZE):
            raise ValueError(f"settings read of {length} bytes at {offset}: outside the largest slot the protocol "
                             f"allows (0..{MAX_SLOT_SIZE} bytes)")
        out = bytearray()
        while len(out) < length:
            n = min(MAX_READ, length - len(out))
            data = self._typed_reply(SettingsRead(slot, offset + len(out), n), SettingsData).data
            if len(data) != n:
                raise FrontEndError(f"{self.port}: SETTINGS_READ of {n} bytes at offset {offset + len(out)} "
                                    f"returned {len(data)}")
            out += data
        return bytes(out)

    def settings_read_active(self) -> bytes:
        """Exactly the active settings image (b"" when the rig has none). The length the rig reports
        is not trusted alone: SETTINGS_INFO's unpack bounds it by the slot, and the image's own header
        (read first) must declare the same length before the rest is read."""
        info = self.settings_info()
        if info.image_length == 0:
            return b""
        if info.image_length < IMAGE_OVERHEAD:
            raise FrontEndError(f"{self.port}: the rig reports an active settings image of {info.image_length} bytes, "
                                f"shorter than an image's header and CRC ({IMAGE_OVERHEAD})")
        head = self.settings_read(0, 0, IMAGE_HEAD.size)
        try:
            declared = declared_length(head)
        except WireError as exc:
            raise FrontEndError(f"{self.port}: the rig's active settings slot does not start with a settings image "
                                f"({exc})") from None
        if declared != info.image_length:
            raise FrontEndError(f"{self.port}: the rig reports an active settings image of {info.image_length} bytes "
                                f"but the image's header declares {declared}; the rig's answers do not agree")
        return head + self.settings_read(0, len(head), info.image_length - len(head))

    def settings_erase(self) -> None:
        self.request(SettingsErase(), timeout_s=max(self.timeout_s, 1.0))

    def settings_write(self, offset: int, data: bytes) -> None:
        """Write data into the erased inactive slot at offset, in chunks of MAX_WRITE. A retried
        chunk that the rig refuses as 'not erased' is accepted when reading it back shows it was
        written by the lost first attempt."""
        data = bytes(data)
        pos = 0
        while pos < len(data):
            chunk = data[pos:pos + MAX_WRITE]
            at = offset + pos
            retries_before = self.retries
            try:
                self.request(SettingsWrite(at, chunk))
            except RigError as exc:
                if not (exc.code == E_NOT_ERASED and self.retries > retries_before
                        and self.settings_read(1, at, len(chunk)) == chunk):
                    raise
            pos += len(chunk)

    def settings_verify(self) -> VerifyReply:
        """The rig's check of the image in its inactive slot (valid, image_length, image_crc)."""
        return self._typed_reply(SettingsVerify(), VerifyReply)

    def settings_commit(self, crc: int) -> None:
        """Make the inactive slot active. Not idempotent (a second commit would swap back), so it is
        never blindly re-sent: after a lost reply, SETTINGS_INFO tells whether it happened."""
        before = self.settings_info()
        commit = SettingsCommit(crc & 0xFFFFFFFF)
        for _attempt in range(1 + self.max_retries):
            try:
                self.request(commit, idempotent=False)
                return
            except RigError:
                raise
            except LinkLost:
                if self._error is not None:
                    raise
                self.retries += 1
                after = self.settings_info()   # raises LinkLost itself if the rig is gone
                if after.generation != before.generation or after.active_slot != before.active_slot:
                    if after.image_crc == (crc & 0xFFFFFFFF):
                        return
                    raise FrontEndError(f"{self.port}: SETTINGS_COMMIT reply lost and the active image now has "
                                        f"CRC 0x{after.image_crc:08X}, expected 0x{crc & 0xFFFFFFFF:08X}") from None
        raise LinkLost(f"no reply to SETTINGS_COMMIT from the rig on {self.port} and the commit did not happen "
                       f"after {1 + self.max_retries} attempt(s)")

    def reset(self) -> None:
        """RESET: the rig acknowledges, then restarts (outputs safe, stream stopped, settings reloaded)."""
        self.request(Reset())
        self._last_t_raw = None
        self._last_sample_seq = None
        self._t_offset = 0
        self._samples.clear()

    def set_watchdog(self, ms: int) -> None:
        if isinstance(ms, bool) or not isinstance(ms, int) or not 0 <= ms <= 0xFFFF:
            raise ValueError(f"watchdog must be 0 (off) .. 65535 ms, got {ms!r}")
        self.request(Watchdog(ms))

    def start_stream(self, rate_hz: int) -> None:
        if isinstance(rate_hz, bool) or not isinstance(rate_hz, int) or not 1 <= rate_hz <= 0xFFFF:
            raise ValueError(f"stream rate must be an integer 1..65535 Hz, got {rate_hz!r}")
        self.request(StreamStart(rate_hz))

    def stop_stream(self) -> None:
        self.request(StreamStop())

    def read_sample(self, timeout_s: float = 0.0) -> Sample | None:
        """The newest SAMPLE that arrived since the last call (older queued ones are discarded),
        waiting up to timeout_s for one; None when none came."""
        self._read_available()
        if not self._samples and timeout_s > 0:
            deadline = time.monotonic() + timeout_s
            while not self._samples:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                if not self._read_available():
                    self._wait_readable(left)
        if not self._samples:
            return None
        newest = self._samples[-1]
        self._samples.clear()
        return newest.sample

    def pop_samples(self) -> list[RigSample]:
        """Every queued SAMPLE (oldest first, at most SAMPLE_QUEUE), with status and applied_seq."""
        self._read_available()
        out = list(self._samples)
        self._samples.clear()
        return out

    def send_setpoint(self, pump_current_a: float, heater_duty: float, excitation: bool) -> int:
        """SETPOINT (not answered; the rig echoes the seq as applied_seq). Returns the seq."""
        for name, value in (("pump_current_a", pump_current_a), ("heater_duty", heater_duty)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"set-point {name} must be a finite number, got {value!r}")
        seq = self._send(SetPoint(pump_current_a, heater_duty, bool(excitation)))
        self.setpoints_sent += 1
        self.last_setpoint_seq = seq
        return seq

    # --- counters and closing ---------------------------------------------------------------------

    @property
    def frames(self) -> int:
        return self._reader.frames

    @property
    def dropped(self) -> int:
        """Corrupt frames discarded by the framer (bad COBS/CRC/length, garbage runs)."""
        return self._reader.dropped

    def counters(self) -> dict:
        return {"frames": self.frames, "dropped": self.dropped, "retries": self.retries,
                "sample_gaps": self.sample_gaps, "samples": self.samples_received,
                "stale_replies": self.stale_replies, "clock_resets": self.clock_resets,
                "watchdog_trips": self.watchdog_trips, "setpoints": self.setpoints_sent,
                "bytes_in": self.bytes_in, "bytes_out": self.bytes_out}

    @property
    def is_open(self) -> bool:
        return not self.closed and self._error is None

    def close(self, stop_stream: bool = True) -> None:
        """Best effort: stop the stream, then close the port. Never raises."""
        if self.closed:
            return
        if stop_stream and self._error is None:
            try:
                self.request(StreamStop(), timeout_s=min(self.timeout_s, 0.1), retries=1)
            except Exception:
                pass
        self.closed = True
        try:
            self._ser.close()
        except Exception:
            pass

    def __enter__(self) -> RigLink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("lost" if self._error else "open")
        return f"RigLink({self.port!r}, {state})"
