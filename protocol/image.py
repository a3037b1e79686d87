"""The settings-image container the rig stores and checks without knowing what is inside:

    magic "LRSI", container version u16, settings schema version u16, payload length u32, payload,
    CRC-32 over everything before it (docs/protocol.md section 10).

The payload is the firmware's (lambdarig.controller.settings_image). An image fills at most one
flash slot, so its payload length is bounded by the largest slot the protocol can describe.
"""

from __future__ import annotations

import struct
import zlib

from .codes import E_OUT_OF_RANGE, MAX_SLOT_SIZE
from .errors import WireError

IMAGE_MAGIC = b"LRSI"
IMAGE_VERSION = 1
IMAGE_HEAD = struct.Struct("<4sHHI")
IMAGE_CRC = struct.Struct("<I")
IMAGE_OVERHEAD = IMAGE_HEAD.size + IMAGE_CRC.size
MAX_IMAGE_PAYLOAD = MAX_SLOT_SIZE - IMAGE_OVERHEAD


def pack_image(schema_version: int, payload: bytes) -> bytes:
    if not 0 <= schema_version <= 0xFFFF:
        raise WireError(f"settings image: schema version {schema_version}, must be 0..65535", E_OUT_OF_RANGE)
    if len(payload) > MAX_IMAGE_PAYLOAD:
        raise WireError(f"settings image: payload of {len(payload)} bytes, at most {MAX_IMAGE_PAYLOAD} "
                        f"(a slot holds at most {MAX_SLOT_SIZE})", E_OUT_OF_RANGE)
    head = IMAGE_HEAD.pack(IMAGE_MAGIC, IMAGE_VERSION, schema_version, len(payload))
    return head + payload + IMAGE_CRC.pack(zlib.crc32(head + payload))


def declared_length(head: bytes) -> int:
    """Bytes of the whole image (header, payload, CRC) its header declares, from its first
    IMAGE_HEAD.size bytes alone; WireError when the header is not an image's or declares more than
    a slot can hold. A reader checks this before it reads the rest."""
    if len(head) < IMAGE_HEAD.size:
        raise WireError("settings image: too short for its header")
    return IMAGE_OVERHEAD + _declared(head)[1]


def _declared(data: bytes) -> tuple[int, int]:
    magic, version, schema, length = IMAGE_HEAD.unpack_from(data)
    if magic != IMAGE_MAGIC:
        raise WireError("settings image: bad magic (erased or not a settings image)")
    if version != IMAGE_VERSION:
        raise WireError(f"settings image: container version {version}, expected {IMAGE_VERSION}")
    if length > MAX_IMAGE_PAYLOAD:
        raise WireError(f"settings image: payload length {length} is more than a slot can hold")
    return schema, length


def _head(data: bytes) -> tuple[int, int]:
    """(schema version, payload length) of a container head, checked against the bytes present."""
    if len(data) < IMAGE_OVERHEAD:
        raise WireError("settings image: too short")
    schema, length = _declared(data)
    if IMAGE_OVERHEAD + length > len(data):
        raise WireError("settings image: length runs past the end")
    return schema, length


def check_image(data: bytes) -> tuple[int, bytes]:
    """(schema version, payload) of a valid image; WireError naming what is wrong otherwise.
    Trailing bytes (erased flash, 0xFF) after the image are ignored."""
    schema, length = _head(data)
    end = IMAGE_HEAD.size + length
    (crc,) = IMAGE_CRC.unpack_from(data, end)
    if zlib.crc32(data[:end]) != crc:
        raise WireError("settings image: CRC mismatch")
    return schema, bytes(data[IMAGE_HEAD.size:end])


def image_length(data: bytes) -> int:
    """Bytes of the image at the start of data (header, payload, CRC)."""
    return IMAGE_OVERHEAD + _head(data)[1]


def image_crc(data: bytes) -> int:
    """The image's CRC as SETTINGS_INFO, VERIFY_REPLY and SETTINGS_COMMIT carry it: the CRC-32 over
    header + payload, i.e. the value stored in the image's trailer. (A CRC-32 over a whole image,
    trailer included, is the constant residue 0x2144DF1C for every valid image: useless as an id.)
    `data` is an image, optionally followed by erased flash."""
    return zlib.crc32(data[:image_length(data) - IMAGE_CRC.size])
