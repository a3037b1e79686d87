"""The typed messages of the bench-rig protocol: one frozen dataclass per message, with its layout,
`pack() -> bytes` and `unpack(payload) -> message` in one place. The host (lambdarig.hal.rig_link)
and the emulated rig (lambdarig.emulator.serial_rig) both use these classes, so a layout is written
once. docs/protocol.md section 4 has the same layouts as tables.

`unpack` refuses anything but the exact layout with a WireError whose `code` is the ERROR a rig
answers: E_BAD_LENGTH for a wrong payload length, E_OUT_OF_RANGE for a value the protocol does not
allow (a read longer than MAX_READ, a slot selector other than 0/1, a reserved flag bit, a NaN
set-point, ...). Limits that depend on the board (its pump DAC range, its slot size, its highest
stream rate) are the board's to check. `pack` refuses values that do not fit their field.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import ClassVar, Self

from lambdarig.common.device_text import printable_device_text

from .codes import (
    ACK,
    ANALOG_OUT,
    ANALOG_OUT_MAX_V,
    CAPABILITY_NAMES,
    E_BAD_LENGTH,
    E_OUT_OF_RANGE,
    E_UNKNOWN_TYPE,
    ERROR,
    FLAG_EXCITATION,
    HELLO,
    MAX_ERROR_TEXT,
    MAX_READ,
    MAX_SLOT_SIZE,
    MAX_WRITE,
    NO_ACTIVE_SLOT,
    PING,
    RESET,
    SAMPLE,
    SETPOINT,
    SETTINGS_COMMIT,
    SETTINGS_ERASE,
    SETTINGS_INFO,
    SETTINGS_READ,
    SETTINGS_VERIFY,
    SETTINGS_WRITE,
    SLOT_SIZE_UNIT,
    STREAM_START,
    STREAM_STOP,
    TRIM_READ,
    WATCHDOG,
    reply_type,
)
from .errors import WireError
from .framing import Frame, encode_frame

TEXT_FIELD_BYTES = 16          # serial number and element in IDENTITY: ASCII, NUL-padded


def _pack(name: str, layout: struct.Struct, *values: object) -> bytes:
    try:
        return layout.pack(*values)
    except (struct.error, OverflowError, TypeError) as exc:
        raise WireError(f"{name}: a value does not fit its field ({exc})", E_OUT_OF_RANGE) from None


def _exact(name: str, payload: bytes, size: int) -> None:
    if len(payload) != size:
        raise WireError(f"{name}: payload of {len(payload)} bytes, expected {size}", E_BAD_LENGTH)


def _text_field(name: str, field: str, text: str) -> bytes:
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise WireError(f"{name}: {field} {text!r} must be ASCII", E_OUT_OF_RANGE) from None
    if len(raw) > TEXT_FIELD_BYTES or b"\0" in raw:
        raise WireError(f"{name}: {field} {text!r} must be at most {TEXT_FIELD_BYTES} characters without NUL",
                        E_OUT_OF_RANGE)
    return raw.ljust(TEXT_FIELD_BYTES, b"\0")


def _text_of(raw: bytes) -> str:
    """A NUL-padded text field as the host shows it: escape sequences and control characters from
    the device never reach a terminal (lambdarig.common.device_text)."""
    return printable_device_text(raw.split(b"\0", 1)[0].decode("ascii", "replace")).strip()


class Message:
    """A message of the protocol. Subclasses set TYPE and NAME and define pack/unpack."""

    TYPE: ClassVar[int]
    NAME: ClassVar[str]

    def pack(self) -> bytes:
        return b""

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        _exact(cls.NAME, payload, 0)
        return cls()

    def encode(self, seq: int) -> bytes:
        """The wire bytes of this message as a frame with sequence number seq."""
        return encode_frame(self.TYPE, seq, self.pack())


class Request(Message):
    """A message from the host to the rig. REPLY is the typed reply's class (None: ACK or nothing)."""

    REPLY: ClassVar[type[Message] | None] = None


# --- replies and messages from the rig -------------------------------------------------------------

IDENTITY_LAYOUT = struct.Struct("<BBBBIHff16s16s")


@dataclass(frozen=True)
class Identity(Message):
    """HELLO's reply: who the rig is and what it can do."""

    TYPE = reply_type(HELLO)
    NAME = "IDENTITY"
    protocol_version: int
    firmware_major: int
    firmware_minor: int
    firmware_patch: int
    capabilities: int
    max_rate_hz: int
    pump_min_a: float
    pump_max_a: float
    serial_number: str
    element: str

    @property
    def firmware_version(self) -> str:
        return f"{self.firmware_major}.{self.firmware_minor}.{self.firmware_patch}"

    def has(self, capability: int) -> bool:
        return bool(self.capabilities & capability)

    def capability_names(self) -> list[str]:
        return [name for bit, name in CAPABILITY_NAMES.items() if self.capabilities & bit]

    def pack(self) -> bytes:
        return _pack(self.NAME, IDENTITY_LAYOUT, self.protocol_version, self.firmware_major, self.firmware_minor,
                     self.firmware_patch, self.capabilities, self.max_rate_hz, self.pump_min_a, self.pump_max_a,
                     _text_field(self.NAME, "serial_number", self.serial_number),
                     _text_field(self.NAME, "element", self.element))

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        _exact(cls.NAME, payload, IDENTITY_LAYOUT.size)
        (proto, major, minor, patch, caps, max_rate, pump_min, pump_max, serial_raw,
         element_raw) = IDENTITY_LAYOUT.unpack(payload)
        return cls(proto, major, minor, patch, caps, max_rate, pump_min, pump_max, _text_of(serial_raw),
                   _text_of(element_raw))


SAMPLE_LAYOUT = struct.Struct("<I7fBH")
SAMPLE_SENSE_LAYOUT = struct.Struct("<f")
SAMPLE_PRESSURE_LAYOUT = struct.Struct("<f")


@dataclass(frozen=True)
class SampleMessage(Message):
    """SAMPLE, streamed by the rig: one reading on the rig's own clock (t_us wraps at 2^32).
    NaN marks what the board does not measure. sense_v rides after the 35-byte prefix only on
    boards with CAP_SENSE or CAP_PRESSURE (None: the field is absent); pressure_kpa after it only on
    boards with CAP_PRESSURE, which then send sense_v as NaN unless they also have CAP_SENSE, so the
    length alone says which trailers are there (35, 39 or 43 bytes)."""

    TYPE = SAMPLE
    NAME = "SAMPLE"
    t_us: int
    nernst_v: float
    pump_current_a: float
    ri_ohm: float
    heater_v: float
    heater_a: float
    supply_v: float
    pump_v: float
    status: int
    applied_seq: int
    sense_v: float | None = None
    pressure_kpa: float | None = None

    def pack(self) -> bytes:
        out = _pack(self.NAME, SAMPLE_LAYOUT, self.t_us, self.nernst_v, self.pump_current_a, self.ri_ohm,
                    self.heater_v, self.heater_a, self.supply_v, self.pump_v, self.status, self.applied_seq)
        if self.sense_v is not None or self.pressure_kpa is not None:
            sense_v = math.nan if self.sense_v is None else self.sense_v
            out += _pack(self.NAME, SAMPLE_SENSE_LAYOUT, sense_v)
        if self.pressure_kpa is not None:
            out += _pack(self.NAME, SAMPLE_PRESSURE_LAYOUT, self.pressure_kpa)
        return out

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        with_sense = SAMPLE_LAYOUT.size + SAMPLE_SENSE_LAYOUT.size
        with_pressure = with_sense + SAMPLE_PRESSURE_LAYOUT.size
        if len(payload) not in (SAMPLE_LAYOUT.size, with_sense, with_pressure):
            raise WireError(f"{cls.NAME}: payload of {len(payload)} bytes, expected {SAMPLE_LAYOUT.size}, "
                            f"{with_sense} (with sense_v) or {with_pressure} (with sense_v and pressure_kpa)",
                            E_BAD_LENGTH)
        (t_us, nernst_v, pump_current_a, ri_ohm, heater_v, heater_a, supply_v, pump_v, status,
         applied_seq) = SAMPLE_LAYOUT.unpack_from(payload)
        sense_v = pressure_kpa = None
        if len(payload) >= with_sense:
            (sense_v,) = SAMPLE_SENSE_LAYOUT.unpack_from(payload, SAMPLE_LAYOUT.size)
        if len(payload) == with_pressure:
            (pressure_kpa,) = SAMPLE_PRESSURE_LAYOUT.unpack_from(payload, with_sense)
        return cls(t_us, nernst_v, pump_current_a, ri_ohm, heater_v, heater_a, supply_v, pump_v, status, applied_seq,
                   sense_v, pressure_kpa)


SETTINGS_INFO_LAYOUT = struct.Struct("<BIIIH")


@dataclass(frozen=True)
class SettingsInfoReply(Message):
    """SETTINGS_INFO's reply: the active slot (None: no settings), its image, and the slot size."""

    TYPE = reply_type(SETTINGS_INFO)
    NAME = "SETTINGS_INFO reply"
    active_slot: int | None
    image_length: int
    image_crc: int
    generation: int
    slot_size: int             # bytes per slot (carried on the wire in units of 256)

    def pack(self) -> bytes:
        if self.slot_size % SLOT_SIZE_UNIT or not SLOT_SIZE_UNIT <= self.slot_size <= MAX_SLOT_SIZE:
            raise WireError(f"{self.NAME}: slot size {self.slot_size} must be a multiple of {SLOT_SIZE_UNIT} "
                            f"in {SLOT_SIZE_UNIT}..{MAX_SLOT_SIZE}", E_OUT_OF_RANGE)
        slot = NO_ACTIVE_SLOT if self.active_slot is None else self.active_slot
        return _pack(self.NAME, SETTINGS_INFO_LAYOUT, slot, self.image_length, self.image_crc, self.generation,
                     self.slot_size // SLOT_SIZE_UNIT)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        _exact(cls.NAME, payload, SETTINGS_INFO_LAYOUT.size)
        slot, length, crc, generation, units = SETTINGS_INFO_LAYOUT.unpack(payload)
        if slot not in (0, 1, NO_ACTIVE_SLOT):
            raise WireError(f"{cls.NAME}: active slot {slot}, expected 0, 1 or 0x{NO_ACTIVE_SLOT:02X}", E_OUT_OF_RANGE)
        if units == 0:
            raise WireError(f"{cls.NAME}: slot size 0", E_OUT_OF_RANGE)
        slot_size = units * SLOT_SIZE_UNIT
        if length > slot_size:
            raise WireError(f"{cls.NAME}: image length {length} is larger than the slot ({slot_size} bytes)",
                            E_OUT_OF_RANGE)
        if slot == NO_ACTIVE_SLOT and length:
            raise WireError(f"{cls.NAME}: image length {length} without an active slot", E_OUT_OF_RANGE)
        return cls(None if slot == NO_ACTIVE_SLOT else slot, length, crc, generation, slot_size)


@dataclass(frozen=True)
class SettingsData(Message):
    """SETTINGS_READ's reply: raw slot bytes (at most MAX_READ)."""

    TYPE = reply_type(SETTINGS_READ)
    NAME = "SETTINGS_READ reply"
    data: bytes

    def pack(self) -> bytes:
        if len(self.data) > MAX_READ:
            raise WireError(f"{self.NAME}: {len(self.data)} bytes, at most {MAX_READ}", E_BAD_LENGTH)
        return bytes(self.data)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        if len(payload) > MAX_READ:
            raise WireError(f"{cls.NAME}: {len(payload)} bytes, at most {MAX_READ}", E_BAD_LENGTH)
        return cls(bytes(payload))


VERIFY_LAYOUT = struct.Struct("<BII")


@dataclass(frozen=True)
class VerifyReply(Message):
    """SETTINGS_VERIFY's reply: the rig's own check of the image in the inactive slot."""

    TYPE = reply_type(SETTINGS_VERIFY)
    NAME = "SETTINGS_VERIFY reply"
    valid: bool
    image_length: int
    image_crc: int

    def pack(self) -> bytes:
        return _pack(self.NAME, VERIFY_LAYOUT, 1 if self.valid else 0, self.image_length, self.image_crc)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        _exact(cls.NAME, payload, VERIFY_LAYOUT.size)
        valid, length, crc = VERIFY_LAYOUT.unpack(payload)
        if valid not in (0, 1):
            raise WireError(f"{cls.NAME}: valid byte {valid}, expected 0 or 1", E_OUT_OF_RANGE)
        if length > MAX_SLOT_SIZE:
            raise WireError(f"{cls.NAME}: image length {length} is larger than a slot can be", E_OUT_OF_RANGE)
        return cls(bool(valid), length, crc)


ACK_LAYOUT = struct.Struct("<B")


@dataclass(frozen=True)
class Ack(Message):
    """The answer that carries no data; status 0 is ok (others are reserved)."""

    TYPE = ACK
    NAME = "ACK"
    status: int = 0

    def pack(self) -> bytes:
        return _pack(self.NAME, ACK_LAYOUT, self.status)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        _exact(cls.NAME, payload, ACK_LAYOUT.size)
        return cls(payload[0])


ERROR_HEAD_LAYOUT = struct.Struct("<BB")


@dataclass(frozen=True)
class Error(Message):
    """The rig's refusal of a request: an error code, the refused request's type, and a text naming
    the field and range (UTF-8, at most MAX_ERROR_TEXT bytes: pack cuts a longer one at a character)."""

    TYPE = ERROR
    NAME = "ERROR"
    code: int
    request_type: int
    text: str = ""

    def pack(self) -> bytes:
        raw = self.text.encode("utf-8")[:MAX_ERROR_TEXT].decode("utf-8", "ignore").encode("utf-8")
        return _pack(self.NAME, ERROR_HEAD_LAYOUT, self.code, self.request_type) + raw

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        head = ERROR_HEAD_LAYOUT.size
        if not head <= len(payload) <= head + MAX_ERROR_TEXT:
            raise WireError(f"{cls.NAME}: payload of {len(payload)} bytes, expected {head}.."
                            f"{head + MAX_ERROR_TEXT}", E_BAD_LENGTH)
        code, request_type = ERROR_HEAD_LAYOUT.unpack_from(payload)
        return cls(code, request_type, printable_device_text(payload[head:].decode("utf-8", "replace")))


# --- requests from the host ------------------------------------------------------------------------

@dataclass(frozen=True)
class Hello(Request):
    TYPE = HELLO
    NAME = "HELLO"
    REPLY = Identity


U16 = struct.Struct("<H")
U32 = struct.Struct("<I")


@dataclass(frozen=True)
class StreamStart(Request):
    """Start (or re-rate) the SAMPLE stream; the board checks the rate against its max_rate_hz."""

    TYPE = STREAM_START
    NAME = "STREAM_START"
    rate_hz: int

    def pack(self) -> bytes:
        return _pack(self.NAME, U16, self.rate_hz)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        _exact(cls.NAME, payload, U16.size)
        return cls(U16.unpack(payload)[0])


@dataclass(frozen=True)
class StreamStop(Request):
    TYPE = STREAM_STOP
    NAME = "STREAM_STOP"


@dataclass(frozen=True)
class Ping(Request):
    TYPE = PING
    NAME = "PING"


SETPOINT_LAYOUT = struct.Struct("<ffB")


@dataclass(frozen=True)
class SetPoint(Request):
    """The outputs, applied together: pump-current DAC set-point, heater PWM duty, excitation.
    Not answered on success (the rig echoes the seq as applied_seq). The board checks the pump
    current against its DAC range."""

    TYPE = SETPOINT
    NAME = "SETPOINT"
    pump_current_a: float
    heater_duty: float
    excitation: bool = True

    def pack(self) -> bytes:
        return _pack(self.NAME, SETPOINT_LAYOUT, self.pump_current_a, self.heater_duty,
                     FLAG_EXCITATION if self.excitation else 0)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        _exact(cls.NAME, payload, SETPOINT_LAYOUT.size)
        pump_a, duty, flags = SETPOINT_LAYOUT.unpack(payload)
        if not math.isfinite(pump_a):
            raise WireError(f"pump current {pump_a!r} A: must be a finite number", E_OUT_OF_RANGE)
        if not (math.isfinite(duty) and 0.0 <= duty <= 1.0):
            raise WireError(f"heater duty {duty!r}: 0..1", E_OUT_OF_RANGE)
        if flags & ~FLAG_EXCITATION:
            raise WireError(f"flags 0x{flags:02X}: only bit 0 (excitation) is defined", E_OUT_OF_RANGE)
        return cls(pump_a, duty, bool(flags & FLAG_EXCITATION))


@dataclass(frozen=True)
class SettingsInfo(Request):
    TYPE = SETTINGS_INFO
    NAME = "SETTINGS_INFO"
    REPLY = SettingsInfoReply


SETTINGS_READ_LAYOUT = struct.Struct("<BIH")


@dataclass(frozen=True)
class SettingsRead(Request):
    """Bytes of the active (slot 0) or inactive (slot 1) settings slot, at most MAX_READ of them."""

    TYPE = SETTINGS_READ
    NAME = "SETTINGS_READ"
    REPLY = SettingsData
    slot: int
    offset: int
    length: int

    def pack(self) -> bytes:
        return _pack(self.NAME, SETTINGS_READ_LAYOUT, self.slot, self.offset, self.length)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        _exact(cls.NAME, payload, SETTINGS_READ_LAYOUT.size)
        slot, offset, length = SETTINGS_READ_LAYOUT.unpack(payload)
        if slot not in (0, 1):
            raise WireError(f"slot selector {slot}: 0 (active) or 1 (inactive)", E_OUT_OF_RANGE)
        if length > MAX_READ:
            raise WireError(f"read length {length}: at most {MAX_READ}", E_OUT_OF_RANGE)
        if offset > MAX_SLOT_SIZE:
            raise WireError(f"read at {offset}: past the largest slot ({MAX_SLOT_SIZE} bytes)", E_OUT_OF_RANGE)
        return cls(slot, offset, length)


@dataclass(frozen=True)
class SettingsErase(Request):
    TYPE = SETTINGS_ERASE
    NAME = "SETTINGS_ERASE"


@dataclass(frozen=True)
class SettingsWrite(Request):
    """1..MAX_WRITE bytes into the erased inactive slot at offset."""

    TYPE = SETTINGS_WRITE
    NAME = "SETTINGS_WRITE"
    offset: int
    data: bytes

    def pack(self) -> bytes:
        if not 1 <= len(self.data) <= MAX_WRITE:
            raise WireError(f"{self.NAME}: {len(self.data)} data bytes, 1..{MAX_WRITE}", E_BAD_LENGTH)
        return _pack(self.NAME, U32, self.offset) + bytes(self.data)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        if len(payload) < U32.size:
            raise WireError(f"{cls.NAME}: no offset", E_BAD_LENGTH)
        data = payload[U32.size:]
        if not 1 <= len(data) <= MAX_WRITE:
            raise WireError(f"{cls.NAME}: {len(data)} data bytes, 1..{MAX_WRITE}", E_BAD_LENGTH)
        (offset,) = U32.unpack_from(payload)
        if offset + len(data) > MAX_SLOT_SIZE:
            raise WireError(f"write of {len(data)} bytes at {offset}: past the largest slot ({MAX_SLOT_SIZE} bytes)",
                            E_OUT_OF_RANGE)
        return cls(offset, bytes(data))


@dataclass(frozen=True)
class SettingsVerify(Request):
    TYPE = SETTINGS_VERIFY
    NAME = "SETTINGS_VERIFY"
    REPLY = VerifyReply


@dataclass(frozen=True)
class SettingsCommit(Request):
    """Make the inactive slot active if it holds a valid image with this CRC. Not idempotent."""

    TYPE = SETTINGS_COMMIT
    NAME = "SETTINGS_COMMIT"
    expected_crc: int

    def pack(self) -> bytes:
        return _pack(self.NAME, U32, self.expected_crc)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        _exact(cls.NAME, payload, U32.size)
        return cls(U32.unpack(payload)[0])


@dataclass(frozen=True)
class Reset(Request):
    TYPE = RESET
    NAME = "RESET"


@dataclass(frozen=True)
class Watchdog(Request):
    """The watchdog timeout; 0 turns it off (the board refuses 1..9 ms)."""

    TYPE = WATCHDOG
    NAME = "WATCHDOG"
    timeout_ms: int

    def pack(self) -> bytes:
        return _pack(self.NAME, U16, self.timeout_ms)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        _exact(cls.NAME, payload, U16.size)
        return cls(U16.unpack(payload)[0])


ANALOG_OUT_LAYOUT = struct.Struct("<ff")


def _check_volts(name: str, out1_v: float, out2_v: float) -> None:
    for i, volts in ((1, out1_v), (2, out2_v)):
        if not (math.isfinite(volts) and 0.0 <= volts <= ANALOG_OUT_MAX_V):
            raise WireError(f"{name}: output {i} {volts!r} V: 0..{ANALOG_OUT_MAX_V:g} V", E_OUT_OF_RANGE)


@dataclass(frozen=True)
class AnalogOutReply(Message):
    """ANALOG_OUT's reply: the volts the board now drives on each output (after its DAC's steps)."""

    TYPE = reply_type(ANALOG_OUT)
    NAME = "ANALOG_OUT reply"
    out1_v: float
    out2_v: float

    def pack(self) -> bytes:
        _check_volts(self.NAME, self.out1_v, self.out2_v)
        return _pack(self.NAME, ANALOG_OUT_LAYOUT, self.out1_v, self.out2_v)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        _exact(cls.NAME, payload, ANALOG_OUT_LAYOUT.size)
        out1_v, out2_v = ANALOG_OUT_LAYOUT.unpack(payload)
        _check_volts(cls.NAME, out1_v, out2_v)
        return cls(out1_v, out2_v)


@dataclass(frozen=True)
class AnalogOut(Request):
    """Set the two 0-5 V analog outputs (boards with CAP_ANALOG_OUT). Answered with AnalogOutReply."""

    TYPE = ANALOG_OUT
    NAME = "ANALOG_OUT"
    REPLY = AnalogOutReply
    out1_v: float
    out2_v: float

    def pack(self) -> bytes:
        return _pack(self.NAME, ANALOG_OUT_LAYOUT, self.out1_v, self.out2_v)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        _exact(cls.NAME, payload, ANALOG_OUT_LAYOUT.size)
        out1_v, out2_v = ANALOG_OUT_LAYOUT.unpack(payload)
        _check_volts(cls.NAME, out1_v, out2_v)
        return cls(out1_v, out2_v)


TRIM_LAYOUT = struct.Struct("<f")


@dataclass(frozen=True)
class TrimMessage(Message):
    """The sensor's trim resistor as the board measured it (ohms); NaN: the element has none (or the
    board found the line open)."""

    TYPE = reply_type(TRIM_READ)
    NAME = "TRIM_READ reply"
    trim_ohm: float

    def pack(self) -> bytes:
        return _pack(self.NAME, TRIM_LAYOUT, self.trim_ohm)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        _exact(cls.NAME, payload, TRIM_LAYOUT.size)
        value = TRIM_LAYOUT.unpack(payload)[0]
        if not (math.isnan(value) or (math.isfinite(value) and value > 0.0)):
            raise WireError(f"trim resistor {value!r} ohm: must be a positive number or NaN", E_OUT_OF_RANGE)
        return cls(value)


@dataclass(frozen=True)
class TrimRead(Request):
    """Ask a board with CAP_TRIM for the trim resistor it measures (connector pin IA/RT)."""

    TYPE = TRIM_READ
    NAME = "TRIM_READ"
    REPLY = TrimMessage


# --- the type tables -------------------------------------------------------------------------------

REQUEST_CLASSES: tuple[type[Request], ...] = (
    Hello, StreamStart, StreamStop, Ping, SetPoint, SettingsInfo, SettingsRead, SettingsErase, SettingsWrite,
    SettingsVerify, SettingsCommit, Reset, Watchdog, AnalogOut, TrimRead)
RIG_MESSAGE_CLASSES: tuple[type[Message], ...] = (
    Identity, SampleMessage, SettingsInfoReply, SettingsData, VerifyReply, Ack, Error, AnalogOutReply, TrimMessage)
REQUESTS: dict[int, type[Request]] = {cls.TYPE: cls for cls in REQUEST_CLASSES}
MESSAGES: dict[int, type[Message]] = {cls.TYPE: cls for cls in REQUEST_CLASSES + RIG_MESSAGE_CLASSES}


def message_name(frame_type: int) -> str:
    cls = MESSAGES.get(frame_type)
    return cls.NAME if cls is not None else f"type 0x{frame_type:02X}"


def decode(frame: Frame) -> Message:
    """Any message, by its frame type; WireError (E_UNKNOWN_TYPE) for a type the protocol lacks."""
    cls = MESSAGES.get(frame.type)
    if cls is None:
        raise WireError(f"unknown message type 0x{frame.type:02X}", E_UNKNOWN_TYPE)
    return cls.unpack(frame.payload)


def decode_request(frame: Frame) -> Request:
    """What a rig receives: a request, or WireError with the code to answer (E_UNKNOWN_TYPE also for
    rig-to-host types sent to the rig)."""
    cls = REQUESTS.get(frame.type)
    if cls is None:
        raise WireError(f"unknown message type 0x{frame.type:02X}", E_UNKNOWN_TYPE)
    return cls.unpack(frame.payload)


def decode_reply(request: type[Request], frame: Frame) -> Message:
    """The answer to a request: its typed reply, Ack or Error; WireError for anything else."""
    if frame.type == ERROR:
        return Error.unpack(frame.payload)
    if frame.type == ACK:
        return Ack.unpack(frame.payload)
    if request.REPLY is not None and frame.type == request.REPLY.TYPE:
        return request.REPLY.unpack(frame.payload)
    expected = f"0x{request.REPLY.TYPE:02X} or ACK" if request.REPLY is not None else "ACK"
    raise WireError(f"unexpected reply type 0x{frame.type:02X} to {request.NAME} (expected {expected})",
                    E_UNKNOWN_TYPE)
