"""docs/protocol.md is what a board's firmware is written from: every hex example in it is rebuilt
here with the protocol's classes, and every module it points at exists."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import pytest

from lambdarig.protocol.codes import E_OUT_OF_RANGE, SETPOINT, STATUS_WATCHDOG_TRIPPED
from lambdarig.protocol.framing import cobs_decode
from lambdarig.protocol.image import image_crc, pack_image
from lambdarig.protocol.messages import (
    Ack,
    Error,
    Hello,
    Identity,
    Message,
    Ping,
    SampleMessage,
    SetPoint,
    SettingsCommit,
    StreamStart,
)

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
# The hex of the page as one line: table pipes and line breaks in a hex block read as spaces.
DOC_HEX = " ".join(DOC.replace("|", " ").split())


def hex_of(data: bytes) -> str:
    return data.hex(" ")


IDENTITY = Identity(1, 0, 1, 0, 0x1F, 1000, -0.01, 0.01, "LR0001", "lsu49")
# (what, message, seq, whether the page shows the frame body too)
EXAMPLES: list[tuple[str, Message, int, bool]] = [
    ("PING, seq 1", Ping(), 1, True),
    ("its ACK", Ack(0), 1, True),
    ("SETPOINT, seq 0x0102", SetPoint(1.5e-3, 0.5, True), 0x0102, True),
    ("STREAM_START 500 Hz, seq 2", StreamStart(500), 2, True),
    ("HELLO, seq 1", Hello(), 1, False),
    ("IDENTITY of the emulated rig", IDENTITY, 1, False),
    ("a SAMPLE, rig seq 42", SampleMessage(1234567, 0.45, 1e-3, 300.0, 9.5, 1.2, 13.5, 0.4, 0, 0x0102), 42, False),
    ("ERROR answering a SETPOINT", Error(E_OUT_OF_RANGE, SETPOINT, "heater duty 1.5: 0..1"), 0x0103, False),
    ("SETTINGS_COMMIT of the hello image", SettingsCommit(image_crc(pack_image(1, b"hello"))), 7, True),
]


@pytest.mark.parametrize(("what", "message", "seq", "with_body"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_every_wire_example_is_what_the_codec_sends(what, message, seq, with_body):
    wire = message.encode(seq)
    assert hex_of(wire) in DOC_HEX, f"{what}: the page does not show {hex_of(wire)}"
    if with_body:
        body = cobs_decode(wire[:-1])
        assert hex_of(body) in DOC_HEX, f"{what}: the page does not show the body {hex_of(body)}"


def test_ping_example_in_detail():
    assert "body   01 04 01 00 e4 21 ea 87" in DOC
    assert "COBS   04 01 04 01 05 e4 21 ea 87" in DOC
    assert f"0x{zlib.crc32(bytes.fromhex('01040100')):08X}" == "0x87EA21E4" and "0x87EA21E4" in DOC


def test_setpoint_payload_and_identity_payload_as_shown():
    assert hex_of(SetPoint(1.5e-3, 0.5, True).pack()) == "a6 9b c4 3a 00 00 00 3f 01"
    assert "a6 9b c4 3a 00 00 00 3f 01" in DOC
    payload = IDENTITY.pack()
    assert len(payload) == 50 and "Reply payload, 50 bytes" in DOC
    assert hex_of(payload[:18]) == "01 00 01 00 1f 00 00 00 e8 03 0a d7 23 bc 0a d7 23 3c"


def test_image_example_and_crc_facts():
    image = pack_image(1, b"hello")
    assert hex_of(image) in DOC_HEX and f"({len(image)} bytes)" in DOC
    assert f"0x{image_crc(image):08X}" == "0x98FE8574" and "0x98FE8574" in DOC
    assert f"0x{zlib.crc32(image):08X}" == "0x2144DF1C" and "0x2144DF1C" in DOC       # the residue
    assert f"0x{zlib.crc32(b'123456789'):08X}" == "0xCBF43926" and "0xCBF43926" in DOC


def test_layout_sizes_stated_on_the_page():
    assert "Payload, 9 bytes" in DOC and len(SetPoint(0.0, 0.0).pack()) == 9
    sample = SampleMessage(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, STATUS_WATCHDOG_TRIPPED, 0)
    assert "Payload, 35 bytes" in DOC and len(sample.pack()) == 35
    assert "payload then 39 bytes" in DOC and len(SampleMessage(*[0] * 10, sense_v=0.0).pack()) == 39


def test_the_modules_the_page_points_at_exist():
    named = set(re.findall(r"`((?:protocol|emulator|hal|controller|tests)/[a-z_]+\.py)`", DOC))
    assert {"protocol/codes.py", "protocol/framing.py", "protocol/messages.py", "protocol/image.py",
            "protocol/commit_record.py", "protocol/errors.py"} <= named
    missing = sorted(path for path in named if not (ROOT / path).is_file())
    assert not missing, f"docs/protocol.md names files that do not exist: {missing}"
    assert "wire.py" not in DOC
