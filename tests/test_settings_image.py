"""The settings image payload: exact round trips, and every malformed or foreign image refused with
the field or part named."""

from __future__ import annotations

import struct

import pytest

from lambdarig.controller import settings_image as si
from lambdarig.controller.settings import FIELDS, SCHEMA_VERSION, Settings, SettingsError
from lambdarig.controller.settings_image import SCHEMA  # the fields an image carries
from lambdarig.protocol.image import check_image, pack_image


def record_offset(name: str) -> int:
    offset = si.HEAD.size
    for field in SCHEMA:
        if field.name == name:
            return offset
        offset += 1 + si._VALUE[si.field_tag(field)].size
    raise KeyError(name)


def patched_image(settings: Settings, name: str, record: bytes, serial: str = "") -> bytes:
    """A correctly framed image (good CRC) whose record for `name` is replaced by `record`."""
    payload = bytearray(si.encode_payload(settings, serial))
    offset = record_offset(name)
    size = 1 + si._VALUE[si.field_tag(FIELDS[name])].size
    payload[offset:offset + size] = record
    return pack_image(SCHEMA_VERSION, bytes(payload))


def refused(image: bytes, expected_serial: str | None = None) -> SettingsError:
    with pytest.raises(SettingsError) as info:
        si.decode_image(image, expected_serial)
    return info.value


def test_defaults_round_trip():
    image = si.encode_settings(Settings())
    assert si.decode_image(image) == Settings()
    schema_version, payload = check_image(image)
    assert schema_version == SCHEMA_VERSION
    assert len(payload) == si.payload_size()


def test_every_field_type_and_choice_round_trips():
    for field in SCHEMA:
        candidates = []
        if field.choices:
            candidates = list(field.choices)
        elif isinstance(field.default, bool):
            candidates = [True, False]
        elif isinstance(field.default, int):
            candidates = [int(field.lo), int(field.hi)]
        else:
            candidates = [field.lo, field.hi, (field.lo + field.hi) / 3]  # a value with no short decimal form
        for value in candidates:
            try:
                settings = Settings({field.name: value})
            except SettingsError:
                continue  # a bound that a cross-field rule forbids with the other defaults
            decoded = si.decode_image(si.encode_settings(settings, "SN1"), "SN1")
            assert decoded == settings
            assert decoded.get(field.name) == value
            assert type(decoded.get(field.name)) is type(field.default)


def test_floats_are_bit_exact():
    settings = Settings({"pump.kp_a_per_v": 0.1 + 0.2, "conversion.lambda_step_a": 1.2345678901234567e-5})
    decoded = si.decode_image(si.encode_settings(settings))
    assert decoded.pump.kp_a_per_v == 0.1 + 0.2
    assert decoded.conversion.lambda_step_a == 1.2345678901234567e-5


def test_layout_matches_the_documented_table():
    payload = check_image(si.encode_settings(Settings({"sensor.element": "outer-ref"}), "LR-0042"))[1]
    assert payload[:16] == b"LR-0042" + b"\x00" * 9
    assert struct.unpack_from("<I", payload, 16)[0] == si.schema_fingerprint()
    assert struct.unpack_from("<H", payload, 20)[0] == len(SCHEMA)
    # The first field is sensor.element, a choice: tag 0x04, index into its choices.
    assert SCHEMA[0].name == "sensor.element"
    assert payload[22] == si.TAG_CHOICE
    assert payload[23] == SCHEMA[0].choices.index("outer-ref")
    # A number is tag 0x01 + f64, an integer tag 0x02 + i32, a boolean tag 0x03 + u8.
    off = record_offset("heater.target_temp_c")
    assert payload[off] == si.TAG_F64 and struct.unpack_from("<d", payload, off + 1)[0] == 780.0
    off = record_offset("diagnostics.max_retries")
    assert payload[off] == si.TAG_I32 and struct.unpack_from("<i", payload, off + 1)[0] == 5
    off = record_offset("conversion.pressure_compensation")
    assert payload[off] == si.TAG_BOOL and payload[off + 1] == 1


def test_trailing_erased_flash_is_ignored():
    image = si.encode_settings(Settings())
    assert si.decode_image(image + b"\xff" * 300) == Settings()


def test_device_serial_rules():
    settings = Settings()
    mine = si.encode_settings(settings, "LR-0001")
    assert si.image_serial(mine) == "LR-0001"
    assert si.decode_image(mine, "LR-0001") == settings
    assert si.decode_image(mine) == settings  # not checked when no serial is expected
    error = refused(mine, "LR-0002")
    assert error.field == "device serial"
    assert "LR-0001" in str(error) and "LR-0002" in str(error)
    anyone = si.encode_settings(settings)
    assert si.image_serial(anyone) == ""
    assert si.decode_image(anyone, "LR-0002") == settings
    settings_with_serial, serial = si.decode_image_with_serial(mine)
    assert serial == "LR-0001" and settings_with_serial == settings


@pytest.mark.parametrize("serial", ["X" * 17, "séria", "a\x00b"])
def test_unusable_device_serial_is_refused_when_encoding(serial):
    with pytest.raises(SettingsError) as info:
        si.encode_settings(Settings(), serial)
    assert info.value.field == "device serial"


def test_wrong_schema_version_is_refused_naming_both_versions():
    payload = si.encode_payload(Settings())
    error = refused(pack_image(SCHEMA_VERSION + 1, payload))
    assert error.field == "schema_version"
    assert str(SCHEMA_VERSION + 1) in str(error) and str(SCHEMA_VERSION) in str(error)


@pytest.mark.parametrize("damage", ["flip", "truncate", "magic", "empty", "erased"])
def test_damaged_container_is_refused(damage):
    image = bytearray(si.encode_settings(Settings()))
    if damage == "flip":
        image[40] ^= 0x10
    elif damage == "truncate":
        image = image[:-7]
    elif damage == "magic":
        image[0:4] = b"XXXX"
    elif damage == "empty":
        image = bytearray()
    else:
        image = bytearray(b"\xff" * 600)
    error = refused(bytes(image))
    assert error.field == "image"
    assert "settings image" in str(error)


def test_value_out_of_range_is_refused_naming_field_and_range():
    record = bytes([si.TAG_F64]) + struct.pack("<d", 2000.0)
    error = refused(patched_image(Settings(), "heater.target_temp_c", record))
    assert error.field == "heater.target_temp_c"
    assert "600 to 900 °C" in str(error)


def test_cross_field_rule_is_enforced():
    # feedforward above the continuous cap: each value in range, the combination is not.
    record = bytes([si.TAG_F64]) + struct.pack("<d", 12.0)
    image = patched_image(Settings({"heater.continuous_max_v": 10.0}), "heater.feedforward_v", record)
    assert refused(image).field == "heater.feedforward_v"


def test_non_finite_number_is_refused():
    record = bytes([si.TAG_F64]) + struct.pack("<d", float("nan"))
    error = refused(patched_image(Settings(), "pump.ki_a_per_v_s", record))
    assert error.field == "pump.ki_a_per_v_s"


def test_bad_choice_index_is_refused_naming_the_choices():
    record = bytes([si.TAG_CHOICE, 200])
    error = refused(patched_image(Settings(), "conversion.fuel", record))
    assert error.field == "conversion.fuel"
    assert "gasoline" in str(error)


def test_bad_boolean_byte_is_refused():
    record = bytes([si.TAG_BOOL, 7])
    assert refused(patched_image(Settings(), "conversion.pressure_compensation", record)).field == \
        "conversion.pressure_compensation"


def test_wrong_record_tag_is_refused():
    record = bytes([si.TAG_I32]) + struct.pack("<i", 800) + b"\x00" * 4  # same size as the f64 record
    error = refused(patched_image(Settings(), "heater.target_temp_c", record))
    assert error.field == "heater.target_temp_c"
    assert "tag" in str(error)


def test_other_field_list_is_refused():
    payload = bytearray(si.encode_payload(Settings()))
    struct.pack_into("<I", payload, 16, si.schema_fingerprint() ^ 1)
    error = refused(pack_image(SCHEMA_VERSION, bytes(payload)))
    assert error.field == "image" and "fingerprint" in str(error)
    payload = bytearray(si.encode_payload(Settings()))
    struct.pack_into("<H", payload, 20, len(SCHEMA) - 1)
    error = refused(pack_image(SCHEMA_VERSION, bytes(payload)))
    assert "fields" in str(error)


def test_payload_length_errors_are_refused():
    payload = si.encode_payload(Settings())
    assert refused(pack_image(SCHEMA_VERSION, payload + b"\x00")).field == "image"
    error = refused(pack_image(SCHEMA_VERSION, payload[:-3]))
    assert error.field == SCHEMA[-1].name
    assert refused(pack_image(SCHEMA_VERSION, payload[:10])).field == "image"


def test_fingerprint_depends_on_the_field_list(monkeypatch):
    before = si.schema_fingerprint()
    monkeypatch.setattr(si, "SCHEMA", si.SCHEMA[1:] + si.SCHEMA[:1])
    assert si.schema_fingerprint() != before


def test_encode_needs_settings():
    with pytest.raises(TypeError):
        si.encode_settings({"heater.target_temp_c": 700.0})


def test_image_to_toml_round_trips_through_the_toml_loader():
    from lambdarig.controller.settings import settings_from_toml_text
    settings = Settings({"conversion.fuel": "methanol", "heater.target_temp_c": 765.25})
    text = si.image_to_toml(si.encode_settings(settings, "LR1"), "LR1")
    assert settings_from_toml_text(text) == settings


def test_a_host_side_profile_file_is_not_in_the_image(tmp_path):
    profile = tmp_path / "p.toml"
    profile.write_text("")
    settings = Settings({"sensor.profile_file": str(profile)})
    assert "sensor.profile_file" in FIELDS and "sensor.profile_file" not in {f.name for f in SCHEMA}
    image = si.encode_settings(settings, "SN1")
    assert image == si.encode_settings(Settings(), "SN1")
    assert si.decode_image(image, "SN1").sensor.profile_file == ""
