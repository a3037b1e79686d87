"""Free-air calibration on any front end: run the firmware to closed loop with the sensor in air,
average the pump current it measures, and store a span correction (conversion.span_correction)
against the current the nominal sensor draws in air of the given humidity (controller/free_air.py).

With `pressure_kpa` away from 101.325 kPa (air in a pressure chamber, e.g. dry bottled air at
200 kPa), the same run with the stored span applied measures the unit's own pore constant
(conversion.pressure_k_kpa) instead: do the calibration at 101.325 kPa first.

Where it goes: a bench rig's settings flash (the verified two-slot write of `lambdarig flash`), or a
settings file (`out`) for every other front end. The gas-bench calibration (`lambdarig calibrate
ELEMENT`) is a research tool on the emulator; this one works on a real sensor.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdarig.common.errors import LambdarigError
from lambdarig.controller.conversion import O2_IN_AIR, P0_KPA
from lambdarig.controller.core import Status
from lambdarig.controller.free_air import (
    MIN_AIR_O2_PCT,
    air_o2_fraction,
    expected_air_current_a,
    pressure_constant_kpa,
    span_correction,
)
from lambdarig.controller.profiles import load_profile
from lambdarig.controller.runtime import TelemetrySink
from lambdarig.controller.settings import Settings
from lambdarig.hal.registry import open_frontend

from . import api
from .choose_settings import SettingsArg, settings_for_frontend
from .inputs import Caller, check_number, check_output_path
from .session import warn_user

HUMIDITY_RANGE_PCT = (0.0, 100.0)
PRESSURE_RANGE_KPA = (20.0, 400.0)  # the settings' range of exhaust pressure
AMBIENT_RANGE_C = (-40.0, 50.0)     # Buck's equation holds to 50 °C
# The shortest run that can succeed: a cold LSU 4.9 in free air reads valid after ~15 s (condensation
# 5 s + ramp), then SETTLE_S and MIN_SAMPLES readings: 21 s was enough for the nominal unit on sim:,
# 25 s leaves room for slower units.
DURATION_RANGE_S = (25.0, 600.0)
DEFAULT_DURATION_S = 40.0           # warm-up (condensation 5 s + ramp) and 20 s in closed loop
SETTLE_S = 5.0                      # valid readings this long before averaging starts
MIN_SAMPLES = 50


def _quiet(_text: str) -> None:
    """The library call prints no progress unless asked to."""


FREE_AIR_API = Caller("lambdarig.free_air.measure_free_air()")


class CalibrationFailed(LambdarigError):
    """The free-air calibration could not produce a span correction (not in air, never valid, out of range)."""


class CalibrationInterrupted(CalibrationFailed):
    """A stop signal (Ctrl-C, SIGTERM, ...) ended the measurement: nothing was stored."""

    def __init__(self, frontend: str, signal_name: str):
        self.signal_name = signal_name
        super().__init__(f"{frontend}: interrupted ({signal_name}); nothing was stored")


@dataclass
class FreeAirResult:
    frontend: str
    kind: str
    measured_a: float
    expected_a: float
    span_correction: float
    previous_span: float
    humidity_pct: float
    ambient_c: float
    o2_expected_pct: float
    samples: int
    stored_in: str = ""
    pressure_kpa: float = P0_KPA
    pressure_k_kpa: float = math.nan     # measured at pressure_kpa (NaN: a span calibration)
    previous_k_kpa: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"frontend": self.frontend, "kind": self.kind, "measured_ma": round(self.measured_a * 1e3, 6),
                "expected_ma": round(self.expected_a * 1e3, 6), "span_correction": round(self.span_correction, 6),
                "previous_span": self.previous_span, "humidity_pct": self.humidity_pct, "ambient_c": self.ambient_c,
                "o2_expected_pct": round(self.o2_expected_pct, 4), "samples": self.samples, "stored_in": self.stored_in,
                "pressure_kpa": self.pressure_kpa,
                "pressure_k_kpa": None if math.isnan(self.pressure_k_kpa) else round(self.pressure_k_kpa, 2),
                "previous_k_kpa": self.previous_k_kpa}


def measure_free_air(hal_url: str, *, humidity_pct: float = 0.0, ambient_c: float = 20.0,
                     settings: SettingsArg = None, duration_s: float = DEFAULT_DURATION_S,
                     caller: Caller = FREE_AIR_API, pressure_kpa: float = P0_KPA,
                     frontend_options: dict[str, Any] | None = None, sinks: Sequence[TelemetrySink] = (),
                     progress: Callable[[str], None] = _quiet, warn: Callable[[str], None] = warn_user,
                     ) -> tuple[FreeAirResult, Settings]:
    """Measure; return the result and the settings with the new span correction, or at a pressure
    away from 101.325 kPa the unit's pore constant (not stored yet). `sinks`, `progress` and `warn`
    are api.run's (a command line's status line and % / ETA). A stop signal raises
    CalibrationInterrupted."""
    humidity_pct = check_number(humidity_pct, caller, "humidity_pct", *HUMIDITY_RANGE_PCT, unit="%")
    pressure_kpa = check_number(pressure_kpa, caller, "pressure_kpa", *PRESSURE_RANGE_KPA, unit="kPa")
    at_pressure = pressure_kpa != P0_KPA
    ambient_c = check_number(ambient_c, caller, "ambient_c", *AMBIENT_RANGE_C, unit="°C")
    duration_s = check_number(duration_s, caller, "duration_s", *DURATION_RANGE_S)
    frontend = open_frontend(hal_url, **(frontend_options or {}))
    try:
        base, _source = settings_for_frontend(settings, frontend, caller, True)
        info = frontend.info()
    except BaseException:
        frontend.close()
        raise
    # Measure with no span correction and no pressure compensation (read as at 101.325 kPa; a live
    # pressure input is ignored); the trim resistor, when measured, stays applied: the span corrects
    # what the trim leaves. At another pressure the stored span stays applied: k is what is left.
    span_now = base.conversion.span_correction if at_pressure else 1.0
    measuring = base.changed(conversion__span_correction=span_now, conversion__exhaust_pressure_kpa=P0_KPA,
                             conversion__live_pressure=False)
    rows: list[tuple[float, float, bool]] = []

    def sink(status: Status, _truth: Any) -> None:
        rows.append((status.t_s, status.o2_pct, status.lambda_valid))

    run = api.run(frontend, settings=measuring, duration_s=duration_s, keep_samples=False,
                  sinks=[sink, *sinks], progress=progress, warn=warn, use_stored_settings=False)
    if run.interrupted:
        raise CalibrationInterrupted(info.name, run.interrupted_by or "SIGINT")
    valid_since = next((t for t, _o2, ok in rows if ok), None)
    if valid_since is None:
        raise CalibrationFailed(f"{info.name}: the readings never became valid in {duration_s:g} s "
                                "(sensor not warm, or a fault: the run's summary above says which); "
                                "nothing was stored")
    profile = load_profile(base.sensor.element, base.sensor.characteristic == "calibrated")
    ln_air = math.log(1.0 - O2_IN_AIR)
    # O2 % back to the (trim-scaled) current through the lean law, averaged as a current.
    currents = [profile.ip_air_a * math.log(1.0 - o2 / 100.0) / ln_air
                for t, o2, ok in rows if ok and t >= valid_since + SETTLE_S and o2 < 100.0]
    if len(currents) < MIN_SAMPLES:
        raise CalibrationFailed(f"{info.name}: only {len(currents)} valid readings after settling (need "
                                f"{MIN_SAMPLES}); run longer (--duration); nothing was stored")
    measured_a = statistics.fmean(currents)
    o2_read = 100.0 * (1.0 - math.exp(ln_air * measured_a / profile.ip_air_a))
    if o2_read < MIN_AIR_O2_PCT:
        raise CalibrationFailed(f"{info.name}: the sensor reads {o2_read:.2f} % O2, not free air (>= "
                                f"{MIN_AIR_O2_PCT:g} %); nothing was stored"
                                + ("; an emulated sensor is in air with the free-air scenario: add "
                                   "?scenario=free-air to the sim: URL (serve rig --scenario free-air for an "
                                   "emulated rig)" if info.kind == "sim" else ""))
    expected_a = expected_air_current_a(profile.ip_air_a, humidity_pct, ambient_c, pressure_kpa)
    o2_expected_pct = 100.0 * air_o2_fraction(humidity_pct, ambient_c, pressure_kpa)
    try:
        if at_pressure:
            k_kpa = pressure_constant_kpa(measured_a / expected_a, pressure_kpa)
        else:
            span = span_correction(measured_a, expected_a)
    except ValueError as exc:
        raise CalibrationFailed(f"{info.name}: {exc}; nothing was stored") from None
    previous_span, previous_k = base.conversion.span_correction, base.conversion.pressure_k_kpa
    if at_pressure:
        result = FreeAirResult(info.name, info.kind, measured_a, expected_a, previous_span, previous_span,
                               humidity_pct, ambient_c, o2_expected_pct, len(currents), pressure_kpa=pressure_kpa,
                               pressure_k_kpa=k_kpa, previous_k_kpa=previous_k)
        return result, base.changed(conversion__pressure_k_kpa=k_kpa)
    result = FreeAirResult(info.name, info.kind, measured_a, expected_a, span, previous_span,
                           humidity_pct, ambient_c, o2_expected_pct, len(currents), previous_k_kpa=previous_k)
    return result, base.changed(conversion__span_correction=span)


def check_out(out: str | os.PathLike[str] | None, caller: Caller) -> Path | None:
    """The settings file to write, checked before anything runs; never inside the installed package
    (a settings file there would vanish with the next install)."""
    path = check_output_path(out, caller, "out", ".toml")
    if path is not None:
        package = Path(__file__).resolve().parent
        if package in path.resolve().parents:
            raise caller.refuse("out", f"{out} is inside the installed package ({package}); give a path of your own")
    return path


def store_settings_file(settings: Settings, path: Path) -> Path:
    path.write_text(settings.to_toml())
    return path
