"""Station files: which lab instrument plays which role (pump SMU, heater supply, optional Nernst
SMU or meter, optional analog-output supply channel), where it is, how to talk to it, and its
safety limits.

    station = load_station("station.toml")      # StationError (an InputError) on anything wrong
    station.pump.model, station.heater.channel, station.nernst  # None without a [nernst] table
    save_station(station, "copy.toml")          # the one writer: annotated TOML, written atomically

The file is what both ends of a station agree on: the emulated station (emulator/instruments)
writes it with `save_station`, the VISA front end (hal/visa_frontend.py) reads it with
`load_station`. So it lives in the protocol leaf and imports nothing from the HAL or the emulator;
the limits of each model come from the instrument catalogue (protocol/instrument_models.py).

Every key is typed and range-checked and unknown keys are refused, before any instrument is
opened. Errors name the file, the field (e.g. `heater.voltage_limit_v`) and the allowed range or
values. Ranges depend on the model (and on the channel of a supply): a Rigol DP832 channel 3 gives
at most 5 V, a Keithley 2400 sources at most 1.05 A, a Keithley 2450 limits voltage from 0.02 V.
docs/station.md lists every key.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from lambdarig.common import validators as check
from lambdarig.common.errors import InputError
from lambdarig.common.file_out import write_text_atomic
from lambdarig.common.tables import REQUIRED, TableReader
from lambdarig.common.toml_file import parse_toml_text, read_toml_file
from lambdarig.common.validators import Place

from .instrument_models import MODELS, ROLE_MODELS, ROLES, SmuModel, SupplyModel

TERMINATIONS = {"\n": "\\n", "\r\n": "\\r\\n", "\r": "\\r"}
TIMEOUT_MS_RANGE = (10, 60000)
LOOP_HZ_RANGE = (1.0, 1000.0)
SUPPLY_EQUIVALENT_RANGE = (1.0, 40.0)
PUMP_CURRENT_LIMIT_MIN_A = 1e-6
HEATER_VOLTAGE_LIMIT_MIN_V = 0.1
HEATER_CURRENT_LIMIT_MIN_A = 0.01
NERNST_REFERENCE_RANGE_A = (-1e-3, 1e-3)
NERNST_ESR_STEP_RANGE_A = (0.0, 1e-3)
METER_COMPLIANCE_RANGE_V = (0.0, 210.0)
ANALOG_OUT_MAX_V = 5.0             # the controller's analog outputs span 0-5 V (settings [analog])
ANALOG_OUT_CURRENT_MAX_A = 0.1     # a gauge or a logger input draws microamps

# A pressure transducer's linear output: p_kPa = (V - offset_v) * kpa_per_v (absolute pressure).
PRESSURE_OFFSET_RANGE_V = (-10.0, 10.0)
PRESSURE_SCALE_RANGE_KPA_PER_V = (1.0, 10000.0)
DEFAULT_TIMEOUT_MS = 500
DEFAULT_TERMINATION = "\n"

# A VISA resource name the station can open by exact name (no discovery).
_RESOURCE_RES = (
    re.compile(r"TCPIP\d*::[^:\s]+::(\d+)::SOCKET\Z", re.I),
    re.compile(r"TCPIP\d*::[^:\s]+(::[^:\s]+)?::INSTR\Z", re.I),
    re.compile(r"TCPIP\d*::[^:\s]+::hislip\d+(,\d+)?::INSTR\Z", re.I),
    re.compile(r"GPIB\d*::\d+(::\d+)?::INSTR\Z", re.I),
    re.compile(r"USB\d*::[^:\s]+::[^:\s]+::[^:\s]+(::\d+)?::INSTR\Z", re.I),
    re.compile(r"ASRL[^:\s]+::INSTR\Z", re.I),
)
RESOURCE_FORMS = ("TCPIP::host::port::SOCKET", "TCPIP::host::INSTR", "GPIB0::24::INSTR",
                  "USB0::vid::pid::serial::INSTR", "ASRL/dev/ttyUSB0::INSTR")

TABLES = ("station", *ROLES)

# What the writer puts beside a table or a key, so a written file explains itself.
TABLE_NOTES = {
    "pump": "SMU on the pump cell",
    "heater": "supply channel on the heater",
    "nernst": "optional: SMU (or meter) on the Nernst cell",
    "analog_out": "optional: supply channel driven with the firmware's analog output 1 (volts)",
    "trim": "optional: DMM across the sensor's trim resistor (ohms, read once at connect)",
    "pressure": "optional: DMM on an exhaust-pressure transducer's output (volts -> kPa absolute)",
}
KEY_NOTES = {
    "station.loop_hz": "controller loop rate the station can hold",
    "station.supply_equivalent_v": "the firmware's duty d maps to heater volts V = supply_equivalent_v * sqrt(d)",
    "pump.model": " | ".join(ROLE_MODELS["pump"]),
    "heater.model": " | ".join(ROLE_MODELS["heater"]),
    "nernst.model": " | ".join(ROLE_MODELS["nernst"]) + " (meter: no current, no ESR)",
    "nernst.esr_step_a": "current step for ESR; 0 disables ESR",
    "trim.model": " | ".join(ROLE_MODELS["trim"]),
    "pressure.model": " | ".join(ROLE_MODELS["pressure"]),
    "pressure.offset_v": "transducer output at 0 kPa absolute",
    "pressure.kpa_per_v": "p_kPa = (V - offset_v) * kpa_per_v",
}
NOTE_COLUMN = 29


class StationError(InputError):
    """A station file or value that cannot be used: InputError(source, field, problem, *, allowed,
    suggestions), naming the file, the field, what is allowed and the nearest valid names."""


@dataclass(frozen=True)
class RoleConfig:
    role: str
    model: str
    resource: str
    read_termination: str = DEFAULT_TERMINATION
    write_termination: str = DEFAULT_TERMINATION
    timeout_ms: int = DEFAULT_TIMEOUT_MS

    @property
    def kind(self) -> str:
        """smu, supply or meter (protocol/instrument_models.py)."""
        return MODELS[self.model].kind


@dataclass(frozen=True)
class PumpConfig(RoleConfig):
    compliance_v: float = 2.5
    current_limit_a: float = 0.01


@dataclass(frozen=True)
class HeaterConfig(RoleConfig):
    channel: int = 1
    voltage_limit_v: float = 13.0
    current_limit_a: float = 3.0


@dataclass(frozen=True)
class NernstConfig(RoleConfig):
    reference_current_a: float = 0.0
    esr_step_a: float = 0.0
    compliance_v: float = 3.0

    @property
    def is_meter(self) -> bool:
        return self.kind == "meter"

    @property
    def measures_esr(self) -> bool:
        return not self.is_meter and self.esr_step_a > 0.0


@dataclass(frozen=True)
class AnalogOutConfig(RoleConfig):
    channel: int = 1
    voltage_limit_v: float = ANALOG_OUT_MAX_V
    current_limit_a: float = 0.01


@dataclass(frozen=True)
class TrimConfig(RoleConfig):
    """A DMM across the sensor's trim resistor (connector pin 5 to pin 1), read once at connect."""


@dataclass(frozen=True)
class PressureConfig(RoleConfig):
    """A DMM on a linear exhaust-pressure transducer: p_kPa = (V - offset_v) * kpa_per_v (absolute)."""

    offset_v: float = 0.5
    kpa_per_v: float = 100.0

    def kpa(self, volts: float) -> float:
        return (volts - self.offset_v) * self.kpa_per_v


@dataclass(frozen=True)
class Station:
    name: str
    loop_hz: float
    supply_equivalent_v: float
    pump: PumpConfig
    heater: HeaterConfig
    nernst: NernstConfig | None = None
    source: str = "station"
    analog_out: AnalogOutConfig | None = None
    trim: TrimConfig | None = None       # optional roles appended after source: positional use unchanged
    pressure: PressureConfig | None = None

    def roles(self) -> dict[str, RoleConfig]:
        roles: dict[str, RoleConfig] = {"pump": self.pump, "heater": self.heater}
        if self.nernst is not None:
            roles["nernst"] = self.nernst
        if self.analog_out is not None:
            roles["analog_out"] = self.analog_out
        if self.trim is not None:
            roles["trim"] = self.trim
        if self.pressure is not None:
            roles["pressure"] = self.pressure
        return roles

    def changed(self, role: str | None = None, **values: Any) -> Station:
        """A copy with station keys (role None) or one role's keys replaced, validated again."""
        data = station_to_dict(self)
        table = data["station"] if role is None else data.setdefault(role, {})
        table.update(values)
        return station_from_dict(data, self.source)


# --- reading -----------------------------------------------------------------------------------
# Through the shared reader and validators of lambdarig.common: every refusal is a StationError
# with the file, the field, the problem, what is allowed and, for a mistyped name, the nearest.

def _integer(t: TableReader, key: str, lo: int, hi: int, default: Any) -> int:
    # 200.0 is as good as 200 for a count of milliseconds (TOML writers differ); 200.5 is not.
    return check.integer(t.value(key, default), t.at(key), lo, hi, whole_floats=True)


def _name(t: TableReader, key: str, default: Any = REQUIRED) -> str:
    value = check.text(t.value(key, default), t.at(key))
    if not value.strip():
        raise t.at(key).refuse(f"{check.show(value)} must be a non-empty string", allowed="a name in quotes")
    return value.strip()


def _termination(t: TableReader, key: str) -> str:
    value = t.value(key, DEFAULT_TERMINATION)
    if not isinstance(value, str) or value not in TERMINATIONS:
        raise t.at(key).refuse(f"{check.show(value)} is not a line termination",
                               allowed=", ".join(f'"{text}"' for text in TERMINATIONS.values()))
    return value


def _resource(t: TableReader) -> str:
    value = _name(t, "resource")
    forms = ", ".join(RESOURCE_FORMS)
    for pattern in _RESOURCE_RES:
        match = pattern.match(value)
        if match:
            if pattern is _RESOURCE_RES[0] and not 1 <= int(match.group(1)) <= 65535:
                raise t.at("resource").refuse(f"{value!r}: port must be 1 to 65535", allowed=forms)
            return value
    raise t.at("resource").refuse(f"{value!r} is not a VISA resource name opened by exact name", allowed=forms)


def _common(t: TableReader, role: str) -> dict[str, Any]:
    model = check.choice(t.value("model", requirement=", ".join(ROLE_MODELS[role])), t.at("model"),
                         ROLE_MODELS[role], what="model")
    return {"role": role, "model": model, "resource": _resource(t),
            "read_termination": _termination(t, "read_termination"),
            "write_termination": _termination(t, "write_termination"),
            "timeout_ms": _integer(t, "timeout_ms", *TIMEOUT_MS_RANGE, default=DEFAULT_TIMEOUT_MS)}


def _note(text: str) -> str:
    """What an allowed range depends on (the model, the channel), for the message."""
    return f" ({text})"


PUMP_KEYS = ("model", "resource", "read_termination", "write_termination", "timeout_ms", "compliance_v",
             "current_limit_a")
HEATER_KEYS = ("model", "resource", "channel", "read_termination", "write_termination", "timeout_ms",
               "voltage_limit_v", "current_limit_a")
NERNST_KEYS = ("model", "resource", "read_termination", "write_termination", "timeout_ms", "reference_current_a",
               "esr_step_a", "compliance_v")
ANALOG_OUT_KEYS = ("model", "resource", "channel", "read_termination", "write_termination", "timeout_ms",
                   "voltage_limit_v", "current_limit_a")
STATION_KEYS = ("name", "loop_hz", "supply_equivalent_v")
TRIM_KEYS = ("model", "resource", "read_termination", "write_termination", "timeout_ms")
PRESSURE_KEYS = (*TRIM_KEYS, "offset_v", "kpa_per_v")


def _pump(t: TableReader) -> PumpConfig:
    common = _common(t, "pump")
    model = MODELS[common["model"]]
    assert isinstance(model, SmuModel)  # ROLE_MODELS["pump"] holds SMUs only
    compliance = t.number("compliance_v", model.min_compliance_v, model.max_compliance_v, unit="V",
                          also=_note(model.key))
    limit = t.number("current_limit_a", PUMP_CURRENT_LIMIT_MIN_A, model.max_current_a, unit="A", also=_note(model.key))
    t.finish()
    return PumpConfig(**common, compliance_v=compliance, current_limit_a=limit)


def _supply_channel(t: TableReader, model: SupplyModel, what: str) -> int:
    """A positive output of the supply (the same channels as can drive a heater)."""
    channels = ", ".join(map(str, model.heater_channels))
    channel = t.value("channel", requirement=channels)
    is_number = isinstance(channel, int) and not isinstance(channel, bool)
    if is_number and channel in model.refused_channels:
        raise t.at("channel").refuse(f"{channel}: {model.refused_channels[channel]} ({model.key})", allowed=channels)
    if not is_number or channel not in model.heater_channels:
        raise t.at("channel").refuse(f"{check.show(channel)} is not a {what} channel of {model.key}",
                                     allowed=channels)
    return channel


def _analog_out(t: TableReader) -> AnalogOutConfig:
    common = _common(t, "analog_out")
    model = MODELS[common["model"]]
    assert isinstance(model, SupplyModel)  # ROLE_MODELS["analog_out"] holds supplies only
    channel = _supply_channel(t, model, "usable")
    output = model.channel(channel)
    note = _note(f"the analog output spans 0-{ANALOG_OUT_MAX_V:g} V; {model.key} channel {channel}")
    voltage = t.number("voltage_limit_v", HEATER_VOLTAGE_LIMIT_MIN_V, min(ANALOG_OUT_MAX_V, output.max_voltage_v),
                       default=min(ANALOG_OUT_MAX_V, output.max_voltage_v), unit="V", also=note)
    current = t.number("current_limit_a", HEATER_CURRENT_LIMIT_MIN_A, min(ANALOG_OUT_CURRENT_MAX_A,
                                                                          output.max_current_a),
                       default=HEATER_CURRENT_LIMIT_MIN_A, unit="A", also=_note(f"{model.key} channel {channel}"))
    t.finish()
    return AnalogOutConfig(**common, channel=channel, voltage_limit_v=voltage, current_limit_a=current)


def _heater(t: TableReader) -> HeaterConfig:
    common = _common(t, "heater")
    model = MODELS[common["model"]]
    assert isinstance(model, SupplyModel)  # ROLE_MODELS["heater"] holds supplies only
    channels = ", ".join(map(str, model.heater_channels))
    channel = t.value("channel", requirement=channels)
    is_number = isinstance(channel, int) and not isinstance(channel, bool)
    if is_number and channel in model.refused_channels:
        raise t.at("channel").refuse(f"{channel}: {model.refused_channels[channel]} ({model.key})", allowed=channels)
    if not is_number or channel not in model.heater_channels:
        raise t.at("channel").refuse(f"{check.show(channel)} is not a heater channel of {model.key}", allowed=channels)
    output = model.channel(channel)
    note = _note(f"{model.key} channel {channel}")
    voltage = t.number("voltage_limit_v", HEATER_VOLTAGE_LIMIT_MIN_V, output.max_voltage_v, unit="V", also=note)
    current = t.number("current_limit_a", HEATER_CURRENT_LIMIT_MIN_A, output.max_current_a, unit="A", also=note)
    t.finish()
    return HeaterConfig(**common, channel=channel, voltage_limit_v=voltage, current_limit_a=current)


def _nernst(t: TableReader) -> NernstConfig:
    common = _common(t, "nernst")
    model = MODELS[common["model"]]
    if isinstance(model, SmuModel):
        reference = t.number("reference_current_a", *NERNST_REFERENCE_RANGE_A, unit="A")
        step = t.number("esr_step_a", *NERNST_ESR_STEP_RANGE_A, default=0.0, unit="A",
                        also=_note("0: no ESR measurement"))
        compliance = t.number("compliance_v", model.min_compliance_v, model.max_compliance_v, unit="V",
                              also=_note(model.key))
    else:
        meter = f"{model.key} is a meter: it cannot source current"
        reference = t.number("reference_current_a", 0.0, 0.0, default=0.0, unit="A", also=_note(meter))
        step = t.number("esr_step_a", 0.0, 0.0, default=0.0, unit="A", also=_note(meter + ", so no ESR"))
        compliance = t.number("compliance_v", *METER_COMPLIANCE_RANGE_V, default=0.0, unit="V",
                              also=_note(f"not used by {model.key}"))
    t.finish()
    return NernstConfig(**common, reference_current_a=reference, esr_step_a=step, compliance_v=compliance)


def _trim(t: TableReader) -> TrimConfig:
    common = _common(t, "trim")
    t.finish()
    return TrimConfig(**common)


def _pressure(t: TableReader) -> PressureConfig:
    common = _common(t, "pressure")
    offset = t.number("offset_v", *PRESSURE_OFFSET_RANGE_V, unit="V", also=_note("the output at 0 kPa absolute"))
    scale = t.number("kpa_per_v", *PRESSURE_SCALE_RANGE_KPA_PER_V, unit="kPa/V",
                     also=_note("p_kPa = (V - offset_v) * kpa_per_v"))
    t.finish()
    return PressureConfig(**common, offset_v=offset, kpa_per_v=scale)


def station_from_dict(data: Any, source: str = "station") -> Station:
    """Validate a parsed station file (dict of tables)."""
    top = TableReader(data, source, error=StationError)
    check.known_keys(data, TABLES, Place(source, "", StationError), what="table")
    st = top.sub("station", keys=STATION_KEYS)
    default_name = Path(source).stem if source not in ("", "station") else "station"
    name = _name(st, "name", default_name)
    loop_hz = st.number("loop_hz", *LOOP_HZ_RANGE, unit="Hz")
    supply = st.number("supply_equivalent_v", *SUPPLY_EQUIVALENT_RANGE, unit="V",
                       also=_note("firmware duty d -> heater volts supply_equivalent_v * sqrt(d)"))
    st.finish()
    pump = _pump(top.sub("pump", keys=PUMP_KEYS))
    heater = _heater(top.sub("heater", keys=HEATER_KEYS))
    nernst_table = top.sub("nernst", required=False, keys=NERNST_KEYS)
    nernst = _nernst(nernst_table) if nernst_table is not None else None
    analog_table = top.sub("analog_out", required=False, keys=ANALOG_OUT_KEYS)
    analog_out = _analog_out(analog_table) if analog_table is not None else None
    trim_table = top.sub("trim", required=False, keys=TRIM_KEYS)
    trim = _trim(trim_table) if trim_table is not None else None
    pressure_table = top.sub("pressure", required=False, keys=PRESSURE_KEYS)
    pressure = _pressure(pressure_table) if pressure_table is not None else None
    top.finish()
    seen: dict[str, str] = {}
    for cfg in (pump, heater, nernst, analog_out, trim, pressure):
        if cfg is None:
            continue
        key = cfg.resource.upper()
        if key in seen:
            raise StationError(source, f"{cfg.role}.resource",
                               f"{cfg.resource!r} is already the {seen[key]} instrument; each role needs its own")
        seen[key] = cfg.role
    return Station(name=name, loop_hz=loop_hz, supply_equivalent_v=supply, pump=pump, heater=heater, nernst=nernst,
                   source=source, analog_out=analog_out, trim=trim, pressure=pressure)


def station_from_text(text: str, source: str = "station") -> Station:
    return station_from_dict(parse_toml_text(text, source, error=StationError), source)


def load_station(path: str | os.PathLike[str]) -> Station:
    """Read and validate a station file; StationError naming the file and the field otherwise."""
    return station_from_dict(read_toml_file(path, error=StationError), str(path))


# --- writing -----------------------------------------------------------------------------------

def station_to_dict(station: Station) -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = {"station": {"name": station.name, "loop_hz": station.loop_hz,
                                                  "supply_equivalent_v": station.supply_equivalent_v}}
    for role, cfg in station.roles().items():
        data[role] = {f.name: getattr(cfg, f.name) for f in fields(cfg) if f.name != "role"}
    return data


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _noted(text: str, note: str | None) -> str:
    return f"{text.ljust(NOTE_COLUMN - 1)} # {note}" if note else text


def station_to_toml(station: Station, header: str = "") -> str:
    """The station as TOML, each table and the keys that need it explained by a comment;
    `header`: lines put first as comments (who wrote the file, and why)."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for table, values in station_to_dict(station).items():
        if lines:
            lines.append("")
        lines.append(_noted(f"[{table}]", TABLE_NOTES.get(table)))
        lines += [_noted(f"{key} = {_toml_value(value)}", KEY_NOTES.get(f"{table}.{key}"))
                  for key, value in values.items()]
    return "\n".join(lines) + "\n"


def save_station(station: Station, path: str | os.PathLike[str], header: str = "", *, overwrite: bool = False,
                 at: Place | None = None, replace_hint: str = "overwrite=True") -> Path:
    """Write the station file atomically (a reader never sees half a file); returns its path.
    An existing file is replaced only with `overwrite`; a directory, a device, a missing folder or a
    place that cannot be written is refused (StationError, or `at`'s error, naming the field) and
    leaves no file behind (common/file_out.py)."""
    place = at if at is not None else Place(str(path), "file", StationError)
    return write_text_atomic(path, station_to_toml(station, header), place, overwrite=overwrite,
                             replace_hint=replace_hint)


__all__ = ["Station", "PumpConfig", "HeaterConfig", "NernstConfig", "AnalogOutConfig", "TrimConfig", "PressureConfig",
           "RoleConfig", "StationError",
           "load_station", "station_from_text", "station_from_dict", "station_to_dict", "station_to_toml",
           "save_station"]
