"""The lambdarig bench-rig wire protocol, version 1: the codec both ends of the serial link share.

A frame on the wire is COBS(body) followed by one 0x00 delimiter, so a receiver resynchronises at
the next 0x00 after any garbage. body = header | payload | CRC-32 (IEEE, zlib), all little-endian:

    header: version u8 (= 1), type u8, seq u16
    crc:    CRC-32 over header + payload, u32

Message layouts are the struct formats below; docs/protocol.md is the page a board's firmware is
written from. This module does no I/O.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from lambdarig.common.errors import LambdarigError

PROTOCOL_VERSION = 1
MAX_BODY = 512
HEADER = struct.Struct("<BBH")
CRC = struct.Struct("<I")


class WireError(LambdarigError, ValueError):
    """A frame that cannot be decoded (bad COBS, CRC, version, length)."""


# --- message types -------------------------------------------------------------------------------
# Requests from the host are 0x01..0x3F; the rig answers a request of type T with T | 0x80, or with
# ERROR. SETPOINT is not answered (the rig echoes its seq in every SAMPLE instead).

HELLO = 0x01            # -> IDENTITY
STREAM_START = 0x02     # rate_hz u16 -> ACK
STREAM_STOP = 0x03      # -> ACK
PING = 0x04             # -> ACK
SETPOINT = 0x10         # pump_current_a f32, heater_duty f32, flags u8 (bit 0: excitation on)
SETTINGS_INFO = 0x20    # -> SETTINGS_INFO | 0x80
SETTINGS_READ = 0x21    # slot u8 (0 active, 1 inactive), offset u32, length u16 -> data
SETTINGS_ERASE = 0x22   # erases the inactive slot -> ACK
SETTINGS_WRITE = 0x23   # offset u32, data (<= 256 bytes), into the erased inactive slot -> ACK
SETTINGS_VERIFY = 0x24  # -> VERIFY_REPLY: the inactive slot's image check
SETTINGS_COMMIT = 0x25  # expected image crc u32: makes the inactive slot active -> ACK
RESET = 0x30            # -> ACK, then the rig resets (outputs safe, stream stopped, settings reloaded)
WATCHDOG = 0x31         # timeout_ms u16 (0: off) -> ACK

ACK = 0x7F              # answer carrying no data: status u8 (0 ok)
SAMPLE = 0x40           # streamed by the rig
ERROR = 0xFF            # code u8, request type u8, text (utf-8)


def reply_type(request_type: int) -> int:
    return request_type | 0x80


# Error codes carried by ERROR.
E_UNKNOWN_TYPE = 1
E_BAD_LENGTH = 2
E_OUT_OF_RANGE = 3
E_NOT_ERASED = 4
E_IMAGE_INVALID = 5
E_CRC_MISMATCH = 6
E_BUSY = 7
ERROR_TEXT = {E_UNKNOWN_TYPE: "unknown message type", E_BAD_LENGTH: "bad payload length",
              E_OUT_OF_RANGE: "value out of range", E_NOT_ERASED: "flash not erased at that offset",
              E_IMAGE_INVALID: "settings image invalid", E_CRC_MISMATCH: "image CRC does not match",
              E_BUSY: "busy"}

# --- payload layouts -----------------------------------------------------------------------------
# IDENTITY: protocol version, firmware major/minor/patch, capabilities, max sample rate (Hz),
# pump DAC min/max (A), serial number (16 bytes, NUL-padded ASCII), element (16 bytes).
IDENTITY_FMT = struct.Struct("<BBBBIHff16s16s")
CAP_RI = 1 << 0            # measures Nernst ESR
CAP_HEATER_SENSE = 1 << 1  # measures heater voltage and current
CAP_PUMP_V = 1 << 2        # measures the pump-driver voltage
CAP_WATCHDOG = 1 << 3
CAP_SETTINGS = 1 << 4      # two-slot settings flash
CAP_SENSE = 1 << 5         # a second cell voltage (mixed-potential measuring cell): SAMPLE_SENSE after SAMPLE_FMT

STREAM_START_FMT = struct.Struct("<H")
SETPOINT_FMT = struct.Struct("<ffB")
# SAMPLE: t_us u32 (rig clock, wraps), nernst_v, pump_current_a, ri_ohm, heater_v, heater_a,
# supply_v, pump_v (f32, NaN when not measured), status u8, applied_seq u16 (last SETPOINT applied).
SAMPLE_FMT = struct.Struct("<I7fBH")
# Optional trailing field of a SAMPLE (boards with CAP_SENSE): sense_v f32. A host reads the 35-byte
# prefix of any SAMPLE and the trailing field when the payload is long enough, so v1 hosts and boards
# without the field keep working.
SAMPLE_SENSE = struct.Struct("<f")
STATUS_WATCHDOG_TRIPPED = 1 << 0   # outputs were made safe by the watchdog since the last SETPOINT
STATUS_OUTPUTS_SAFE = 1 << 1       # heater off and pump 0 right now
SETTINGS_INFO_FMT = struct.Struct("<BIIIH")   # active slot, image length, image crc, generation, slot size/256
SETTINGS_READ_FMT = struct.Struct("<BIH")
SETTINGS_WRITE_HEAD = struct.Struct("<I")
VERIFY_REPLY_FMT = struct.Struct("<BII")      # valid u8, image length u32, image crc u32
COMMIT_FMT = struct.Struct("<I")
WATCHDOG_FMT = struct.Struct("<H")
ACK_FMT = struct.Struct("<B")
ERROR_HEAD = struct.Struct("<BB")
MAX_WRITE = 256
MAX_READ = 256


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes = b""


# --- COBS ----------------------------------------------------------------------------------------

def cobs_encode(data: bytes) -> bytes:
    out = bytearray()
    block = bytearray()
    for byte in data:
        if byte == 0:
            out.append(len(block) + 1)
            out += block
            block.clear()
        else:
            block.append(byte)
            if len(block) == 254:
                out.append(255)
                out += block
                block.clear()
    out.append(len(block) + 1)
    out += block
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise WireError("COBS: zero byte inside a frame")
        end = i + code
        if end > n:
            raise WireError("COBS: block runs past the end of the frame")
        out += data[i + 1:end]
        i = end
        if code != 255 and i < n:
            out.append(0)
    return bytes(out)


# --- frames ----------------------------------------------------------------------------------------

def encode_frame(frame_type: int, seq: int, payload: bytes = b"") -> bytes:
    body = HEADER.pack(PROTOCOL_VERSION, frame_type, seq & 0xFFFF) + payload
    if len(body) + CRC.size > MAX_BODY:
        raise WireError(f"frame body of {len(body) + CRC.size} bytes exceeds {MAX_BODY}")
    body += CRC.pack(zlib.crc32(body))
    return cobs_encode(body) + b"\x00"


def decode_body(encoded: bytes) -> Frame:
    """One frame's bytes without the 0x00 delimiter -> Frame; WireError when corrupt."""
    body = cobs_decode(encoded)
    if len(body) < HEADER.size + CRC.size:
        raise WireError(f"frame of {len(body)} bytes is shorter than header + CRC")
    if len(body) > MAX_BODY:
        raise WireError(f"frame of {len(body)} bytes is longer than {MAX_BODY}")
    (crc,) = CRC.unpack_from(body, len(body) - CRC.size)
    if zlib.crc32(body[:-CRC.size]) != crc:
        raise WireError("CRC mismatch")
    version, frame_type, seq = HEADER.unpack_from(body)
    if version != PROTOCOL_VERSION:
        raise WireError(f"protocol version {version}, expected {PROTOCOL_VERSION}")
    return Frame(frame_type, seq, bytes(body[HEADER.size:-CRC.size]))


class FrameReader:
    """Splits a byte stream into frames at 0x00 delimiters. Corrupt frames are counted and dropped:
    the next delimiter resynchronises. Bounded: a run of bytes longer than a frame can be is
    discarded."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.dropped = 0
        self.frames = 0

    def feed(self, data: bytes) -> list[Frame]:
        out = []
        buffer = self._buffer
        buffer += data
        while True:
            end = buffer.find(0)
            if end < 0:
                if len(buffer) > 2 * MAX_BODY:
                    del buffer[:]
                    self.dropped += 1
                break
            chunk = bytes(buffer[:end])
            del buffer[:end + 1]
            if not chunk:
                continue
            try:
                out.append(decode_body(chunk))
                self.frames += 1
            except WireError:
                self.dropped += 1
        return out


# --- the settings image container ----------------------------------------------------------------
# magic "LRSI", container version u16, settings schema version u16, payload length u32, payload,
# CRC-32 over everything before it. The rig checks the container; the payload is the firmware's.

IMAGE_MAGIC = b"LRSI"
IMAGE_VERSION = 1
IMAGE_HEAD = struct.Struct("<4sHHI")


def pack_image(schema_version: int, payload: bytes) -> bytes:
    head = IMAGE_HEAD.pack(IMAGE_MAGIC, IMAGE_VERSION, schema_version, len(payload))
    return head + payload + CRC.pack(zlib.crc32(head + payload))


def check_image(data: bytes) -> tuple[int, bytes]:
    """(schema version, payload) of a valid image; WireError naming what is wrong otherwise.
    Trailing bytes (erased flash, 0xFF) after the image are ignored."""
    if len(data) < IMAGE_HEAD.size + CRC.size:
        raise WireError("settings image: too short")
    magic, version, schema, length = IMAGE_HEAD.unpack_from(data)
    if magic != IMAGE_MAGIC:
        raise WireError("settings image: bad magic (erased or not a settings image)")
    if version != IMAGE_VERSION:
        raise WireError(f"settings image: container version {version}, expected {IMAGE_VERSION}")
    end = IMAGE_HEAD.size + length
    if end + CRC.size > len(data):
        raise WireError("settings image: length runs past the end")
    (crc,) = CRC.unpack_from(data, end)
    if zlib.crc32(data[:end]) != crc:
        raise WireError("settings image: CRC mismatch")
    return schema, bytes(data[IMAGE_HEAD.size:end])


def image_length(data: bytes) -> int:
    _, _, _, length = IMAGE_HEAD.unpack_from(data)
    return IMAGE_HEAD.size + length + CRC.size


def image_crc(data: bytes) -> int:
    """The image's CRC as SETTINGS_INFO, VERIFY_REPLY and SETTINGS_COMMIT carry it: the CRC-32 over
    header + payload, i.e. the value stored in the image's trailer. (A CRC-32 over a whole image,
    trailer included, is the constant residue 0x2144DF1C for every valid image: useless as an id.)
    `data` is an image, optionally followed by erased flash."""
    return zlib.crc32(data[:image_length(data) - CRC.size])
