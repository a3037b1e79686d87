"""The controller settings as a binary image for a rig's flash, and back.

The image is the wire protocol's settings container (lambdarig.protocol.image: magic "LRSI", container
version, settings schema version, payload length, payload, CRC-32), so the rig can check an image
without knowing what is inside. This module owns the payload: a small self-describing layout, in schema
order, all little-endian (docs/settings.md has the same table):

    offset  size  field
    0       16    device serial: ASCII, NUL-padded; all NUL = made for any device
    16      4     schema fingerprint u32: CRC-32 of the schema's field list (see `schema_fingerprint`)
    20      2     field count u16 (= len(SCHEMA))
    22      ...   one record per schema field, in SCHEMA order: tag u8, then the value
                    tag 0x01 number   f64 (8 bytes)
                    tag 0x02 integer  i32 (4 bytes)
                    tag 0x03 boolean  u8 (0 false, 1 true)
                    tag 0x04 choice   u8 index into the field's choices

Decoding refuses, with a SettingsError naming what is wrong: a damaged container (bad magic, CRC,
length), another schema version, an image made for another device, another field list (fingerprint
or count), a record whose tag is not the field's type, a choice index out of range, trailing bytes;
then every value goes through `Settings`, so a value out of range is refused with the field and its
range named, exactly as from a TOML file.

It lives with the firmware's settings, whose schema it encodes; the container around it is the
protocol's, which both ends of the wire share (the firmware imports lambdarig.protocol, never hal).
"""

from __future__ import annotations

import math
import struct
import zlib
from typing import Any

from lambdarig.controller.settings import SCHEMA as ALL_FIELDS
from lambdarig.controller.settings import SCHEMA_VERSION, Field, Settings, SettingsError
from lambdarig.protocol.errors import WireError
from lambdarig.protocol.image import check_image, pack_image

# The fields the image carries: host-side ones (sensor.profile_file, a path on the host) are not.
SCHEMA = tuple(field for field in ALL_FIELDS if field.in_image)

SOURCE = "settings image"
SERIAL_BYTES = 16
HEAD = struct.Struct("<16sIH")
TAG_F64 = 0x01
TAG_I32 = 0x02
TAG_BOOL = 0x03
TAG_CHOICE = 0x04
_VALUE = {TAG_F64: struct.Struct("<d"), TAG_I32: struct.Struct("<i"), TAG_BOOL: struct.Struct("<B"),
          TAG_CHOICE: struct.Struct("<B")}
_TAG_NAME = {TAG_F64: "number (f64)", TAG_I32: "integer (i32)", TAG_BOOL: "boolean (u8)",
             TAG_CHOICE: "choice (u8 index)"}


def field_tag(field: Field) -> int:
    """The record tag of a schema field, from the type of its default."""
    if isinstance(field.default, bool):
        return TAG_BOOL
    if isinstance(field.default, str):
        if not field.choices or len(field.choices) > 255:
            raise TypeError(f"{field.name}: a string setting needs 1..255 choices to fit the image")
        return TAG_CHOICE
    if isinstance(field.default, int):
        return TAG_I32
    return TAG_F64


def _choices(field: Field) -> tuple[str, ...]:
    return field.choices or ()


def _fingerprint_text() -> str:
    rows = []
    for field in SCHEMA:
        row = f"{field.name}:{field_tag(field)}"
        if field.choices:
            row += ":" + "|".join(field.choices)
        rows.append(row)
    return "\n".join(rows)


def schema_fingerprint() -> int:
    """CRC-32 of the field list: each field's `section.key:tag[:choice|choice...]`, one per line, in
    schema order. Changes whenever a field is added, removed, reordered, retyped or gets other
    choices, so an image from a different field list is refused even if SCHEMA_VERSION was not bumped."""
    return zlib.crc32(_fingerprint_text().encode())


def payload_size() -> int:
    return HEAD.size + sum(1 + _VALUE[field_tag(f)].size for f in SCHEMA)


def _serial_bytes(device_serial: str) -> bytes:
    if not isinstance(device_serial, str):
        raise SettingsError("device serial", f"{device_serial!r} must be text", SOURCE)
    try:
        raw = device_serial.encode("ascii")
    except UnicodeEncodeError:
        raise SettingsError("device serial", f"{device_serial!r} must be ASCII", SOURCE) from None
    if len(raw) > SERIAL_BYTES or b"\x00" in raw:
        raise SettingsError("device serial", f"{device_serial!r} must be at most {SERIAL_BYTES} ASCII "
                                             "characters without NUL", SOURCE)
    return raw


def encode_payload(settings: Settings, device_serial: str = "") -> bytes:
    """The payload alone (no container)."""
    if not isinstance(settings, Settings):
        raise TypeError(f"encode_settings needs a Settings, got {type(settings).__name__}")
    out = bytearray(HEAD.pack(_serial_bytes(device_serial), schema_fingerprint(), len(SCHEMA)))
    for field in SCHEMA:
        tag = field_tag(field)
        value = settings.get(field.name)
        if tag == TAG_CHOICE:
            value = _choices(field).index(value)
        elif tag == TAG_BOOL:
            value = 1 if value else 0
        out.append(tag)
        out += _VALUE[tag].pack(value)
    return bytes(out)


def encode_settings(settings: Settings, device_serial: str = "") -> bytes:
    """A complete settings image (container + payload) for the rig with `device_serial` ("" = any rig)."""
    return pack_image(SCHEMA_VERSION, encode_payload(settings, device_serial))


def image_serial(image: bytes) -> str:
    """The device serial an image was made for ("" = any). Checks the container first."""
    return _open(image)[0]


def _open(image: bytes) -> tuple[str, bytes]:
    try:
        schema_version, payload = check_image(bytes(image))
    except WireError as exc:
        raise SettingsError("image", str(exc), SOURCE) from None
    if schema_version != SCHEMA_VERSION:
        raise SettingsError("schema_version", f"the image has settings schema version {schema_version}; "
                                              f"this firmware reads version {SCHEMA_VERSION}", SOURCE)
    if len(payload) < HEAD.size:
        raise SettingsError("image", f"payload of {len(payload)} bytes is shorter than its "
                                     f"{HEAD.size}-byte head", SOURCE)
    raw_serial, _, _ = HEAD.unpack_from(payload)
    raw_serial = raw_serial.rstrip(b"\x00")
    try:
        serial = raw_serial.decode("ascii")
    except UnicodeDecodeError:
        raise SettingsError("device serial", f"{raw_serial!r} in the image is not ASCII", SOURCE) from None
    return serial, payload


def decode_image_with_serial(image: bytes, expected_serial: str | None = None) -> tuple[Settings, str]:
    """(Settings, device serial the image was made for). See `decode_image`."""
    serial, payload = _open(image)
    if expected_serial is not None and serial and serial != expected_serial:
        raise SettingsError("device serial", f"the image was made for device {serial!r}, "
                                             f"not this device {expected_serial!r}", SOURCE)
    _, fingerprint, count = HEAD.unpack_from(payload)
    if count != len(SCHEMA):
        raise SettingsError("image", f"holds {count} fields; schema version {SCHEMA_VERSION} has "
                                     f"{len(SCHEMA)}", SOURCE)
    if fingerprint != schema_fingerprint():
        raise SettingsError("image", f"field-list fingerprint {fingerprint:#010x} does not match this "
                                     f"firmware's {schema_fingerprint():#010x} (a different field list "
                                     f"under the same schema version)", SOURCE)
    values: dict[str, Any] = {}
    offset = HEAD.size
    for field in SCHEMA:
        if offset >= len(payload):
            raise SettingsError(field.name, "missing: the payload ends before this field", SOURCE)
        tag = payload[offset]
        expected = field_tag(field)
        if tag != expected:
            raise SettingsError(field.name, f"record tag {tag:#04x} is not the field's type "
                                            f"{_TAG_NAME[expected]} (tag {expected:#04x})", SOURCE)
        fmt = _VALUE[tag]
        if offset + 1 + fmt.size > len(payload):
            raise SettingsError(field.name, "truncated: the payload ends inside this field", SOURCE)
        (raw,) = fmt.unpack_from(payload, offset + 1)
        offset += 1 + fmt.size
        if tag == TAG_CHOICE:
            choices = _choices(field)
            if raw >= len(choices):
                raise SettingsError(field.name, f"choice index {raw} is not {field.allowed()} "
                                                f"(indices 0..{len(choices) - 1})", SOURCE)
            values[field.name] = choices[raw]
        elif tag == TAG_BOOL:
            if raw not in (0, 1):
                raise SettingsError(field.name, f"boolean byte {raw} must be 0 or 1", SOURCE)
            values[field.name] = bool(raw)
        elif tag == TAG_F64 and not math.isfinite(raw):
            raise SettingsError(field.name, f"{raw!r} is not a number; allowed range {field.allowed()}", SOURCE)
        else:
            values[field.name] = raw
    if offset != len(payload):
        raise SettingsError("image", f"{len(payload) - offset} unexpected bytes after the last field", SOURCE)
    return Settings(values, SOURCE), serial


def decode_image(image: bytes, expected_serial: str | None = None) -> Settings:
    """Settings from a complete image (trailing erased-flash bytes after the container are ignored).

    `expected_serial`: the serial of the device the image was read from / is meant for; an image made
    for another device is refused (an image made for any device, serial "", is accepted). None: not
    checked. Raises SettingsError naming the field or part that is wrong."""
    return decode_image_with_serial(image, expected_serial)[0]


def image_to_toml(image: bytes, expected_serial: str | None = None) -> str:
    """TOML text of an image's settings: the decoder a serial front end's `stored_settings()` needs
    (hal.serial_frontend.register_settings_decoder(image_to_toml); hal cannot import controller)."""
    return decode_image(image, expected_serial).to_toml()
