"""Controller settings: one schema with units, defaults and ranges; TOML in and out.

Every limit the firmware obeys is a field here. Loading validates everything before anything is
used: an unknown key, a wrong type or a value out of range raises SettingsError naming the field and
the allowed range, and nothing changes. The heater rules of the Bosch LSU 4.9 (condensation <= 2 V,
ramp start <= 8.5 V, <= 0.4 V/s, <= 13 V for <= 30 s, <= 12 V continuous) are the schema's upper
bounds, so no settings file can break them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import Any

from lambdarig.common import validators as check
from lambdarig.common.errors import InputError, nearest
from lambdarig.common.toml_file import parse_toml_text, read_toml_file
from lambdarig.common.validators import Place

SCHEMA_VERSION = 1
FUEL_CHOICES = ("gasoline", "e85", "ethanol", "methanol", "propane", "methane", "diesel", "iso-octane", "custom")
ELEMENT_CHOICES = ("lsu49", "barrier-layer", "outer-ref", "sealed-ref", "hc-mixed", "lsu42", "lsu-adv")
TEMP_SOURCES = ("ri", "ri+heater")
CAN_FORMATS = ("rusefi", "aem", "both")
HEATER_ALLOW_CHOICES = ("always", "can")
ANALOG_INPUTS = ("lambda", "afr")
ANALOG_POINTS = 8        # points per analog-output curve
ANALOG_OUTPUTS = 2


class SettingsError(InputError):
    """A settings value, file or image that cannot be used: an InputError whose source defaults to
    "settings" (hence its own argument order: field and problem first)."""

    def __init__(self, field: str, problem: str, source: str = "settings", *, allowed: str | None = None,
                 suggestions: Iterable[str] = ()):
        super().__init__(source, field, problem, allowed=allowed, suggestions=suggestions)


@dataclass(frozen=True)
class Field:
    section: str
    key: str
    default: Any
    unit: str = ""
    lo: float | None = None
    hi: float | None = None
    doc: str = ""
    choices: tuple[str, ...] | None = None
    # False: a host-side setting (a path) that the rig's binary settings image does not carry.
    in_image: bool = True
    suffix: str = ""            # a text setting that names a file: empty, or a name ending in this

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"

    def allowed(self) -> str:
        if self.choices:
            return "one of: " + ", ".join(self.choices)
        if self.suffix:
            return f"a path to a {self.suffix} file, or \"\" for none"
        if isinstance(self.default, bool):
            return "true or false"
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.lo:g} to {self.hi:g}{unit}"

    def check(self, value: Any, source: str) -> Any:
        at = Place(source, self.name, SettingsError)
        if isinstance(self.default, bool):
            return check.boolean(value, at)
        if isinstance(self.default, str):
            if self.choices:
                return check.choice(value, at, self.choices)
            value = check.text(value, at).strip()
            if self.suffix and value and not value.endswith(self.suffix):
                raise at.refuse(f"{value!r} is not a {self.suffix} file", allowed=self.allowed())
            return value
        if isinstance(self.default, int):
            lo = None if self.lo is None else int(self.lo)
            hi = None if self.hi is None else int(self.hi)
            return check.integer(value, at, lo, hi, whole_floats=True)
        return check.number(value, at, self.lo, self.hi, self.unit)


F = Field


def _analog_fields() -> list[Field]:
    """Two 0-5 V outputs, each a curve of up to ANALOG_POINTS (lambda or AFR -> volts), linear
    between its points and flat beyond them; `invalid_v` while lambda is not valid. The defaults
    are ours: output 1 lambda 0.5..1.5 -> 0..5 V, output 2 AFR 10..20 -> 0..5 V (gasoline)."""
    defaults = {1: ("lambda", (0.5, 1.5), (0.0, 5.0)), 2: ("afr", (10.0, 20.0), (0.0, 5.0))}
    fields = []
    for out in range(1, ANALOG_OUTPUTS + 1):
        quantity, xs, vs = defaults[out]
        fields += [
            F("analog", f"out{out}_input", quantity, doc=f"output {out}: the reading its curve maps to volts",
              choices=ANALOG_INPUTS),
            F("analog", f"out{out}_points", len(xs), "", 2, ANALOG_POINTS,
              f"output {out}: how many curve points are used (x1..xN, v1..vN)"),
            F("analog", f"out{out}_invalid_v", 0.0, "V", 0.0, 5.0, f"output {out}: volts while lambda is not valid"),
        ]
        for i in range(1, ANALOG_POINTS + 1):
            x = xs[i - 1] if i <= len(xs) else xs[-1] + (i - len(xs))
            v = vs[i - 1] if i <= len(vs) else vs[-1]
            fields += [F("analog", f"out{out}_x{i}", float(x), "", 0.0, 200.0,
                         f"output {out}: curve point {i}, lambda or AFR (out{out}_input); increasing"),
                       F("analog", f"out{out}_v{i}", float(v), "V", 0.0, 5.0, f"output {out}: curve point {i}, volts")]
    fields.append(F("analog", "update_hz", 100.0, "Hz", 1, 1000, "how often the outputs follow the reading"))
    return fields


ANALOG_FIELDS = tuple(_analog_fields())
SCHEMA: tuple[Field, ...] = (
    F("sensor", "element", "lsu49", doc="sensor profile (element type)", choices=ELEMENT_CHOICES),
    F("sensor", "profile_file", "", doc="a sensor profile .toml of your own (`lambdarig calibrate E --out FILE`), "
      "relative to the settings file; \"\": the built-in profile of sensor.element. Host-side: not in the rig's "
      "flash image", in_image=False, suffix=".toml"),
    F("sensor", "characteristic", "nominal",
      doc="pump-current characteristic: nominal = the data sheet's (Bosch table; the default); calibrated = the "
          "profile's gas-bench calibration against the emulator (research only)",
      choices=("calibrated", "nominal")),

    F("rates", "pump_hz", 500.0, "Hz", 50, 2000, "pump-loop rate"),
    F("rates", "heater_hz", 20.0, "Hz", 2, 100, "heater-loop and diagnostics rate"),
    F("rates", "telemetry_hz", 100.0, "Hz", 1, 1000, "telemetry rate"),

    F("supply", "on_v", 10.0, "V", 6, 16, "heating allowed once the supply is above this"),
    F("supply", "off_v", 8.5, "V", 5, 16, "heating stops below this (supply out of range)"),
    F("supply", "max_v", 16.5, "V", 12, 32, "heating stops above this (supply out of range)"),
    F("supply", "stable_s", 0.2, "s", 0, 10, "supply must stay in range this long before heating"),

    F("heater", "condensation_v", 2.0, "V", 0, 2.0, "effective heater voltage while water may be present"),
    # Bosch gives the rule (<= 2 V while water may be present) but no duration ("application-specific",
    # until the ECU sees the dew point end); 5 s is rusEFI wideband's HEATER_PREHEAT_TIME, Emtron waits 4 s
    # after engine start. A cold exhaust with water needs the ECU's heater-allow signal, not a timer.
    F("heater", "condensation_s", 5.0, "s", 0, 600,
      "condensation phase length (Bosch: application-specific; default rusEFI's 5 s preheat)"),
    F("heater", "ramp_start_v", 8.5, "V", 0, 8.5, "effective voltage at the start of the ramp"),
    F("heater", "ramp_rate_v_per_s", 0.4, "V/s", 0.01, 0.4, "ramp rate"),
    F("heater", "boost_max_v", 13.0, "V", 0, 13.0, "ramp cap, allowed for boost_max_s"),
    F("heater", "boost_max_s", 30.0, "s", 0, 30.0, "longest time above continuous_max_v"),
    F("heater", "boost_rest_s", 60.0, "s", 0, 3600, "heater rest that renews the boost allowance"),
    F("heater", "continuous_max_v", 12.0, "V", 0, 12.0, "cap in closed loop and after the boost time"),
    F("heater", "target_temp_c", 780.0, "°C", 600, 900, "cell temperature set-point"),
    F("heater", "closed_loop_margin_c", 30.0, "°C", 5, 200, "closed loop starts at target minus this"),
    F("heater", "kp_v_per_k", 0.6, "V/K", 0, 5, "temperature loop proportional gain"),
    F("heater", "ki_v_per_k_s", 1.0, "V/(K·s)", 0, 5, "temperature loop integral gain"),
    F("heater", "kd_v_s_per_k", 0.0, "V·s/K", 0, 5, "temperature loop derivative gain (on the measurement)"),
    F("heater", "integral_limit_v", 4.0, "V", 0, 12, "anti-windup clamp of the integral term"),
    F("heater", "feedforward_v", 7.5, "V", 0, 12, "voltage that holds the target in still air"),
    F("heater", "temp_filter_s", 0.05, "s", 0, 5, "filter time constant of the Ri temperature"),
    F("heater", "temp_source", "ri", doc="temperature signal: Ri alone or Ri fused with heater resistance",
      choices=TEMP_SOURCES),
    F("heater", "warm_skip_c", 400.0, "°C", 100, 700, "a cell already this hot skips the condensation phase"),
    F("heater", "heat_timeout_s", 30.0, "s", 5, 120, "did-not-heat: no closed loop this long after the ramp starts"),
    F("heater", "overtemp_margin_c", 80.0, "°C", 10, 300, "over-temperature fault above target plus this"),
    F("heater", "undertemp_margin_c", 100.0, "°C", 10, 400, "under-temperature in closed loop below target minus this"),

    F("pump", "nernst_target_v", 0.45, "V", 0.1, 0.9, "Nernst-cell set-point"),
    F("pump", "kp_a_per_v", 0.01, "A/V", 0, 1, "pump loop proportional gain"),
    F("pump", "ki_a_per_v_s", 1.0, "A/(V·s)", 0, 1000, "pump loop integral gain"),
    F("pump", "current_min_a", -9e-3, "A", -10e-3, 0, "most negative pump current (rich limit)"),
    F("pump", "current_max_a", 6e-3, "A", 0, 10e-3, "most positive pump current (lean limit)"),
    F("pump", "max_step_gain", 0.3, "", 0.01, 1.0,
      "cap on kp x plant gain x loop period: keeps the loop stable when a front end runs it slowly"),
    F("pump", "enable_margin_c", 150.0, "°C", 0, 400, "pump loop runs above target minus this"),

    F("conversion", "fuel", "gasoline", doc="fuel for AFR and lambda", choices=FUEL_CHOICES),
    F("conversion", "custom_h_c", 1.85, "", 0, 10, "H/C of a custom fuel"),
    F("conversion", "custom_o_c", 0.0, "", 0, 2, "O/C of a custom fuel"),
    F("conversion", "exhaust_pressure_kpa", 101.325, "kPa", 20, 400, "exhaust pressure at the sensor"),
    F("conversion", "pressure_compensation", True, doc="compensate the pump current for exhaust pressure"),
    F("conversion", "lambda_filter_s", 0.15, "s", 0, 2, "filter time constant of the reported lambda at rest"),
    F("conversion", "lambda_fast_filter_s", 0.004, "s", 0, 1, "filter time constant while the gas is changing"),
    F("conversion", "lambda_step_a", 60e-6, "A", 1e-6, 1e-3, "pump-current change that counts as the gas changing"),
    F("conversion", "lambda_fast_hold_s", 0.15, "s", 0, 2, "how long the fast filter stays after a change"),
    F("conversion", "valid_margin_c", 100.0, "°C", 5, 300, "lambda valid above target minus this"),
    F("conversion", "valid_settle_s", 0.3, "s", 0, 10, "lambda valid only once the pump loop has run this long"),
    F("conversion", "valid_nernst_window_v", 0.08, "V", 0.01, 0.5,
      "lambda valid while the Nernst error is within this"),

    F("hc", "target_o2_pct", 5.0, "%", 1.0, 15.0,
      "compartment O2 the pump loop holds (mixed-potential HC sensors; >= lambda 1.3 equivalent)"),
    F("hc", "control_offset_mv", 0.0, "mV", -50.0, 50.0,
      "control-cell reading in free air with no pump current (board and cell offset; from calibration)"),
    # The HC curve (controller/hc_curve.py): dV = E100(T) + b(T) log10(c / 100 ppm), the log-linear form
    # of the mixed-potential literature. No default curve: only a gas-bench calibration sets these.
    F("hc", "calibrated", False,
      doc="HC curve: set by a gas-bench calibration; false = no HC reading (no default curve)"),
    F("hc", "e100_mv", 0.0, "mV", -500.0, 500.0,
      "HC curve: measuring minus control cell at 100 ppm HC, at hc.ref_temp_c"),
    F("hc", "slope_mv_per_decade", -50.0, "mV/decade", -300.0, -1.0,
      "HC curve: change of that voltage per decade of HC, at hc.ref_temp_c (negative)"),
    F("hc", "e100_temp_mv_per_k", 0.0, "mV/K", -10.0, 10.0, "HC curve: change of e100 per kelvin of cell temperature"),
    F("hc", "slope_temp_mv_per_decade_k", 0.0, "mV/(decade·K)", -10.0, 10.0,
      "HC curve: change of the slope per kelvin of cell temperature"),
    F("hc", "ref_temp_c", 650.0, "°C", 300.0, 900.0, "HC curve: cell temperature of the calibration"),
    F("hc", "min_ppm", 100.0, "ppm", 1.0, 10000.0,
      "HC curve: lowest calibrated level (readings below half of it report 0)"),
    F("hc", "max_ppm", 2000.0, "ppm", 1.0, 100000.0, "HC curve: highest calibrated level (above it: extrapolated)"),

    F("diagnostics", "persist_s", 0.15, "s", 0, 5,
      "a fault condition must gather this much evidence (seconds present, counted up and down) to become a fault"),
    F("diagnostics", "count_up_rate", 1.0, "s/s", 0.1, 10,
      "fault evidence gained per second a fault condition is present"),
    F("diagnostics", "count_down_rate", 0.25, "s/s", 0, 10,
      "fault evidence lost per second a fault condition is absent: below count_up_rate, so a line that "
      "chatters (0.1 s on, 0.1 s off) adds up to a fault; above 0, so rare glitches drain away"),
    F("diagnostics", "invalid_signal_s", 0.5, "s", 0.05, 10,
      "signal invalid: the supply or Nernst reading not a number (NaN, inf) for this long is a fault"),
    F("diagnostics", "retry_s", 2.0, "s", 0.1, 600, "wait before retrying after a recoverable fault"),
    F("diagnostics", "max_retries", 5, "", 0, 100, "retries before a recoverable fault latches"),
    F("diagnostics", "heater_open_max_a", 0.05, "A", 0, 2, "heater open: current below this while driven"),
    F("diagnostics", "heater_short_max_ohm", 1.0, "Ω", 0, 10, "heater short: terminal resistance below this"),
    F("diagnostics", "heater_min_duty", 0.02, "", 0, 1, "heater checks need at least this duty"),
    F("diagnostics", "pump_mismatch_a", 80e-6, "A", 1e-6, 5e-3,
      "pump line open: measured current off the command by more"),
    F("diagnostics", "pump_rail_v", 2.3, "V", 0.5, 20, "pump line open: driver at or beyond this with no current"),
    F("diagnostics", "nernst_open_v", 1.1, "V", 0.5, 3, "Nernst line open: reading at or above this when hot"),
    F("diagnostics", "heater_temp_margin_c", 60.0, "°C", 0, 300,
      "the heater track may run this much hotter than the cell before its resistance signals overtemp"),
    F("diagnostics", "nernst_open_heater_c", 650.0, "°C", 300, 900,
      "Nernst line open during warm-up: heater this hot (by its resistance) while the ESR still reads open"),
    F("diagnostics", "nernst_open_ohm", 20000.0, "Ω", 1000, 1e7, "Nernst line open: ESR above this when hot"),
    F("diagnostics", "saturation_s", 0.5, "s", 0.05, 10, "pump saturation: current at a limit this long"),
    F("diagnostics", "nernst_range_v", 0.15, "V", 0.02, 1, "Nernst out of range: error beyond this in closed loop"),

    # CAN output and the ECU's heater allow (docs/can.md); the bus itself is the run's --can URL.
    F("can", "format", "rusefi", doc="frames sent on --can: rusEFI wideband, AEM X-Series UEGO, or both",
      choices=CAN_FORMATS),
    F("can", "index", 0, "", 0, 15, "sensor index: rusEFI ids 0x190 + 2 x index, AEM id 0x180 + index"),
    F("can", "period_s", 0.01, "s", 0.005, 1.0, "interval between frames (rusEFI and AEM send every 10 ms)"),
    F("can", "heater_allow", "always", doc="heating allowed always, or only while the ECU's status frame says so",
      choices=HEATER_ALLOW_CHOICES),
    F("can", "heater_allow_timeout_s", 0.25, "s", 0.02, 5.0,
      "with heater_allow = can: no ECU status frame this long withdraws the allow (rusEFI: 250 ms)"),
    *ANALOG_FIELDS,
    # --- issue 11 (what a real controller can know): appended so existing images keep their order.
    F("sensor", "use_trim", True,
      doc="apply the sensor's trim resistor when the front end measures one (no effect when it does not)"),
    F("conversion", "rich_fuel_correction", True,
      doc="scale the rich characteristic (taken with gasoline) to the configured fuel by H2/CO diffusion"),
    F("conversion", "span_correction", 1.0, "", 0.8, 1.25,
      "free-air calibration: pump-current scale (expected / measured air current; 1 = none); "
      "written by `lambdarig calibrate --free-air`"),
    F("diagnostics", "overheat_margin_c", 100.0, "°C", 20, 400,
      "overheat: cell above target plus this while the heater is off (rusEFI wideband: 100 °C above target)"),
    F("diagnostics", "overheat_s", 0.5, "s", 0.05, 10,
      "overheat: that condition this long (the exhaust, not the heater, heats the element) before it is reported"),
    F("conversion", "live_pressure", True,
      doc="compensate with the front end's exhaust-pressure input when it has one (else exhaust_pressure_kpa)"),
    F("conversion", "pressure_filter_s", 0.1, "s", 0, 5, "filter time constant of the live exhaust pressure"),
    F("conversion", "pressure_k_kpa", 0.0, "kPa", 0, 2000,
      "this unit's pore pressure constant k (0 = the profile's assumed one); written by "
      "`lambdarig calibrate --free-air --pressure-kpa P` in air at a second known pressure"),
)
FIELDS: MappingProxyType = MappingProxyType({f.name: f for f in SCHEMA})
SECTIONS = tuple(dict.fromkeys(f.section for f in SCHEMA))


class Section(SimpleNamespace):
    """One settings section: read-only attributes (the schema's bounds cannot be bypassed)."""

    __slots__ = ()

    def __setattr__(self, name, value):
        raise AttributeError("Settings are immutable; use Settings.changed()")

    def __delattr__(self, name):
        raise AttributeError("Settings are immutable; use Settings.changed()")


class Settings:
    """Validated settings. Read as `settings.heater.target_temp_c`; immutable; `changed()` copies."""

    # Set once in __init__: the values by dotted name, and one namespace per section (SECTIONS).
    _values: MappingProxyType[str, Any]
    sensor: Section
    rates: Section
    supply: Section
    heater: Section
    pump: Section
    conversion: Section
    hc: Section
    diagnostics: Section
    can: Section
    analog: Section

    def __init__(self, values: dict[str, Any] | None = None, source: str = "settings"):
        merged = {f.name: f.default for f in SCHEMA}
        for name, value in (values or {}).items():
            if name not in FIELDS:
                raise _unknown_setting(name, source)
            merged[name] = FIELDS[name].check(value, source)
        _check_relations(merged, source)
        object.__setattr__(self, "_values", MappingProxyType(merged))
        for section in SECTIONS:
            space = Section(**{f.key: merged[f.name] for f in SCHEMA if f.section == section})
            object.__setattr__(self, section, space)

    def __setattr__(self, name, value):
        raise AttributeError("Settings are immutable; use changed()")

    def __delattr__(self, name):
        raise AttributeError("Settings are immutable; use changed()")

    def get(self, name: str) -> Any:
        return self._values[name]

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def changed(self, **updates: Any) -> Settings:
        """A copy with `section__key=value` updates (double underscore for the dot)."""
        values = dict(self._values)
        values.update({name.replace("__", "."): value for name, value in updates.items()})
        return Settings(values)

    def __eq__(self, other) -> bool:
        return isinstance(other, Settings) and self._values == other._values

    def to_toml(self) -> str:
        lines = ["# lambdarig controller settings", f"schema_version = {SCHEMA_VERSION}", ""]
        for section in SECTIONS:
            lines.append(f"[{section}]")
            for f in (f for f in SCHEMA if f.section == section):
                lines.append(f"{f.key} = {_toml_value(self._values[f.name])}  # {f.doc}; {f.allowed()}")
            lines.append("")
        return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _check_relations(values: dict[str, Any], source: str) -> None:
    def need(condition: bool, field: str, problem: str) -> None:
        if not condition:
            raise SettingsError(field, problem, source)

    need(values["supply.off_v"] < values["supply.on_v"], "supply.off_v",
         f"{values['supply.off_v']:g} V must be below supply.on_v ({values['supply.on_v']:g} V)")
    need(values["supply.on_v"] < values["supply.max_v"], "supply.max_v",
         f"{values['supply.max_v']:g} V must be above supply.on_v ({values['supply.on_v']:g} V)")
    need(values["heater.continuous_max_v"] <= values["heater.boost_max_v"], "heater.continuous_max_v",
         f"must not exceed heater.boost_max_v ({values['heater.boost_max_v']:g} V)")
    need(values["heater.ramp_start_v"] <= values["heater.boost_max_v"], "heater.ramp_start_v",
         f"must not exceed heater.boost_max_v ({values['heater.boost_max_v']:g} V)")
    need(values["heater.feedforward_v"] <= values["heater.continuous_max_v"], "heater.feedforward_v",
         f"must not exceed heater.continuous_max_v ({values['heater.continuous_max_v']:g} V)")
    need(values["diagnostics.count_down_rate"] < values["diagnostics.count_up_rate"], "diagnostics.count_down_rate",
         f"{values['diagnostics.count_down_rate']:g} s/s must be below diagnostics.count_up_rate "
         f"({values['diagnostics.count_up_rate']:g} s/s), or a fault that chatters at half duty never adds up")
    # The same rule as the emulator's fuels (a fuel needs oxygen to burn: 1 + h_c/4 - o_c/2 > 0), so a
    # custom fuel `element --fuel` refuses is refused here too.
    o2_per_carbon = 1.0 + values["conversion.custom_h_c"] / 4.0 - values["conversion.custom_o_c"] / 2.0
    need(o2_per_carbon > 0.0, "conversion.custom_o_c",
         f"{values['conversion.custom_o_c']:g} with conversion.custom_h_c = {values['conversion.custom_h_c']:g} "
         "leaves the custom fuel nothing to burn (needs 1 + custom_h_c/4 - custom_o_c/2 > 0)")
    for out in range(1, ANALOG_OUTPUTS + 1):
        used = values[f"analog.out{out}_points"]
        for i in range(2, used + 1):
            lo_x, x = values[f"analog.out{out}_x{i - 1}"], values[f"analog.out{out}_x{i}"]
            need(x > lo_x, f"analog.out{out}_x{i}",
                 f"{x:g} must be above analog.out{out}_x{i - 1} ({lo_x:g}): a curve's points increase")
    need(values["pump.enable_margin_c"] >= values["conversion.valid_margin_c"], "pump.enable_margin_c",
         "the pump loop must start no later than lambda becomes valid "
         f"(>= conversion.valid_margin_c, {values['conversion.valid_margin_c']:g} °C)")
    need(values["hc.max_ppm"] > values["hc.min_ppm"], "hc.max_ppm",
         f"{values['hc.max_ppm']:g} must be above hc.min_ppm ({values['hc.min_ppm']:g}): the calibrated range")


def _unknown_setting(name: Any, source: str) -> SettingsError:
    section, _, key = str(name).partition(".")
    if section in SECTIONS:
        keys = [f.key for f in SCHEMA if f.section == section]
        return SettingsError(str(name), "unknown setting", source, allowed=", ".join(keys),
                             suggestions=[f"{section}.{k}" for k in nearest(key, keys)])
    same_key = [f"{near}.{key}" for near in nearest(section, SECTIONS) if f"{near}.{key}" in FIELDS]
    return SettingsError(str(name), f"unknown setting: no section {section!r}", source,
                         allowed="section.key with section one of: " + ", ".join(SECTIONS),
                         suggestions=same_key or nearest(str(name), FIELDS))


def _values_from_document(data: dict[str, Any], source: str) -> dict[str, Any]:
    """The document's settings as {"section.key": value}, names and the schema version checked;
    the values themselves are checked when they become Settings."""
    top = Place(source, "", SettingsError)
    version = data.pop("schema_version", SCHEMA_VERSION)
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        raise top.key("schema_version").refuse(f"{check.show(version)} is not supported",
                                               allowed=str(SCHEMA_VERSION))
    values: dict[str, Any] = {}
    for section, table in data.items():
        if section not in SECTIONS:
            if isinstance(table, dict):
                raise top.key(section).refuse("unknown section", allowed=", ".join(SECTIONS),
                                              suggestions=nearest(section, SECTIONS))
            # A key written above every [section] header: point at where it belongs.
            all_keys = {f.key for f in SCHEMA}
            close_keys = (section,) if section in all_keys else nearest(section, all_keys)
            raise top.key(section).refuse("unknown key outside any section (settings live in [section] tables)",
                                          allowed="schema_version, or a section: " + ", ".join(SECTIONS),
                                          suggestions=[f.name for f in SCHEMA if f.key in close_keys][:3])
        keys = [f.key for f in SCHEMA if f.section == section]
        check.known_keys(check.table(table, top.key(section)), keys, top.key(section), what="setting")
        for key, value in table.items():
            values[f"{section}.{key}"] = value
    return values


def settings_from_toml_text(text: str, source: str = "settings") -> Settings:
    return Settings(_values_from_document(parse_toml_text(text, source, error=SettingsError), source), source)


def load_settings(path: str | Path) -> Settings:
    """Settings from a TOML file on top of the schema's defaults; SettingsError naming the file and
    field for anything wrong."""
    return Settings(load_settings_changes(path), str(path))


def load_settings_changes(path: str | Path) -> dict[str, Any]:
    """What a settings file sets, as {"section.key": value} (names checked, values checked when they
    become Settings): a file lists only what it changes, on top of whichever defaults the caller
    chooses (an element's recommended settings)."""
    values = _values_from_document(read_toml_file(path, error=SettingsError), str(path))
    profile = values.get(PROFILE_FILE)
    if isinstance(profile, str) and profile.strip():
        values[PROFILE_FILE] = _profile_path(profile.strip(), Path(path), str(path))
    return values


PROFILE_FILE = "sensor.profile_file"


def _profile_path(text: str, settings_path: Path, source: str) -> str:
    """sensor.profile_file resolved against the settings file's folder; SettingsError if no such file."""
    given = Path(text).expanduser()
    resolved = given if given.is_absolute() else settings_path.parent / given
    if not text.endswith(".toml"):
        return text                      # Field.check refuses it with the allowed form
    if not resolved.is_file():
        raise SettingsError(PROFILE_FILE, f"{text!r}: no such file ({resolved})", source,
                            allowed="a path to a profile .toml (relative to the settings file), or \"\"")
    return str(resolved)


def save_settings(settings: Settings, path: str | Path) -> None:
    Path(path).write_text(settings.to_toml())
