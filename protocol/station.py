"""Station files: which lab instrument plays which role (pump SMU, heater supply, optional Nernst
SMU or meter), where it is, how to talk to it, and its safety limits.

    station = load_station("station.toml")      # StationError (a ValueError) on anything wrong
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

import math
import os
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

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
DEFAULT_TIMEOUT_MS = 500
DEFAULT_TERMINATION = "\n"

REQUIRED = object()

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
}
KEY_NOTES = {
    "station.loop_hz": "controller loop rate the station can hold",
    "station.supply_equivalent_v": "the firmware's duty d maps to heater volts V = supply_equivalent_v * sqrt(d)",
    "pump.model": " | ".join(ROLE_MODELS["pump"]),
    "heater.model": " | ".join(ROLE_MODELS["heater"]),
    "nernst.model": " | ".join(ROLE_MODELS["nernst"]) + " (meter: no current, no ESR)",
    "nernst.esr_step_a": "current step for ESR; 0 disables ESR",
}
NOTE_COLUMN = 29


class StationError(ValueError):
    """A station file or value that cannot be used; names the file, the field and what is allowed."""

    def __init__(self, source: str, field: str, problem: str):
        self.source = source
        self.field = field
        self.problem = problem
        super().__init__(f"{source}: {field}: {problem}")


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
class Station:
    name: str
    loop_hz: float
    supply_equivalent_v: float
    pump: PumpConfig
    heater: HeaterConfig
    nernst: NernstConfig | None = None
    source: str = "station"

    def roles(self) -> dict[str, RoleConfig]:
        roles: dict[str, RoleConfig] = {"pump": self.pump, "heater": self.heater}
        if self.nernst is not None:
            roles["nernst"] = self.nernst
        return roles

    def changed(self, role: str | None = None, **values: Any) -> Station:
        """A copy with station keys (role None) or one role's keys replaced, validated again."""
        data = station_to_dict(self)
        table = data["station"] if role is None else data.setdefault(role, {})
        table.update(values)
        return station_from_dict(data, self.source)


# --- reading tables ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Span:
    """A closed range and its unit, as an error message states it."""

    lo: float
    hi: float
    unit: str = ""

    def text(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.lo:g} to {self.hi:g}{unit}"


class _Table:
    """Takes typed values out of one TOML table; `finish()` refuses keys not taken."""

    def __init__(self, data: Any, name: str, source: str):
        if not isinstance(data, dict):
            raise StationError(source, name, "must be a table")
        self.data = data
        self.name = name
        self.source = source
        self.taken: set[str] = set()

    def field(self, key: str) -> str:
        return f"{self.name}.{key}"

    def bad(self, key: str, problem: str) -> StationError:
        return StationError(self.source, self.field(key), problem)

    def raw(self, key: str, default: Any = REQUIRED) -> Any:
        self.taken.add(key)
        if key not in self.data:
            if default is REQUIRED:
                raise self.bad(key, "is required")
            return default
        return self.data[key]

    def number(self, key: str, rng: _Span, default: Any = REQUIRED, note: str = "") -> float:
        value = self.raw(key, default)
        note = f" ({note})" if note else ""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.bad(key, f"{value!r} is not a number; allowed range {rng.text()}{note}")
        if not rng.lo <= value <= rng.hi:
            raise self.bad(key, f"{value:g} is outside the allowed range {rng.text()}{note}")
        return float(value)

    def integer(self, key: str, lo: int, hi: int, default: Any = REQUIRED, unit: str = "") -> int:
        value = self.raw(key, default)
        unit = f" {unit}" if unit else ""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value != int(value):
            raise self.bad(key, f"{value!r} is not a whole number; allowed range {lo} to {hi}{unit}")
        if not lo <= value <= hi:
            raise self.bad(key, f"{value:g} is outside the allowed range {lo} to {hi}{unit}")
        return int(value)

    def choice(self, key: str, choices: tuple[str, ...], default: Any = REQUIRED) -> str:
        value = self.raw(key, default)
        if not isinstance(value, str) or value not in choices:
            raise self.bad(key, f"{value!r} is not one of: {', '.join(choices)}")
        return value

    def text(self, key: str, default: Any = REQUIRED) -> str:
        value = self.raw(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.bad(key, f"{value!r} must be a non-empty string")
        return value.strip()

    def termination(self, key: str) -> str:
        value = self.raw(key, DEFAULT_TERMINATION)
        if not isinstance(value, str) or value not in TERMINATIONS:
            raise self.bad(key, f"{value!r} is not one of: " + ", ".join(f'"{t}"' for t in TERMINATIONS.values()))
        return value

    def finish(self, known_hint: tuple[str, ...] | None = None) -> None:
        unknown = [k for k in self.data if k not in self.taken]
        if unknown:
            known = known_hint or tuple(sorted(self.taken))
            raise self.bad(unknown[0], f"unknown key; known keys of [{self.name}]: {', '.join(known)}")


def _resource(table: _Table) -> str:
    value = table.text("resource")
    for pattern in _RESOURCE_RES:
        match = pattern.match(value)
        if match:
            if pattern is _RESOURCE_RES[0] and not 1 <= int(match.group(1)) <= 65535:
                raise table.bad("resource", f"{value!r}: port must be 1 to 65535")
            return value
    raise table.bad("resource", f"{value!r} is not a VISA resource name opened by exact name; forms: "
                                + ", ".join(RESOURCE_FORMS))


def _common(table: _Table, role: str) -> dict[str, Any]:
    model = table.choice("model", ROLE_MODELS[role])
    return {"role": role, "model": model, "resource": _resource(table),
            "read_termination": table.termination("read_termination"),
            "write_termination": table.termination("write_termination"),
            "timeout_ms": table.integer("timeout_ms", *TIMEOUT_MS_RANGE, default=DEFAULT_TIMEOUT_MS, unit="ms")}


def _compliance_span(model: SmuModel) -> _Span:
    return _Span(model.min_compliance_v, model.max_compliance_v, "V")


PUMP_KEYS = ("model", "resource", "read_termination", "write_termination", "timeout_ms", "compliance_v",
             "current_limit_a")
HEATER_KEYS = ("model", "resource", "channel", "read_termination", "write_termination", "timeout_ms",
               "voltage_limit_v", "current_limit_a")
NERNST_KEYS = ("model", "resource", "read_termination", "write_termination", "timeout_ms", "reference_current_a",
               "esr_step_a", "compliance_v")
STATION_KEYS = ("name", "loop_hz", "supply_equivalent_v")


def _pump(data: Any, source: str) -> PumpConfig:
    t = _Table(data, "pump", source)
    common = _common(t, "pump")
    model = MODELS[common["model"]]
    assert isinstance(model, SmuModel)  # ROLE_MODELS["pump"] holds SMUs only
    compliance = t.number("compliance_v", _compliance_span(model), note=model.key)
    limit = t.number("current_limit_a", _Span(PUMP_CURRENT_LIMIT_MIN_A, model.max_current_a, "A"), note=model.key)
    t.finish(PUMP_KEYS)
    return PumpConfig(**common, compliance_v=compliance, current_limit_a=limit)


def _heater(data: Any, source: str) -> HeaterConfig:
    t = _Table(data, "heater", source)
    common = _common(t, "heater")
    model = MODELS[common["model"]]
    assert isinstance(model, SupplyModel)  # ROLE_MODELS["heater"] holds supplies only
    channel = t.raw("channel")
    is_number = isinstance(channel, int) and not isinstance(channel, bool)
    if is_number and channel in model.refused_channels:
        raise t.bad("channel", f"{channel}: {model.refused_channels[channel]} ({model.key})")
    if not is_number or channel not in model.heater_channels:
        raise t.bad("channel", f"{channel!r} is not one of: {', '.join(map(str, model.heater_channels))} "
                               f"({model.key})")
    output = model.channel(channel)
    note = f"{model.key} channel {channel}"
    voltage = t.number("voltage_limit_v", _Span(HEATER_VOLTAGE_LIMIT_MIN_V, output.max_voltage_v, "V"), note=note)
    current = t.number("current_limit_a", _Span(HEATER_CURRENT_LIMIT_MIN_A, output.max_current_a, "A"), note=note)
    t.finish(HEATER_KEYS)
    return HeaterConfig(**common, channel=channel, voltage_limit_v=voltage, current_limit_a=current)


def _nernst(data: Any, source: str) -> NernstConfig:
    t = _Table(data, "nernst", source)
    common = _common(t, "nernst")
    model = MODELS[common["model"]]
    if isinstance(model, SmuModel):
        reference = t.number("reference_current_a", _Span(*NERNST_REFERENCE_RANGE_A, "A"))
        step = t.number("esr_step_a", _Span(*NERNST_ESR_STEP_RANGE_A, "A"), default=0.0,
                        note="0: no ESR measurement")
        compliance = t.number("compliance_v", _compliance_span(model), note=model.key)
    else:
        zero = _Span(0.0, 0.0, "A")
        note = f"{model.key} is a meter: it cannot source current"
        reference = t.number("reference_current_a", zero, default=0.0, note=note)
        step = t.number("esr_step_a", zero, default=0.0, note=note + ", so no ESR")
        compliance = t.number("compliance_v", _Span(*METER_COMPLIANCE_RANGE_V, "V"), default=0.0,
                              note=f"not used by {model.key}")
    t.finish(NERNST_KEYS)
    return NernstConfig(**common, reference_current_a=reference, esr_step_a=step, compliance_v=compliance)


def station_from_dict(data: Any, source: str = "station") -> Station:
    """Validate a parsed station file (dict of tables)."""
    if not isinstance(data, dict):
        raise StationError(source, "file", "must be a TOML document of tables")
    for key in data:
        if key not in TABLES:
            raise StationError(source, key, f"unknown table; known tables: {', '.join(TABLES)}")
    if "station" not in data:
        raise StationError(source, "station", "table is required")
    st = _Table(data["station"], "station", source)
    default_name = Path(source).stem if source not in ("", "station") else "station"
    name = st.text("name", default_name)
    loop_hz = st.number("loop_hz", _Span(*LOOP_HZ_RANGE, "Hz"))
    supply = st.number("supply_equivalent_v", _Span(*SUPPLY_EQUIVALENT_RANGE, "V"),
                       note="firmware duty d -> heater volts supply_equivalent_v * sqrt(d)")
    st.finish(STATION_KEYS)
    for role in ("pump", "heater"):
        if role not in data:
            raise StationError(source, role, "table is required")
    pump = _pump(data["pump"], source)
    heater = _heater(data["heater"], source)
    nernst = _nernst(data["nernst"], source) if "nernst" in data else None
    seen: dict[str, str] = {}
    for cfg in (pump, heater, nernst):
        if cfg is None:
            continue
        key = cfg.resource.upper()
        if key in seen:
            raise StationError(source, f"{cfg.role}.resource",
                               f"{cfg.resource!r} is already the {seen[key]} instrument; each role needs its own")
        seen[key] = cfg.role
    return Station(name=name, loop_hz=loop_hz, supply_equivalent_v=supply, pump=pump, heater=heater, nernst=nernst,
                   source=source)


def station_from_text(text: str, source: str = "station") -> Station:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StationError(source, "file", f"not valid TOML: {exc}") from None
    return station_from_dict(data, source)


def load_station(path: str | os.PathLike[str]) -> Station:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StationError(str(path), "file", f"cannot read: {exc.strerror or exc}") from None
    return station_from_text(text, str(path))


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


def save_station(station: Station, path: str | os.PathLike[str], header: str = "") -> Path:
    """Write the station file atomically (a reader never sees half a file); returns its path."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(station_to_toml(station, header), encoding="utf-8")
    os.replace(tmp, target)
    return target


__all__ = ["Station", "PumpConfig", "HeaterConfig", "NernstConfig", "RoleConfig", "StationError", "load_station",
           "station_from_text", "station_from_dict", "station_to_dict", "station_to_toml", "save_station"]
