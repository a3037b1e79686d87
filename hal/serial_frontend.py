"""The serial backend: a bench rig (or the emulated one) over USB serial, speaking lambdarig.protocol.

URL: ``serial://PORT?rate_hz=500&watchdog_ms=100&timeout_s=0.2&link_timeout_s=0.1&reconnect=1``

- PORT is anything pyserial opens: ``serial:///dev/ttyACM0``, ``serial:///dev/lambdarig-LR0001``,
  ``serial:///dev/pts/5`` (the emulated rig), ``serial://socket://127.0.0.1:5000``, ``serial://loop://``;
  ``serial:/dev/ttyACM0`` works too. ``serial:auto`` picks the one bench board found by its USB ids
  (hal.ports.find_rig(); an error when there is none or several).
- Query keys and keyword options (keywords win): ``rate_hz`` (sample stream, default 500),
  ``watchdog_ms`` (the rig makes its outputs safe after this long without a host frame; default
  100; 0 turns it off), ``timeout_s`` (per request attempt, default 0.2), ``retries`` (default 3),
  ``link_timeout_s`` (no SAMPLE for this long -> LinkLost; default 0.1), ``reconnect`` (default
  true: whether a caller may reconnect() after a LinkLost), ``exclusive`` (flock the port; default
  true), ``baudrate`` (for a board on a UART bridge, e.g. 921600; one of hal.address.BAUDRATES;
  default 1000000, ignored by USB CDC-ACM, ptys and sockets). Query keys that are not ours stay in
  a pyserial URL that has a query of its own (``socket://host:port?logging=debug``); on a device
  path they are an error. A bare device path, a pyserial URL or ``auto`` is read as this backend's
  URL by the registry (hal/address.py).

Opening: HELLO (the protocol version must match lambdarig.protocol.PROTOCOL_VERSION), a safe SETPOINT, the
watchdog, then STREAM_START at rate_hz, and the first SAMPLE. Real time: `now()` is time.monotonic()
since open; `wait_until(t)` sleeps in select() on the port (handling frames as they arrive) until
shortly before t, spins the last 0.3 ms, and returns False for a tick that was already late.
`sample()` is the newest SAMPLE received, its t_s the host time it arrived on this clock (the rig's
own clock is `last_rig_time_s`). Link loss is declared within link_timeout_s (LinkLost), with a
message that says what happened: the port vanished (unplugged, server stopped), the rig went silent
(no SAMPLE, no answer to a PING), it stopped streaming but answers (reset / stream stopped), its clock
restarted (reset), or it does not apply our set-points (frames from the host do not reach it).

Settings: `stored_settings_image()` returns the rig's active settings image (raw bytes, lambdarig.protocol.image
container); `stored_settings()` turns it into TOML text through a decoder the firmware side
registers with `register_settings_decoder(fn)` (hal never imports controller), else returns None.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from lambdarig.common.errors import InputError
from lambdarig.common.validators import show
from lambdarig.protocol.codes import (
    CAP_ANALOG_OUT,
    CAP_HEATER_SENSE,
    CAP_PUMP_V,
    CAP_RI,
    CAP_SETTINGS,
    CAP_TRIM,
    CAP_WATCHDOG,
)
from lambdarig.protocol.errors import WireError
from lambdarig.protocol.framing import PROTOCOL_VERSION
from lambdarig.protocol.image import check_image
from lambdarig.protocol.messages import Identity, Ping

from .address import DEFAULT_BAUDRATE, check_baudrate
from .frontend import FrontEnd
from .rig_analog import AnalogOutSender
from .rig_link import RigLink
from .types import Command, FrontEndError, FrontEndInfo, LinkLost, Sample
from .url import query_options, split_url

DEFAULT_RATE_HZ = 500
DEFAULT_WATCHDOG_MS = 100
DEFAULT_TIMEOUT_S = 0.2
DEFAULT_RETRIES = 3
DEFAULT_LINK_TIMEOUT_S = 0.1
SPIN_S = 0.0003                 # wait_until spins (no sleep) for the last 0.3 ms
PROBE_FRACTION = 0.5            # after this fraction of link_timeout_s of silence, PING the rig
FIRST_SAMPLE_TIMEOUT_S = 1.0
RECONNECT_TIMEOUT_S = 5.0
RECONNECT_POLL_S = 0.05

OPTION_KEYS = ("rate_hz", "watchdog_ms", "timeout_s", "retries", "link_timeout_s", "reconnect", "exclusive",
               "baudrate")

_settings_decoder: Callable[[bytes], str] | None = None


def register_settings_decoder(decoder: Callable[[bytes], str] | None) -> None:
    """The firmware side registers how a settings image (bytes, lambdarig.protocol.image container) becomes the TOML
    text `stored_settings()` returns (lambdarig.controller.settings_image.image_to_toml). None unregisters."""
    global _settings_decoder
    if decoder is not None and not callable(decoder):
        raise ValueError(f"settings decoder must be callable(bytes) -> str, got {decoder!r}")
    _settings_decoder = decoder


class RigMismatch(FrontEndError):
    """The rig that answered cannot be used: another protocol version, or (after reconnecting) a
    different board. Not retried."""


def _bad(option: str, problem: str) -> InputError:
    # An InputError (exit 2 on the command line), its text as before: "serial front end: option 'x': ..."
    return InputError("serial front end", f"option {show(option)}", problem)


def _bad_url(problem: str) -> InputError:
    return InputError("serial front end", "url", problem)


def _int(option: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, str):
        try:
            value = int(value.strip(), 10)
        except ValueError:
            raise _bad(option, f"must be an integer {lo}..{hi}, got {show(value)}") from None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _bad(option, f"must be an integer {lo}..{hi}, got {show(value)}")
    return value


def _float(option: str, value: Any, lo: float, hi: float, unit: str = "s") -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise _bad(option, f"must be a number {lo:g}..{hi:g} {unit}, got {show(value)}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise _bad(option, f"must be a number {lo:g}..{hi:g} {unit}, got {show(value)}")
    return float(value)


def _bool(option: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
        return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise _bad(option, f"must be true or false (1/0, yes/no), got {show(value)}")


def parse_serial_url(url: str) -> tuple[str, dict[str, Any]]:
    """(pyserial port or "auto", our options) from a serial front-end URL."""
    port, query = split_url(url, "serial", lambda _: _bad_url(f"{show(url)} is not a serial front-end URL"),
                            decode=False)
    # Keys that are not ours may belong to a pyserial URL handler (socket://host:port?logging=debug).
    options, foreign = query_options(query, OPTION_KEYS, twice=lambda key: _bad(key, "given twice in the URL"))
    if foreign:
        if "://" not in port:
            raise _bad(foreign[0][0], f"unknown query key; allowed: {', '.join(OPTION_KEYS)}")
        port = f"{port}?{urlencode(foreign)}"   # the pyserial URL handler's own options
    if not port:
        raise _bad_url(f"{show(url)} names no port; e.g. serial:///dev/ttyACM0, "
                       f"serial:///dev/pts/5, serial://socket://127.0.0.1:5000 or serial:auto")
    return port, options


class SerialFrontEnd(FrontEnd):
    """A FrontEnd over a RigLink. Open with `open_frontend("serial:///dev/...")`."""

    def __init__(self, port: str, *, name: str | None = None, rate_hz: int = DEFAULT_RATE_HZ,
                 watchdog_ms: int = DEFAULT_WATCHDOG_MS, timeout_s: float = DEFAULT_TIMEOUT_S,
                 retries: int = DEFAULT_RETRIES, link_timeout_s: float = DEFAULT_LINK_TIMEOUT_S,
                 reconnect: bool = True, exclusive: bool = True, baudrate: int | str = DEFAULT_BAUDRATE):
        self._auto = port == "auto"
        self._port = port
        self._name = name or (f"serial:{port}" if self._auto else f"serial://{port}")
        self.rate_hz = _int("rate_hz", rate_hz, 1, 0xFFFF)
        self.watchdog_ms = _int("watchdog_ms", watchdog_ms, 0, 0xFFFF)
        self.timeout_s = _float("timeout_s", timeout_s, 0.005, 60.0)
        self.retries = _int("retries", retries, 0, 20)
        self.link_timeout_s = _float("link_timeout_s", link_timeout_s, 0.005, 60.0)
        if self.link_timeout_s < 3.0 / self.rate_hz:
            raise _bad("link_timeout_s", f"{self.link_timeout_s:g} s is shorter than 3 sample periods at "
                                         f"rate_hz={self.rate_hz} ({3.0 / self.rate_hz:g} s)")
        self.reconnect_enabled = _bool("reconnect", reconnect)
        self.exclusive = _bool("exclusive", exclusive)
        self.baudrate = check_baudrate(baudrate, "serial front end", "option 'baudrate'")
        # counters
        self.late_ticks = 0
        self.max_late_s = 0.0
        self.repeated_samples = 0       # sample() returned the same SAMPLE as the call before
        self.reconnects = 0
        self.clamped = 0                # set-points clamped to the rig's pump limits
        self._link: RigLink | None = None
        self._identity: Identity | None = None
        self._trim_ohm = math.nan
        self._closed = False
        self._last_returned: object = None
        self._probe_seq: int | None = None
        self._clock_resets_seen = 0
        self._pending: collections.deque = collections.deque(maxlen=4096)   # (seq, sent) not yet applied
        self.analog = AnalogOutSender()   # the rig's 0-5 V outputs, with CAP_ANALOG_OUT
        self._connect()
        self._t0 = time.monotonic()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SerialFrontEnd:
        port, query = parse_serial_url(url)
        unknown = sorted(set(options) - set(OPTION_KEYS))
        if unknown:
            raise _bad(unknown[0], f"unknown option; allowed: {', '.join(OPTION_KEYS)}")
        merged = {**query, **options}
        return cls(port, **merged)

    # --- connecting -------------------------------------------------------------------------------

    def _resolve_port(self) -> str:
        if not self._auto:
            return self._port
        from . import ports  # lazy: discovery needs pyserial's list_ports only here
        found = ports.find_rig()
        return found[len("serial://"):] if found.startswith("serial://") else found

    def _connect(self) -> None:
        port = self._resolve_port()
        link = RigLink(port, timeout_s=self.timeout_s, retries=self.retries, exclusive=self.exclusive,
                       baudrate=self.baudrate)
        try:
            self._handshake(link)
        except BaseException:
            link.close(stop_stream=False)
            raise
        self._link = link
        self._probe_seq = None
        self._clock_resets_seen = link.clock_resets
        self._pending.clear()
        self._last_returned = None
        self.analog.reset()

    def _handshake(self, link: RigLink) -> None:
        ident = link.identity()
        if ident.protocol_version != PROTOCOL_VERSION:
            update = "host" if ident.protocol_version > PROTOCOL_VERSION else "board firmware"
            raise RigMismatch(f"rig on {link.port} speaks protocol version {ident.protocol_version}, this host "
                              f"speaks {PROTOCOL_VERSION}: update the {update} (rig firmware "
                              f"{ident.firmware_version}, serial {ident.serial_number})")
        if ident.max_rate_hz and self.rate_hz > ident.max_rate_hz:
            raise _bad("rate_hz", f"{self.rate_hz} Hz is above the rig's maximum of {ident.max_rate_hz} Hz "
                                  f"({link.port}, serial {ident.serial_number})")
        if self._identity is not None and ident.serial_number != self._identity.serial_number:
            raise RigMismatch(f"a different rig answered on {link.port} after reconnecting: serial "
                              f"{ident.serial_number}, expected {self._identity.serial_number}")
        link.send_setpoint(0.0, 0.0, True)
        if ident.has(CAP_WATCHDOG):
            link.set_watchdog(self.watchdog_ms)
        # The trim resistor is read once per connect (it is part of the sensor's connector).
        self._trim_ohm = link.trim_ohm() if ident.has(CAP_TRIM) else math.nan
        link.start_stream(self.rate_hz)
        if link.read_sample(max(FIRST_SAMPLE_TIMEOUT_S, 20.0 / self.rate_hz)) is None:
            raise LinkLost(f"rig on {link.port} acknowledged STREAM_START at {self.rate_hz} Hz but sent no SAMPLE "
                           f"within {FIRST_SAMPLE_TIMEOUT_S:g} s")
        self._identity = ident

    @property
    def can_reconnect(self) -> bool:
        """The URL's `reconnect` option (default on): whether reconnect() may be tried after a LinkLost."""
        return self.reconnect_enabled and not self._closed

    def reconnect(self, timeout_s: float = RECONNECT_TIMEOUT_S) -> None:
        """After a LinkLost: re-open the port (a pty symlink or /dev/lambdarig-* link comes back when
        the rig restarts), handshake again and restart the stream. The clock (now()) continues.
        LinkLost when the rig is not back within timeout_s; FrontEndError when reconnecting is
        disabled or a different rig answers."""
        if not self.reconnect_enabled:
            raise FrontEndError(f"{self._name}: reconnecting is disabled (reconnect=0)")
        if self._closed:
            raise FrontEndError(f"{self._name}: closed")
        old = self._link
        if old is not None:
            old.close(stop_stream=old.is_open)
        self._link = None
        deadline = time.monotonic() + timeout_s
        last: BaseException | None = None
        while True:
            try:
                self._connect()
                self.reconnects += 1
                return
            except RigMismatch:
                raise
            except (FrontEndError, OSError) as exc:   # not there yet, busy, silent: try again
                last = exc
            if time.monotonic() + RECONNECT_POLL_S > deadline:
                break
            time.sleep(RECONNECT_POLL_S)
        raise LinkLost(f"rig on {self._port} did not come back within {timeout_s:g} s (last: {last})")

    # --- the FrontEnd surface ---------------------------------------------------------------------

    @property
    def link(self) -> RigLink:
        link = self._link
        if link is None:
            raise LinkLost(f"{self._name}: not connected (the link was lost; reconnect() to resume)"
                           if not self._closed else f"{self._name}: closed")
        return link

    @property
    def identity(self) -> Identity | None:
        return self._identity

    def now(self) -> float:
        return time.monotonic() - self._t0

    def wait_until(self, t_s: float) -> bool:
        link = self.link
        target = self._t0 + t_s
        now = time.monotonic()
        if now >= target:
            link.poll(0.0)
            self.late_ticks += 1
            late = now - target
            if late > self.max_late_s:
                self.max_late_s = late
            self._check_silence(link, time.monotonic())
            return False
        while True:
            left = target - now
            if left <= SPIN_S:
                break
            self._check_silence(link, now)
            last = link.latest
            silent_at = (last.rx_monotonic if last is not None else self._t0) + self.link_timeout_s
            link.poll(min(left - SPIN_S, max(silent_at - now, 0.0) + 1e-4))
            now = time.monotonic()
        while time.monotonic() < target:
            pass
        link.poll(0.0)
        return True

    def _check_silence(self, link: RigLink, now: float) -> None:
        """LinkLost when no SAMPLE came for link_timeout_s; PING the rig half way to tell a silent rig
        from one that stopped streaming."""
        last = link.latest
        last_t = last.rx_monotonic if last is not None else self._t0
        quiet = now - last_t
        if quiet < self.link_timeout_s * PROBE_FRACTION:
            if self._probe_seq is not None:
                link.take_reply(self._probe_seq)
                self._probe_seq = None
            return
        if self._probe_seq is None:
            try:
                self._probe_seq = link.send_request(Ping())
            except LinkLost:
                raise
        if quiet < self.link_timeout_s:
            return
        # Judge what has arrived, not what this host has read so far: after a stall of this process
        # (a loaded machine) the port may hold SAMPLEs that came in meanwhile.
        if link.poll(0.0) and link.latest is not last:
            return
        answered = link.take_reply(self._probe_seq) is not None
        self._probe_seq = None
        ms = quiet * 1e3
        if answered:
            raise LinkLost(f"the rig on {link.port} stopped streaming: no SAMPLE for {ms:.0f} ms, but it answers "
                           f"PING; it was reset or its stream was stopped (its outputs are safe after a reset)")
        watchdog = (f"its watchdog makes the outputs safe after {self.watchdog_ms} ms" if self.watchdog_ms
                    else "its watchdog is off: the outputs may still be on")
        raise LinkLost(f"the rig on {link.port} went silent: no SAMPLE for {ms:.0f} ms and no answer to PING "
                       f"(hung, paused, powered off or its cable/server stalled); {watchdog}")

    def sample(self) -> Sample:
        link = self.link
        link.poll(0.0)
        now = time.monotonic()
        self._check_silence(link, now)
        latest = link.latest
        if latest is None:  # not reached: _check_silence raises first; kept for clarity
            raise LinkLost(f"the rig on {link.port} has sent no SAMPLE")
        if link.clock_resets != self._clock_resets_seen:
            self._clock_resets_seen = link.clock_resets
            raise LinkLost(f"the rig on {link.port} was reset: its clock restarted while streaming "
                           f"(outputs safe, settings reloaded)")
        if link._async_errors:
            errors = link.async_errors()
            raise FrontEndError(f"the rig on {link.port} refused a frame: {errors[-1]}"
                                + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))
        self._check_applied(link, latest, now)
        if latest is self._last_returned:
            self.repeated_samples += 1
        self._last_returned = latest
        # The link's Sample, stamped with when it arrived on this front end's clock (the controller's
        # time), not the rig's own clock.
        return dataclasses.replace(latest.sample, t_s=latest.rx_monotonic - self._t0)

    def _check_applied(self, link: RigLink, latest, now: float) -> None:
        """The rig echoes the seq of the last SETPOINT it applied: a SAMPLE that arrives more than
        link_timeout_s after we sent a set-point and still does not show it applied means our frames
        do not reach the rig. (Judged on fresh samples only: a silent line is _check_silence's.)"""
        pending = self._pending
        applied = latest.applied_seq
        while pending and ((applied - pending[0][0]) & 0xFFFF) < 0x8000:
            pending.popleft()
        if pending and latest.rx_monotonic - pending[0][1] > self.link_timeout_s:
            seq, sent = pending[0]
            raise LinkLost(f"the rig on {link.port} does not receive our set-points: set-point #{seq} sent "
                           f"{(now - sent) * 1e3:.0f} ms ago is not applied (it reports #{applied}); the "
                           f"host-to-rig direction is broken and its watchdog makes the outputs safe")

    @property
    def last_rig_time_s(self) -> float | None:
        latest = self._link.latest if self._link is not None else None
        return None if latest is None else latest.sample.t_s

    def apply(self, command: Command) -> None:
        pump = command.pump_current_a
        duty = command.heater_duty
        for name, value in (("pump_current_a", pump), ("heater_duty", duty)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"serial front end: {name} must be a finite number, got {value!r}")
        if not 0.0 <= duty <= 1.0:
            raise ValueError(f"serial front end: heater_duty must be 0..1, got {duty!r}")
        ident = self._identity
        if ident is not None and ident.pump_max_a > ident.pump_min_a:
            if pump > ident.pump_max_a:
                pump = ident.pump_max_a
                self.clamped += 1
            elif pump < ident.pump_min_a:
                pump = ident.pump_min_a
                self.clamped += 1
        link = self.link
        seq = link.send_setpoint(pump, duty, bool(command.excitation))
        self._pending.append((seq, time.monotonic()))
        if ident is not None and ident.capabilities & CAP_ANALOG_OUT:
            self.analog.update(link, command.analog_out1_v, command.analog_out2_v)

    def safe(self) -> None:
        link = self._link
        if link is None or not link.is_open:
            return
        try:
            link.send_setpoint(0.0, 0.0, True)
        except Exception:
            pass

    def info(self) -> FrontEndInfo:
        ident = self._identity
        caps = ident.capabilities if ident else 0
        port = self._link.port if self._link is not None else self._port
        return FrontEndInfo(
            kind="serial", name=self._name, element=ident.element if ident else "",
            measures_ri=bool(caps & CAP_RI), measures_heater=bool(caps & CAP_HEATER_SENSE),
            measures_pump_v=bool(caps & CAP_PUMP_V),
            pump_current_min_a=ident.pump_min_a if ident else -10e-3,
            pump_current_max_a=ident.pump_max_a if ident else 10e-3,
            virtual_time=False, has_truth=False, trim_ohm=self._trim_ohm,
            details={"serial_number": ident.serial_number if ident else "",
                     "firmware": ident.firmware_version if ident else "",
                     "port": port, "protocol_version": ident.protocol_version if ident else None,
                     "capabilities": ident.capability_names() if ident else [],
                     "max_rate_hz": ident.max_rate_hz if ident else None,
                     "rate_hz": self.rate_hz, "watchdog_ms": self.watchdog_ms, "baudrate": self.baudrate})

    def stored_settings_image(self) -> bytes | None:
        """The rig's active settings image (lambdarig.protocol.image container, checked), None when it has none."""
        ident = self._identity
        if ident is not None and not ident.has(CAP_SETTINGS):
            return None
        link = self.link
        image = link.settings_read_active()
        if not image:
            return None
        try:
            check_image(image)
        except WireError as exc:
            raise FrontEndError(f"the rig on {link.port} holds an invalid active settings image: {exc}") from exc
        return image

    def stored_settings(self) -> str | None:
        """TOML text of the rig's settings, when the firmware side registered a decoder
        (register_settings_decoder); None otherwise or when the rig has none."""
        decoder = _settings_decoder
        if decoder is None:
            return None
        image = self.stored_settings_image()
        return None if image is None else decoder(image)

    def stats(self) -> dict:
        out = {"late_ticks": self.late_ticks, "max_late_ms": round(self.max_late_s * 1e3, 3),
               "repeated_samples": self.repeated_samples, "reconnects": self.reconnects, "clamped": self.clamped}
        if self._link is not None:
            out.update(self._link.counters())
        return out

    def close(self) -> None:
        if self._closed:
            return
        self.safe()
        self._closed = True
        link = self._link
        if link is not None:
            link.close()

    def __repr__(self) -> str:
        return f"SerialFrontEnd({self._name!r})"
