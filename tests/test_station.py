"""Station files (protocol/station.py): a valid file loads; every bad field is refused naming the file,
the field and the allowed range or values; unknown keys; per-model and per-channel limits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lambdarig.common.errors import InputError
from lambdarig.protocol.station import (
    Station,
    StationError,
    load_station,
    save_station,
    station_from_text,
    station_to_toml,
)

VALID = '''\
[station]
name = "emulated station (lsu49)"
loop_hz = 50.0
supply_equivalent_v = 13.5   # firmware duty d -> heater volts V = supply_equivalent_v * sqrt(d)
[pump]                       # SMU on the pump cell
model = "keithley2400"       # keithley2400 | keithley2450
resource = "TCPIP::127.0.0.1::40001::SOCKET"
read_termination = "\\n"
write_termination = "\\n"
timeout_ms = 200
compliance_v = 2.5
current_limit_a = 0.01
[heater]                     # supply channel
model = "rigol_dp832"        # rigol_dp832 | keysight_e36312a | keysight_e3631a
resource = "TCPIP::127.0.0.1::40002::SOCKET"
channel = 1
read_termination = "\\n"
write_termination = "\\n"
timeout_ms = 200
voltage_limit_v = 13.0
current_limit_a = 3.0
[nernst]                     # optional: SMU or meter on the Nernst cell
model = "keithley2450"       # keithley2450 | keithley2400 | keysight_34465a (meter: no current source, no ESR)
resource = "TCPIP::127.0.0.1::40003::SOCKET"
read_termination = "\\n"
write_termination = "\\n"
timeout_ms = 200
reference_current_a = 20e-6
esr_step_a = 100e-6          # 0: no ESR measurement
compliance_v = 3.0
'''


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(text)
    return path


def edit(text: str, table: str, key: str, value: str | None) -> str:
    """Set (or with None remove) `key` in `[table]` of a station text."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split("#")[0].strip() == f"[{table}]")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    for i in range(start + 1, end):
        if re.match(rf"{re.escape(key)}\s*=", lines[i]):
            if value is None:
                del lines[i]
            else:
                lines[i] = f"{key} = {value}"
            return "\n".join(lines) + "\n"
    assert value is not None, f"{table}.{key} not in the text"
    lines.insert(end, f"{key} = {value}")
    return "\n".join(lines) + "\n"


def refused(tmp_path: Path, text: str, field: str, *fragments: str) -> StationError:
    path = write(tmp_path, text)
    with pytest.raises(StationError) as err:
        load_station(path)
    message = str(err.value)
    assert message.startswith(f"{path}: {field}: "), message
    assert err.value.field == field
    for fragment in fragments:
        assert fragment in message, message
    return err.value


def test_valid_station_file_loads(tmp_path):
    station = load_station(write(tmp_path, VALID))
    assert isinstance(station, Station)
    assert (station.name, station.loop_hz, station.supply_equivalent_v) == ("emulated station (lsu49)", 50.0, 13.5)
    assert station.pump.model == "keithley2400" and station.pump.timeout_ms == 200
    assert station.pump.resource == "TCPIP::127.0.0.1::40001::SOCKET"
    assert station.pump.read_termination == "\n" and station.pump.write_termination == "\n"
    assert (station.pump.compliance_v, station.pump.current_limit_a) == (2.5, 0.01)
    assert (station.heater.channel, station.heater.voltage_limit_v, station.heater.current_limit_a) == (1, 13.0, 3.0)
    assert station.nernst.reference_current_a == pytest.approx(20e-6)
    assert station.nernst.esr_step_a == pytest.approx(100e-6)
    assert station.nernst.measures_esr and not station.nernst.is_meter
    assert list(station.roles()) == ["pump", "heater", "nernst"]


def test_nernst_table_is_optional_and_defaults_apply(tmp_path):
    text = VALID.split("[nernst]")[0]
    for key in ("read_termination", "write_termination", "timeout_ms"):
        text = edit(text, "pump", key, None)
    text = edit(text, "station", "name", None)
    station = load_station(write(tmp_path, text))
    assert station.nernst is None
    assert station.name == "station"          # the file's stem
    assert station.pump.read_termination == "\n" and station.pump.timeout_ms == 500


def test_round_trip_through_toml(tmp_path):
    station = load_station(write(tmp_path, VALID))
    path = tmp_path / "copy.toml"
    save_station(station, path)
    again = load_station(path)
    assert station_to_toml(again) == station_to_toml(station)
    assert again.nernst == station.nernst and again.heater == station.heater


@pytest.mark.parametrize("table,key,value,problem,allowed", [
    ("station", "loop_hz", "0.5", "0.5 Hz is outside the allowed range", "1 to 1000 Hz"),
    ("station", "loop_hz", '"fast"', "'fast' is not a number", "1 to 1000 Hz"),
    ("station", "supply_equivalent_v", "60", "60 V is outside the allowed range", "1 to 40 V ("),
    ("station", "name", '""', "must be a non-empty string", "a name in quotes"),
    ("pump", "model", '"keithley6517"', "unknown model 'keithley6517'", "keithley2400, keithley2450"),
    ("pump", "model", '"rigol_dp832"', "unknown model 'rigol_dp832'", "keithley2400, keithley2450"),
    ("pump", "resource", '"COM3"', "'COM3' is not a VISA resource name", "TCPIP::host::port::SOCKET, "),
    ("pump", "resource", '"TCPIP::127.0.0.1::70000::SOCKET"', "port must be 1 to 65535", "TCPIP::host::port::SOCKET, "),
    ("pump", "read_termination", '"\\t"', "is not a line termination", '"\\n", "\\r\\n", "\\r"'),
    ("pump", "timeout_ms", "5", "5 is outside the allowed range", "a whole number, 10 to 60000"),
    ("pump", "timeout_ms", "200.5", "not a whole number", "a whole number, 10 to 60000"),
    ("pump", "compliance_v", "250", "250 V is outside the allowed range", "0.0002 to 210 V (keithley2400)"),
    ("pump", "compliance_v", "true", "True is not a number", "0.0002 to 210 V (keithley2400)"),
    ("pump", "current_limit_a", "2.0", "2 A is outside the allowed range", "1e-06 to 1.05 A (keithley2400)"),
    ("pump", "current_limit_a", "0", "0 A is outside the allowed range", "1e-06 to 1.05 A (keithley2400)"),
    ("heater", "model", '"keysight_e3646a"', "unknown model 'keysight_e3646a'",
     "rigol_dp832, keysight_e36312a, keysight_e3631a"),
    ("heater", "channel", "4", "4 is not a heater channel of rigol_dp832", "1, 2, 3"),
    ("heater", "channel", '"1"', "'1' is not a heater channel", "1, 2, 3"),
    ("heater", "voltage_limit_v", "31", "31 V is outside the allowed range", "0.1 to 30 V (rigol_dp832 channel 1)"),
    ("heater", "current_limit_a", "3.5", "3.5 A is outside the allowed range", "0.01 to 3 A (rigol_dp832 channel 1)"),
    ("nernst", "model", '"rigol_dp832"', "unknown model 'rigol_dp832'", "keithley2400, keithley2450, keysight_34465a"),
    ("nernst", "reference_current_a", "0.01", "0.01 A is outside the allowed range", "-0.001 to 0.001 A"),
    ("nernst", "esr_step_a", "-1e-6", "-1e-06 A is outside the allowed range", "0 to 0.001 A ("),
    ("nernst", "compliance_v", "0.01", "0.01 V is outside the allowed range", "0.02 to 210 V (keithley2450)"),
])
def test_each_bad_field_is_refused_naming_file_field_and_range(tmp_path, table, key, value, problem, allowed):
    err = refused(tmp_path, edit(VALID, table, key, value), f"{table}.{key}", problem, f"(allowed: {allowed}")
    assert problem in err.problem and err.allowed.startswith(allowed)


@pytest.mark.parametrize("table,key", [("station", "loop_hz"), ("station", "supply_equivalent_v"),
                                       ("pump", "model"), ("pump", "resource"), ("pump", "compliance_v"),
                                       ("pump", "current_limit_a"), ("heater", "channel"),
                                       ("heater", "voltage_limit_v"), ("heater", "current_limit_a"),
                                       ("nernst", "reference_current_a"), ("nernst", "compliance_v")])
def test_required_keys(tmp_path, table, key):
    refused(tmp_path, edit(VALID, table, key, None), f"{table}.{key}", "is required")


def test_unknown_keys_and_tables_are_refused(tmp_path):
    err = refused(tmp_path, edit(VALID, "pump", "compliance", "2.5"), "pump.compliance", "unknown key",
                  "did you mean 'compliance_v'?")
    assert "current_limit_a" in err.allowed and err.suggestions == ("compliance_v",)
    refused(tmp_path, edit(VALID, "station", "element", '"lsu49"'), "station.element", "unknown key")
    refused(tmp_path, VALID + "\n[meter]\nmodel = \"keysight_34465a\"\n", "meter",
            "unknown table", "allowed: station, pump, heater, nernst")
    refused(tmp_path, VALID.split("[heater]")[0], "heater", "is required")
    # A misspelt required key is reported as the misspelling, not as the key missing.
    misspelt = edit(edit(VALID, "pump", "compliance_v", None), "pump", "complience_v", "2.5")
    refused(tmp_path, misspelt, "pump.complience_v", "unknown key", "did you mean 'compliance_v'?")
    # Every refusal is a package input error (one root, one shape), still a ValueError.
    err = refused(tmp_path, edit(VALID, "pump", "model", '"keithley2401"'), "pump.model", "unknown model")
    assert isinstance(err, InputError) and isinstance(err, ValueError)
    assert set(err.suggestions) >= {"keithley2400"}


def test_model_specific_limits(tmp_path):
    # Rigol DP832 channel 3 gives at most 5 V: a 13 V heater limit there is refused.
    ch3 = edit(VALID, "heater", "channel", "3")
    refused(tmp_path, ch3, "heater.voltage_limit_v",
            "13 V is outside the allowed range (allowed: 0.1 to 5 V (rigol_dp832 channel 3))")
    assert load_station(write(tmp_path, edit(ch3, "heater", "voltage_limit_v", "5.0"))).heater.channel == 3
    # Keysight E36312A: channel 1 is 6 V / 5 A, channels 2 and 3 are 25 V / 1 A.
    e36312a = edit(VALID, "heater", "model", '"keysight_e36312a"')
    refused(tmp_path, e36312a, "heater.voltage_limit_v", "0.1 to 6 V (keysight_e36312a channel 1)")
    e36312a_ch2 = edit(e36312a, "heater", "channel", "2")
    refused(tmp_path, e36312a_ch2, "heater.current_limit_a", "3 A is outside the allowed range", "0.01 to 1 A")
    ok = load_station(write(tmp_path, edit(e36312a_ch2, "heater", "current_limit_a", "1.0")))
    assert ok.heater.model == "keysight_e36312a"
    # Keysight E3631A: channel 3 is the negative output.
    e3631a = edit(edit(VALID, "heater", "model", '"keysight_e3631a"'), "heater", "channel", "3")
    refused(tmp_path, e3631a, "heater.channel", "3: channel 3 (N25V) is a negative output")
    # Keithley 2450 limits voltage from 0.02 V; the 2400 from 0.2 mV.
    low = edit(VALID, "pump", "compliance_v", "0.01")
    assert load_station(write(tmp_path, low)).pump.compliance_v == 0.01
    refused(tmp_path, edit(low, "pump", "model", '"keithley2450"'), "pump.compliance_v",
            "0.02 to 210 V (keithley2450)")


def test_meter_on_the_nernst_cell_cannot_source_current(tmp_path):
    meter = edit(VALID, "nernst", "model", '"keysight_34465a"')
    refused(tmp_path, meter, "nernst.reference_current_a", "keysight_34465a is a meter: it cannot source current")
    meter = edit(meter, "nernst", "reference_current_a", "0.0")
    refused(tmp_path, meter, "nernst.esr_step_a", "so no ESR")
    meter = edit(edit(meter, "nernst", "esr_step_a", None), "nernst", "compliance_v", None)
    station = load_station(write(tmp_path, meter))
    assert station.nernst.is_meter and not station.nernst.measures_esr


def test_each_role_needs_its_own_instrument(tmp_path):
    text = edit(VALID, "nernst", "resource", '"TCPIP::127.0.0.1::40001::SOCKET"')
    refused(tmp_path, text, "nernst.resource", "already the pump instrument")


def test_other_resource_forms_are_accepted(tmp_path):
    for resource in ("GPIB0::24::INSTR", "USB0::0x05E6::0x2450::04096331::INSTR", "ASRL/dev/ttyUSB0::INSTR",
                     "TCPIP0::192.168.1.20::inst0::INSTR", "TCPIP::192.168.1.20::hislip0::INSTR"):
        station = load_station(write(tmp_path, edit(VALID, "pump", "resource", f'"{resource}"')))
        assert station.pump.resource == resource


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(StationError, match=r"missing.toml: file: no such file"):
        load_station(tmp_path / "missing.toml")
    with pytest.raises(StationError, match=r": file: not valid TOML"):
        station_from_text("[station\n", "bad.toml")


def test_changed_copies_are_validated_again(tmp_path):
    station = load_station(write(tmp_path, VALID))
    low = station.changed("pump", compliance_v=0.05)
    assert low.pump.compliance_v == 0.05 and station.pump.compliance_v == 2.5
    with pytest.raises(StationError, match="heater.voltage_limit_v"):
        station.changed("heater", channel=3)
