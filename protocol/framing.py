"""Frames on the wire: COBS, the header, the CRC, and a reader that splits a byte stream into frames.

A frame on the wire is COBS(body) followed by one 0x00 delimiter, so a receiver resynchronises at
the next 0x00 after any garbage. body = header | payload | CRC-32 (IEEE, zlib), little-endian:

    header: version u8 (= 1), type u8, seq u16
    crc:    CRC-32 over header + payload, u32

No I/O here; docs/protocol.md sections 2 and 3 describe the same bytes.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from .errors import WireError

PROTOCOL_VERSION = 1
MAX_BODY = 512
HEADER = struct.Struct("<BBH")
CRC = struct.Struct("<I")
MAX_PAYLOAD = MAX_BODY - HEADER.size - CRC.size
# COBS adds one byte, plus one per 254 non-zero bytes in a row: no valid frame is longer than this.
MAX_ENCODED = MAX_BODY + MAX_BODY // 254 + 1


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its type, its sequence number and its (still packed) payload."""

    type: int
    seq: int
    payload: bytes = b""


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


def encode_frame(frame_type: int, seq: int, payload: bytes = b"") -> bytes:
    """The wire bytes of one frame, delimiter included. seq wraps at 16 bits."""
    if not 0 <= frame_type <= 0xFF:
        raise WireError(f"frame type {frame_type}: must be 0..255")
    if len(payload) > MAX_PAYLOAD:
        raise WireError(f"payload of {len(payload)} bytes: a frame carries at most {MAX_PAYLOAD}")
    body = HEADER.pack(PROTOCOL_VERSION, frame_type, seq & 0xFFFF) + payload
    body += CRC.pack(zlib.crc32(body))
    return cobs_encode(body) + b"\x00"


def decode_body(encoded: bytes) -> Frame:
    """One frame's bytes without the 0x00 delimiter -> Frame; WireError when corrupt."""
    if len(encoded) > MAX_ENCODED:
        raise WireError(f"frame of {len(encoded)} encoded bytes is longer than {MAX_ENCODED}")
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
