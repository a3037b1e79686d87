"""What both ends of a wire agree on: the bench-rig wire protocol, version 1. The host side
(lambdarig.hal) and the emulated rig (lambdarig.emulator) both import it; it imports nothing from
the rest of lambdarig but lambdarig.common.

A board's firmware author reads, in this order:
    codes.py          message types, error codes, capability/status bits, limits
    framing.py        COBS, header, CRC-32, FrameReader
    messages.py       one class per message: its layout, pack and unpack
    image.py          the settings-image container (magic, versions, length, CRC)
    commit_record.py  the record that switches the active settings slot
docs/protocol.md is the same in prose and tables.
"""

from . import codes
from .commit_record import CommitRecord, is_newer_generation, next_generation
from .errors import WireError
from .framing import PROTOCOL_VERSION, Frame, FrameReader, decode_body, encode_frame
from .image import check_image, image_crc, image_length, pack_image
from .messages import (
    Ack,
    AnalogOut,
    AnalogOutReply,
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
    VerifyReply,
    Watchdog,
    decode,
    decode_reply,
    decode_request,
    message_name,
)

__all__ = [
    "PROTOCOL_VERSION", "Ack", "AnalogOut", "AnalogOutReply", "CommitRecord", "Error", "Frame", "FrameReader",
    "Hello", "Identity", "Message",
    "Ping", "Request", "Reset", "SampleMessage", "SetPoint", "SettingsCommit", "SettingsData", "SettingsErase",
    "SettingsInfo", "SettingsInfoReply", "SettingsRead", "SettingsVerify", "SettingsWrite", "StreamStart",
    "StreamStop", "VerifyReply", "Watchdog", "WireError", "check_image", "codes", "decode",
    "decode_body", "decode_reply", "decode_request", "encode_frame", "image_crc", "image_length",
    "is_newer_generation", "message_name", "next_generation", "pack_image",
]
