"""A seeded fuzz of everything that reads bytes from a wire or a flash: random and mutated input into
the FrameReader, every message's unpack, the settings-image container and the commit record never
raises anything but WireError, and never allocates more than its input."""

from __future__ import annotations

import random

from test_protocol_messages import EXAMPLES

from lambdarig.protocol.commit_record import RECORD_SIZE, CommitRecord
from lambdarig.protocol.errors import WireError
from lambdarig.protocol.framing import FrameReader, encode_frame
from lambdarig.protocol.image import check_image, image_crc, image_length, pack_image
from lambdarig.protocol.messages import MESSAGES, decode, decode_request

CASES = 20_000
SEED = 20261207


def _random_bytes(rng: random.Random, n: int) -> bytes:
    return rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""


def _mutated(rng: random.Random, data: bytes) -> bytes:
    """A valid input with a few bytes flipped, cut or appended: reaches the checks past the length."""
    out = bytearray(data)
    for _ in range(rng.randrange(1, 4)):
        kind = rng.randrange(4)
        if kind == 0 and out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        elif kind == 1 and out:
            out[rng.randrange(len(out))] = rng.choice((0x00, 0xFF, 0x7F, 0x80))
        elif kind == 2:
            del out[rng.randrange(len(out) + 1):]
        else:
            out += _random_bytes(rng, rng.randrange(1, 8))
    return bytes(out)


def _only_wire_errors(function, data: bytes) -> None:
    try:
        function(data)
    except WireError:
        pass


def test_fuzz_unpack_frames_image_and_record():
    rng = random.Random(SEED)
    classes = list(MESSAGES.values())
    valid_payloads = [m.pack() for m in EXAMPLES]
    images = [pack_image(1, b"hello"), pack_image(3, bytes(range(256)) * 2)]
    record = CommitRecord(5, 0x12345678).pack()
    reader = FrameReader()                 # clean frames
    line = FrameReader()                   # a line full of garbage
    decoded = 0
    for case in range(CASES):
        kind = case % 5
        if kind == 0:        # random payloads, lengths around the layouts, into one message class
            data = _random_bytes(rng, rng.choice((rng.randrange(0, 60), rng.randrange(0, 600))))
            _only_wire_errors(rng.choice(classes).unpack, data)
        elif kind == 1:      # mutated valid payloads, into their own class and into any
            data = _mutated(rng, rng.choice(valid_payloads))
            _only_wire_errors(rng.choice(classes).unpack, data)
        elif kind == 2:      # whole frames with a good CRC and a random type/payload, through the reader
            frame_type = rng.choice((rng.randrange(256), *MESSAGES))
            payload = _mutated(rng, rng.choice(valid_payloads)) if rng.random() < 0.7 else _random_bytes(
                rng, rng.randrange(0, 80))
            for frame in reader.feed(encode_frame(frame_type, rng.randrange(1 << 16), payload[:504])):
                decoded += 1
                _only_wire_errors(decode, frame)
                _only_wire_errors(decode_request, frame)
        elif kind == 3:      # raw garbage on the line, with and without delimiters
            data = _random_bytes(rng, rng.randrange(0, 700))
            if rng.random() < 0.5:
                data = data.replace(b"\x00", b"\x01")
            for frame in line.feed(data):
                _only_wire_errors(decode, frame)
        else:                # flash contents: images and commit records
            data = _mutated(rng, rng.choice(images)) if rng.random() < 0.8 else _random_bytes(rng, 40)
            for function in (check_image, image_length, image_crc):
                _only_wire_errors(function, data)
            _only_wire_errors(CommitRecord.unpack, _mutated(rng, record)[:RECORD_SIZE + rng.randrange(-1, 2)])
    assert decoded == CASES // 5 and reader.dropped == 0    # every framed case reached the message decoders
    assert line.dropped > 0
