"""The commit record of a settings slot: the one write that switches the active slot
(docs/protocol.md section 9). generation u32, image crc u32, record crc u32 (CRC-32 over the first
8 bytes), little-endian. A torn record fails its record crc.

Generations wrap: a commit writes (active + 1) mod 2^32, so 0xFFFFFFFF is followed by 0. Which of
two generations is newer is serial-number arithmetic (RFC 1982): b is newer than a when
(b - a) mod 2^32 is 1 .. 2^31 - 1. Two slots are compared at boot, and the host's commit always
writes the active generation + 1, so the two generations on a board differ by one: the order is
never ambiguous in practice. Equal generations, or a distance of exactly 2^31 (only a corrupt or
hand-made flash), are a tie: the board takes slot 0.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from .errors import WireError

RECORD_HEAD = struct.Struct("<II")
RECORD_CHECK = struct.Struct("<I")
RECORD_SIZE = RECORD_HEAD.size + RECORD_CHECK.size
GENERATION_MODULUS = 1 << 32
HALF_RANGE = GENERATION_MODULUS >> 1


def next_generation(generation: int) -> int:
    """The generation a commit writes after `generation`: one more, wrapping 0xFFFFFFFF -> 0."""
    return (generation + 1) % GENERATION_MODULUS


def is_newer_generation(candidate: int, than: int) -> bool:
    """Whether `candidate` was committed after `than`, across the wrap (see the module docstring)."""
    distance = (candidate - than) % GENERATION_MODULUS
    return 0 < distance < HALF_RANGE


@dataclass(frozen=True)
class CommitRecord:
    generation: int
    image_crc: int

    def pack(self) -> bytes:
        for name, value in (("generation", self.generation), ("image_crc", self.image_crc)):
            if not 0 <= value <= 0xFFFFFFFF:
                raise WireError(f"commit record: {name} {value} must be 0..2^32-1")
        head = RECORD_HEAD.pack(self.generation, self.image_crc)
        return head + RECORD_CHECK.pack(zlib.crc32(head))

    @classmethod
    def unpack(cls, raw: bytes) -> CommitRecord:
        if len(raw) != RECORD_SIZE:
            raise WireError(f"commit record of {len(raw)} bytes, expected {RECORD_SIZE}")
        (check,) = RECORD_CHECK.unpack_from(raw, RECORD_HEAD.size)
        if zlib.crc32(raw[:RECORD_HEAD.size]) != check:
            raise WireError("commit record torn (record crc mismatch)")
        generation, image_crc = RECORD_HEAD.unpack_from(raw)
        return cls(generation, image_crc)
