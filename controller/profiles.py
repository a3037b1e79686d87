"""Sensor profiles: per-sensor-type data the firmware needs (ESR -> temperature, the pump-current
characteristic, air current, heater data). Files in controller/profile_data/NAME.toml.

A profile is the firmware's own knowledge of a sensor type, taken from data sheets or from a
gas-bench calibration; it never reads the emulator.
"""

from __future__ import annotations

import math
import tomllib
from bisect import bisect_left
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .settings import Settings, SettingsError

# The estimate's floor: an ESR beyond the table (a cold cell) reads this; displays say "cold".
TEMP_FLOOR_C = -40.0


@dataclass(frozen=True)
class SensorProfile:
    name: str
    description: str
    nernst_target_v: float
    ri_target_ohm: float
    esr_ohm: tuple[float, ...]          # ascending
    esr_temp_c: tuple[float, ...]       # matching, descending
    ip_air_a: float
    pressure_k_kpa: float
    heater_r_cold_ohm: float
    heater_alpha_per_k: float
    char_ip_a: tuple[float, ...]        # ascending, ends at or above 0
    char_lambda: tuple[float, ...]
    temp_exponent: float = 0.0          # Ip ∝ T^x at fixed gas (mixed diffusion); 0: no compensation
    reference_temp_c: float = 780.0     # the cell temperature the characteristic holds at
    calibrated: bool = False            # True: characteristic from a gas-bench calibration
    mode: str = "wideband"              # wideband | potentiometric | hc
    reference_buffer: tuple[float, float, float] | None = None  # potentiometric: muO2 = a + bT + cT ln T
    hc_target_o2: float = 0.05          # hc: compartment O2 (mole fraction) the pump loop holds
    pump_plant_v_per_as: float = 6000.0  # Nernst slew per amp of pump imbalance near the set-point
    source: str = ""

    def temp_from_esr(self, esr_ohm: float) -> float:
        """Cell temperature from ESR: interpolation in ln(R), where the law is near linear in 1/T.
        Beyond the table the end segments are extrapolated (a cold cell must read cold, a hot one
        hot), clamped to -40..1300 °C; NaN stays NaN."""
        if esr_ohm != esr_ohm or esr_ohm <= 0.0:
            return math.nan
        table = self.esr_ohm
        i = bisect_left(table, esr_ohm)
        if i == 0:
            i = 1
        elif i == len(table):
            i = len(table) - 1
        r0, r1 = table[i - 1], table[i]
        t0, t1 = self.esr_temp_c[i - 1], self.esr_temp_c[i]
        temp_c = t0 + (t1 - t0) * math.log(esr_ohm / r0) / math.log(r1 / r0)
        return TEMP_FLOOR_C if temp_c < TEMP_FLOOR_C else 1300.0 if temp_c > 1300.0 else temp_c

    def esr_at(self, temp_c: float) -> float:
        """ESR expected at a temperature: the exact inverse of temp_from_esr, including its
        extrapolation beyond the table."""
        temps = self.esr_temp_c
        i = 1
        while i < len(temps) - 1 and temp_c < temps[i]:
            i += 1
        r0, r1 = self.esr_ohm[i - 1], self.esr_ohm[i]
        w = (temp_c - temps[i - 1]) / (temps[i] - temps[i - 1])
        return r0 * (r1 / r0) ** w

    def heater_temp_from_resistance(self, resistance_ohm: float) -> float:
        """Heater-track temperature from its terminal resistance (linear TCR, data-sheet values)."""
        return 20.0 + (resistance_ohm / self.heater_r_cold_ohm - 1.0) / self.heater_alpha_per_k


def _profile_dir() -> Path:
    return Path(str(resources.files("lambdarig.controller.profile_data")))


def profile_names() -> list[str]:
    return sorted(p.stem for p in _profile_dir().glob("*.toml"))


# A straight line through (-1 mA, 0.8) and (0, 1.0): lets a profile without any characteristic run
# its loops on a gas bench, which is how its characteristic is obtained. Never used for readings.
BENCH_PLACEHOLDER = {"ip_a": [-1e-3, 0.0], "lambda": [0.8, 1.0]}
MODES = ("wideband", "potentiometric", "hc")


def load_profile(name_or_path: str, calibrated: bool = True, for_bench: bool = False) -> SensorProfile:
    """Load a profile. With `calibrated`, a [calibration] section (from `lambdarig calibrate`)
    replaces the nominal characteristic, air current, pressure constant and adds the temperature
    exponent; without one the nominal data sheet values are used."""
    path = Path(name_or_path)
    if not (path.suffix == ".toml" and path.exists()):
        path = _profile_dir() / f"{name_or_path}.toml"
    if not path.exists():
        raise SettingsError("sensor.element",
                            f"no sensor profile {name_or_path!r}; known: {', '.join(profile_names())}")
    source = str(path)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError("file", f"not valid TOML: {exc}", source) from None
    try:
        mode = data.get("mode", "wideband")
        if mode not in MODES:
            raise SettingsError("mode", f"{mode!r} is not one of: {', '.join(MODES)}", source)
        char = data.get("characteristic", {})
        cal = data.get("calibration") if calibrated else None
        if cal is None and "ip_a" not in char and not for_bench and mode == "wideband":
            # A seed element (a patent claim) has no data sheet: its gas-bench calibration is the
            # only characteristic there is, so even "nominal" uses it (its figures say so).
            cal = data.get("calibration")
        curve = cal if cal is not None else char
        if "ip_a" not in curve and (for_bench or mode != "wideband"):
            curve = BENCH_PLACEHOLDER  # only wideband readings go through a pump-current characteristic
        if "ip_a" not in curve:
            raise KeyError("characteristic.ip_a")
        base = cal if cal is not None else data
        profile = SensorProfile(
            name=data["name"], description=data.get("description", ""),
            nernst_target_v=float(data["nernst_target_v"]), ri_target_ohm=float(data["ri_target_ohm"]),
            esr_ohm=tuple(float(v) for v in data["esr_ohm"]), esr_temp_c=tuple(float(v) for v in data["esr_temp_c"]),
            ip_air_a=float(base.get("ip_air_a", 2.5e-3)), pressure_k_kpa=float(base.get("pressure_k_kpa", 80.0)),
            heater_r_cold_ohm=float(data["heater_r_cold_ohm"]), heater_alpha_per_k=float(data["heater_alpha_per_k"]),
            char_ip_a=tuple(float(v) for v in curve["ip_a"]), char_lambda=tuple(float(v) for v in curve["lambda"]),
            temp_exponent=float(cal.get("temp_exponent", 0.0)) if cal is not None else 0.0,
            reference_temp_c=float(base.get("reference_temp_c", 780.0)),
            calibrated=cal is not None, mode=mode,
            reference_buffer=_reference_buffer(data),
            hc_target_o2=float(data.get("hc_target_o2", 0.05)),
            pump_plant_v_per_as=float(data.get("pump_plant_v_per_as", 6000.0)), source=source)
    except KeyError as exc:
        raise SettingsError(str(exc.args[0]), "is required in a sensor profile", source) from None
    _check_profile(profile, source)
    return profile


def _reference_buffer(data: dict[str, Any]) -> tuple[float, float, float] | None:
    """The [a, b, c] of muO2 = a + bT + cT ln T, or None when the profile has no three of them
    (_check_profile refuses a potentiometric profile without them; other modes do not use it)."""
    values = tuple(float(v) for v in data.get("reference_buffer", ()))
    if len(values) != 3:
        return None
    return values[0], values[1], values[2]


def _check_profile(p: SensorProfile, source: str) -> None:
    def need(ok: bool, field: str, problem: str) -> None:
        if not ok:
            raise SettingsError(field, problem, source)

    need(len(p.esr_ohm) == len(p.esr_temp_c) >= 2, "esr_ohm", "needs as many points as esr_temp_c (at least 2)")
    need(all(b > a for a, b in zip(p.esr_ohm, p.esr_ohm[1:])), "esr_ohm", "must rise strictly")
    need(all(b < a for a, b in zip(p.esr_temp_c, p.esr_temp_c[1:])), "esr_temp_c", "must fall strictly")
    need(len(p.char_ip_a) == len(p.char_lambda) >= 2, "characteristic.ip_a", "needs as many points as lambda")
    need(all(b > a for a, b in zip(p.char_ip_a, p.char_ip_a[1:])), "characteristic.ip_a", "must rise strictly")
    need(all(b > a for a, b in zip(p.char_lambda, p.char_lambda[1:])), "characteristic.lambda", "must rise strictly")
    need(p.char_ip_a[-1] >= 0.0, "characteristic.ip_a", "must reach 0 A (the lean side uses the O2 law)")
    need(1e-4 < p.ip_air_a < 0.02, "ip_air_a", "must be 0.1 to 20 mA")
    need(p.pressure_k_kpa >= 0.0, "pressure_k_kpa", "must be >= 0")
    need(p.mode != "potentiometric" or p.reference_buffer is not None,
         "reference_buffer", "a potentiometric profile needs the reference's muO2 = [a, b, c] (J/mol)")


def _settings_table(path: Path) -> dict[str, Any]:
    """A profile file's [settings] table as dotted names."""
    table = tomllib.loads(path.read_text()).get("settings", {})
    return {f"{section}.{key}": value for section, entries in table.items() for key, value in entries.items()}


def profile_file_settings(profile_file: Any) -> dict[str, Any]:
    """The [settings] of a profile file of the user's (sensor.profile_file; "" or None: none): a
    calibration stored there (the HC curve of `lambdarig calibrate hc-mixed --out`) applies with it."""
    if not isinstance(profile_file, str) or not profile_file.endswith(".toml") or not Path(profile_file).is_file():
        return {}
    return _settings_table(Path(profile_file))


def settings_for_element(element: str, values: dict[str, Any] | None = None) -> Settings:
    """Default settings for a sensor type: the schema's defaults, then the profile's recommended
    values (its [settings] table: e.g. a cooler operating temperature, a calibrated HC curve), then
    `values`."""
    path = _profile_dir() / f"{element}.toml"
    recommended = _settings_table(path) if path.exists() else {}
    return Settings({**recommended, "sensor.element": element, **(values or {})}, f"profile {element}")
