"""The typed messages of the bench-rig protocol: every message round-trips, every payload of another
length and every value the protocol does not allow is refused with WireError (never struct.error,
IndexError or a huge allocation), and the type tables route frames to the right class."""

from __future__ import annotations

import math

import pytest

from lambdarig.protocol import codes
from lambdarig.protocol.commit_record import RECORD_SIZE, CommitRecord
from lambdarig.protocol.errors import WireError
from lambdarig.protocol.framing import MAX_PAYLOAD, Frame, FrameReader, decode_body, encode_frame
from lambdarig.protocol.image import IMAGE_HEAD, MAX_IMAGE_PAYLOAD, check_image, image_crc, image_length, pack_image
from lambdarig.protocol.messages import (
    MESSAGES,
    REQUESTS,
    Ack,
    AnalogOut,
    AnalogOutReply,
    Error,
    Hello,
    Identity,
    Message,
    Ping,
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
    decode,
    decode_reply,
    decode_request,
    message_name,
)

# Floats are exact in f32, so a round trip compares equal.
EXAMPLES: list[Message] = [
    Hello(),
    Identity(1, 0, 1, 0, codes.CAP_RI | codes.CAP_SETTINGS, 1000, -0.0078125, 0.0078125, "LR0001", "lsu49"),
    Identity(1, 2, 3, 4, 0, 1, 0.0, 0.0, "", "sixteen-chars-xx"),
    StreamStart(500),
    StreamStop(),
    Ping(),
    SetPoint(0.001953125, 0.5, True),
    SetPoint(-0.0078125, 0.0, False),
    SampleMessage(1234567, 0.4375, 0.0009765625, 300.0, 9.5, 1.25, 13.5, 0.375, codes.STATUS_OUTPUTS_SAFE, 0x0102),
    SampleMessage(0xFFFFFFFF, 0.5, 0.0, 250.0, 0.0, 0.0, 12.0, 0.0, 0, 0, sense_v=0.125),
    SampleMessage(7, 0.4375, 0.0009765625, 300.0, 12.0, 1.0, 13.5, 0.375, 0, 9, sense_v=0.25, pressure_kpa=180.5),
    SettingsInfo(),
    SettingsInfoReply(1, 780, 0x98FE8574, 7, 4096),
    SettingsInfoReply(None, 0, 0, 0, 4096),
    SettingsRead(0, 256, codes.MAX_READ),
    SettingsRead(1, 0, 0),
    SettingsData(bytes(range(codes.MAX_READ))),
    SettingsData(b""),
    SettingsErase(),
    SettingsWrite(512, b"\x01" * codes.MAX_WRITE),
    SettingsWrite(0, b"x"),
    SettingsVerify(),
    VerifyReply(True, 21, 0x98FE8574),
    VerifyReply(False, 0, 0),
    SettingsCommit(0x98FE8574),
    Reset(),
    Watchdog(0),
    Watchdog(65535),
    TrimRead(),
    TrimMessage(487.5),
    Ack(0),
    Error(codes.E_OUT_OF_RANGE, codes.SETPOINT, "heater duty 1.5: 0..1"),
    Error(codes.E_BUSY, codes.PING, ""),
    AnalogOut(1.0, 2.5),
    AnalogOutReply(0.0, 5.0),
]


def ids(message: Message) -> str:
    return message.NAME


def test_every_message_class_has_an_example():
    assert {type(m) for m in EXAMPLES} == set(MESSAGES.values())
    assert len(MESSAGES) == 24 and len(REQUESTS) == 15


def test_type_codes_are_the_documented_ones():
    assert {cls.NAME: cls.TYPE for cls in MESSAGES.values()} == {
        "HELLO": 0x01, "STREAM_START": 0x02, "STREAM_STOP": 0x03, "PING": 0x04, "SETPOINT": 0x10,
        "SETTINGS_INFO": 0x20, "SETTINGS_READ": 0x21, "SETTINGS_ERASE": 0x22, "SETTINGS_WRITE": 0x23,
        "SETTINGS_VERIFY": 0x24, "SETTINGS_COMMIT": 0x25, "RESET": 0x30, "WATCHDOG": 0x31, "SAMPLE": 0x40,
        "ACK": 0x7F, "ERROR": 0xFF, "IDENTITY": 0x81, "SETTINGS_INFO reply": 0xA0, "SETTINGS_READ reply": 0xA1,
        "SETTINGS_VERIFY reply": 0xA4, "ANALOG_OUT": 0x11, "ANALOG_OUT reply": 0x91,
        "TRIM_READ": 0x32, "TRIM_READ reply": 0xB2}
    for request in REQUESTS.values():
        assert request.REPLY is None or request.REPLY.TYPE == codes.reply_type(request.TYPE)


@pytest.mark.parametrize("message", EXAMPLES, ids=ids)
def test_round_trip(message):
    payload = message.pack()
    assert type(message).unpack(payload) == message
    assert decode(Frame(message.TYPE, 9, payload)) == message
    # and through the framing, as bytes on a wire
    reader = FrameReader()
    assert reader.feed(b"\x00garbage\x00" + message.encode(0x1234)) == [Frame(message.TYPE, 0x1234, payload)]
    assert reader.dropped == 1


def test_sample_sense_v_is_an_optional_trailing_field():
    base = SampleMessage(1, 0.5, 0.0, 250.0, 0.0, 0.0, 12.0, 0.0, 0, 3)
    with_sense = SampleMessage(1, 0.5, 0.0, 250.0, 0.0, 0.0, 12.0, 0.0, 0, 3, sense_v=0.25)
    assert len(base.pack()) == 35 and len(with_sense.pack()) == 39
    assert with_sense.pack()[:35] == base.pack()
    assert SampleMessage.unpack(base.pack()).sense_v is None
    nan_sample = SampleMessage(2, math.nan, 0.0, math.nan, 0.0, 0.0, 12.0, math.nan, 0, 0, sense_v=math.nan)
    back = SampleMessage.unpack(nan_sample.pack())
    assert math.isnan(back.nernst_v) and math.isnan(back.sense_v) and back.pack() == nan_sample.pack()


def valid_lengths(cls: type[Message]) -> set[int]:
    """Payload lengths unpack accepts; every other one must be refused."""
    if cls is SampleMessage:
        return {35, 39, 43}      # + sense_v, + sense_v and pressure_kpa
    if cls is SettingsData:
        return set(range(codes.MAX_READ + 1))
    if cls is SettingsWrite:
        return set(range(5, 5 + codes.MAX_WRITE))
    if cls is Error:
        return set(range(2, 3 + codes.MAX_ERROR_TEXT))
    example = next(m for m in EXAMPLES if type(m) is cls)
    return {len(example.pack())}


@pytest.mark.parametrize("message", EXAMPLES, ids=ids)
def test_every_truncated_or_extended_payload_is_a_wire_error(message):
    cls = type(message)
    payload = message.pack()
    allowed = valid_lengths(cls)
    for n in range(MAX_PAYLOAD + 2):
        if n in allowed:
            continue
        candidate = (payload + bytes(n))[:n]           # truncated, or extended with zeros
        with pytest.raises(WireError) as err:
            cls.unpack(candidate)
        assert err.value.code == codes.E_BAD_LENGTH, (n, str(err.value))


@pytest.mark.parametrize(("payload", "cls", "code", "text"), [
    (SetPoint(math.nan, 0.1).pack(), SetPoint, codes.E_OUT_OF_RANGE, "pump current nan"),
    (SetPoint(0.0, math.inf).pack(), SetPoint, codes.E_OUT_OF_RANGE, "heater duty inf"),
    (SetPoint(0.0, 1.5).pack(), SetPoint, codes.E_OUT_OF_RANGE, "heater duty 1.5: 0..1"),
    (SetPoint(0.0, -0.1).pack(), SetPoint, codes.E_OUT_OF_RANGE, "heater duty"),
    (SetPoint(0.0, 0.1).pack()[:-1] + b"\x81", SetPoint, codes.E_OUT_OF_RANGE, "flags 0x81"),
    (SettingsRead(2, 0, 1).pack(), SettingsRead, codes.E_OUT_OF_RANGE, "slot selector 2"),
    (SettingsRead(0, 0, codes.MAX_READ + 1).pack(), SettingsRead, codes.E_OUT_OF_RANGE, "read length 257"),
    (SettingsRead(0, 0xFFFFFFFF, 1).pack(), SettingsRead, codes.E_OUT_OF_RANGE, "past the largest slot"),
    (SettingsWrite(0xFFFFFFFF, b"x").pack(), SettingsWrite, codes.E_OUT_OF_RANGE, "past the largest slot"),
    (SettingsWrite(0, b"x").pack()[:4], SettingsWrite, codes.E_BAD_LENGTH, "0 data bytes"),
    (b"\x00\x00", SettingsWrite, codes.E_BAD_LENGTH, "no offset"),
    (b"\x00" + (257).to_bytes(4, "little") + SettingsInfoReply(0, 100, 1, 1, 256).pack()[5:], SettingsInfoReply,
     codes.E_OUT_OF_RANGE, "larger than the slot"),
    (b"\x02" + SettingsInfoReply(0, 0, 0, 0, 256).pack()[1:], SettingsInfoReply, codes.E_OUT_OF_RANGE, "active slot 2"),
    (SettingsInfoReply(None, 0, 0, 0, 256).pack()[:-2] + b"\x00\x00", SettingsInfoReply, codes.E_OUT_OF_RANGE,
     "slot size 0"),
    (b"\xff" + SettingsInfoReply(0, 5, 0, 0, 256).pack()[1:], SettingsInfoReply, codes.E_OUT_OF_RANGE,
     "without an active slot"),
    (b"\x02" + VerifyReply(True, 0, 0).pack()[1:], VerifyReply, codes.E_OUT_OF_RANGE, "valid byte 2"),
    (b"\x01" + (0xFFFFFFFF).to_bytes(4, "little") + bytes(4), VerifyReply, codes.E_OUT_OF_RANGE, "larger than a slot"),
])
def test_values_the_protocol_does_not_allow_are_refused(payload, cls, code, text):
    with pytest.raises(WireError, match=text.replace(".", r"\.")) as err:
        cls.unpack(payload)
    assert err.value.code == code


@pytest.mark.parametrize(("message", "text"), [
    (Watchdog(70000), "WATCHDOG: a value does not fit"),
    (StreamStart(-1), "STREAM_START"),
    (SetPoint(1e39, 0.0), "SETPOINT"),
    (SettingsCommit(1 << 32), "SETTINGS_COMMIT"),
    (Identity(1, 0, 1, 0, 0, 1, 0.0, 0.0, "LR0001-TOO-LONG-SERIAL", "lsu49"), "serial_number"),
    (Identity(1, 0, 1, 0, 0, 1, 0.0, 0.0, "LR0001", "lsü49"), "element 'lsü49' must be ASCII"),
    (SettingsWrite(0, b""), "0 data bytes"),
    (SettingsWrite(0, bytes(codes.MAX_WRITE + 1)), "257 data bytes"),
    (SettingsData(bytes(codes.MAX_READ + 1)), "257 bytes"),
    (SettingsInfoReply(0, 0, 0, 0, 1000), "slot size 1000"),
])
def test_pack_refuses_values_that_do_not_fit(message, text):
    with pytest.raises(WireError, match=text):
        message.pack()


def test_error_text_is_cut_at_a_character_boundary():
    long = Error(codes.E_OUT_OF_RANGE, codes.SETPOINT, "é" * 150)      # 300 bytes of UTF-8
    payload = long.pack()
    assert len(payload) == 2 + codes.MAX_ERROR_TEXT
    assert Error.unpack(payload).text == "é" * 100
    assert Error.unpack(b"\x03\x10\xff\xfe").text == "\ufffd\ufffd"          # undecodable text: replaced


def test_requests_replies_and_unknown_types():
    assert decode_request(Frame(codes.PING, 1)) == Ping()
    for frame_type in (0x3E, codes.SAMPLE, codes.ACK, codes.ERROR, Identity.TYPE):
        with pytest.raises(WireError) as err:
            decode_request(Frame(frame_type, 1, b""))
        assert err.value.code == codes.E_UNKNOWN_TYPE
    with pytest.raises(WireError, match="unknown message type 0x3E"):
        decode(Frame(0x3E, 1))
    identity = EXAMPLES[1]
    assert decode_reply(Hello, Frame(identity.TYPE, 1, identity.pack())) == identity
    assert decode_reply(Hello, Frame(codes.ACK, 1, b"\x00")) == Ack(0)
    busy = Error(codes.E_BUSY, codes.PING, "busy")
    assert decode_reply(Ping, Frame(codes.ERROR, 1, busy.pack())) == busy
    with pytest.raises(WireError, match=r"unexpected reply type 0xA0 to HELLO \(expected 0x81 or ACK\)"):
        decode_reply(Hello, Frame(SettingsInfoReply.TYPE, 1, SettingsInfoReply(None, 0, 0, 0, 256).pack()))
    with pytest.raises(WireError, match="expected ACK"):
        decode_reply(Ping, Frame(Identity.TYPE, 1, identity.pack()))
    assert message_name(codes.SETTINGS_COMMIT) == "SETTINGS_COMMIT" and message_name(0x3E) == "type 0x3E"


def test_framing_bounds():
    assert MAX_PAYLOAD == 504
    encode_frame(codes.SAMPLE, 1, bytes(MAX_PAYLOAD))
    with pytest.raises(WireError, match="at most 504"):
        encode_frame(codes.SAMPLE, 1, bytes(MAX_PAYLOAD + 1))
    with pytest.raises(WireError, match="frame type 256"):
        encode_frame(256, 1)
    with pytest.raises(WireError, match="longer than"):
        decode_body(b"\x01" * 10_000)                # refused before decoding
    reader = FrameReader()
    assert reader.feed(b"\x05" * 5000) == [] and reader.dropped == 1       # a run without delimiter: discarded
    assert reader.feed(Ping().encode(3)) == [Frame(codes.PING, 3)]


def test_image_container_bounds():
    image = pack_image(1, b"hello")
    assert check_image(image + b"\xff" * 40) == (1, b"hello")
    assert image_length(image + b"\xff" * 40) == len(image) == 21 and image_crc(image) == 0x98FE8574
    huge = IMAGE_HEAD.pack(b"LRSI", 1, 1, 0xFFFFFFFF) + bytes(4)
    for function in (check_image, image_length, image_crc):
        with pytest.raises(WireError, match="more than a slot can hold"):
            function(huge)
        with pytest.raises(WireError, match="too short"):
            function(image[:10])
    with pytest.raises(WireError, match="length runs past the end"):
        check_image(image[:-1])
    with pytest.raises(WireError):
        pack_image(1, bytes(MAX_IMAGE_PAYLOAD + 1))
    with pytest.raises(WireError, match="schema version 65536"):
        pack_image(65536, b"")


def test_commit_record():
    record = CommitRecord(3, 0x98FE8574)
    raw = record.pack()
    assert len(raw) == RECORD_SIZE == 12 and CommitRecord.unpack(raw) == record
    torn = raw[:10] + b"\xff\xff"
    with pytest.raises(WireError, match="torn"):
        CommitRecord.unpack(torn)
    with pytest.raises(WireError, match="11 bytes"):
        CommitRecord.unpack(raw[:11])
    with pytest.raises(WireError, match="generation"):
        CommitRecord(-1, 0).pack()


def test_trim_message_carries_nan_for_no_trim_and_refuses_nonsense():
    import math
    assert math.isnan(TrimMessage.unpack(TrimMessage(math.nan).pack()).trim_ohm)
    assert TrimRead.REPLY is TrimMessage and TrimMessage.TYPE == codes.TRIM_READ | 0x80
    for bad in (-1.0, 0.0, math.inf):
        with pytest.raises(WireError):
            TrimMessage.unpack(TrimMessage(bad).pack())
