"""Free-air calibration, the firmware's arithmetic: what a sensor should pump in air of a given
humidity, and the span correction that makes it do so.

Air holds O2 = 20.95 % of its dry part (the firmware's O2_IN_AIR); water vapour dilutes it:
x_O2 = 0.2095 (1 - x_H2O), x_H2O = RH p_sat(T) / p. The saturation vapour pressure over water is
Buck's equation (A. L. Buck, "New equations for computing vapor pressure and enhancement factor",
J. Appl. Meteor. 20 (1981) 1527-1532, as revised in the Buck Research CR-1A manual, 1996):
p_sat = 0.61121 kPa exp((18.678 - T/234.5) T / (257.14 + T)), T in °C, -80..50 °C (coefficients
checked 2026-12 against the CR-1A manual's form as tabulated, 6.1121 hPa, 18.678, 234.5, 257.14: no
correction). (The emulator takes another published form, Alduchov & Eskridge 1996; the two differ by
0.04-0.22 % of p_sat at 0..40 °C, < 0.004 %-pt of O2 in saturated air: docs/controller.md.)

The expected current in that air follows the lean diffusion law the conversion uses,
Ip = Ip_air ln(1 - x_O2) / ln(1 - 0.2095). The span correction is expected / measured, where the
measured current already carries the trim resistor's scale (a calibration corrects what is left).
"""

from __future__ import annotations

import math

from .conversion import O2_IN_AIR, P0_KPA

SPAN_RANGE = (0.8, 1.25)        # the settings' range of conversion.span_correction
MIN_AIR_O2_PCT = 15.0           # a reading below this (before correction) is not free air


def saturation_kpa(temp_c: float) -> float:
    """Buck (1981/1996) saturation vapour pressure over liquid water, kPa."""
    return 0.61121 * math.exp((18.678 - temp_c / 234.5) * temp_c / (257.14 + temp_c))   # Buck 1996 (CR-1A)


def air_o2_fraction(humidity_pct: float, temp_c: float = 20.0, pressure_kpa: float = P0_KPA) -> float:
    """O2 mole fraction of air at a relative humidity (%), temperature and pressure."""
    x_h2o = humidity_pct / 100.0 * saturation_kpa(temp_c) / pressure_kpa
    return O2_IN_AIR * (1.0 - x_h2o)


def expected_air_current_a(ip_air_dry_a: float, humidity_pct: float, temp_c: float = 20.0,
                           pressure_kpa: float = P0_KPA) -> float:
    """Pump current the nominal sensor draws at 101.325 kPa in air of this humidity (the lean
    diffusion law); pressure_kpa only sets the water's share (RH·p_sat/p)."""
    x_o2 = air_o2_fraction(humidity_pct, temp_c, pressure_kpa)
    return ip_air_dry_a * math.log(1.0 - x_o2) / math.log(1.0 - O2_IN_AIR)


def span_correction(measured_a: float, expected_a: float) -> float:
    """expected / measured; ValueError when outside SPAN_RANGE (not a sensor in air, or a sensor too
    far gone for a span correction)."""
    if not (measured_a > 0.0 and math.isfinite(measured_a)):
        raise ValueError(f"the measured air current {measured_a!r} A is not a lean current")
    span = expected_a / measured_a
    lo, hi = SPAN_RANGE
    if not lo <= span <= hi:
        raise ValueError(f"span correction {span:.4f} is outside {lo:g}..{hi:g}: measured {measured_a * 1e3:.4f} mA "
                         f"in air where {expected_a * 1e3:.4f} mA is expected (is the sensor in free air?)")
    return span


# A second free-air calibration at a known pressure P measures the unit's own pore constant k
# (issue 11): Bosch publishes no pressure coefficient for the LSU (reference/lsu49.md §9, §12; the
# LSU 4.9 data sheet rates the exhaust pressure "<= 2.5 bar, higher with decreased accuracy", Bosch MS
# 4.9), and the pore size, hence k, differs from unit to unit. With the span from air at 101.325 kPa
# applied, the current in air at P over the current expected at 101.325 kPa is O2's pressure law
# r = [P/(k + P)]·[(k + p0)/p0], so k = P·p0·(1 - r)/(r·p0 - P).
# Sensitivity (derived): at P = 200 kPa, dr/dk = 0.25 %/kPa at k = 80 kPa, so a 0.25 % error in the
# mean air current (humidity, noise) moves k by ~1 kPa; at P = 130 kPa it is 0.08 %/kPa (3 kPa per
# 0.25 %). Below MIN_PRESSURE_STEP_KPA away from 101.325 kPa the ratio says too little about k.
MIN_PRESSURE_STEP_KPA = 25.0
PRESSURE_K_RANGE_KPA = (5.0, 2000.0)     # the settings' range of conversion.pressure_k_kpa (0 = profile's)


def pressure_constant_kpa(ratio: float, pressure_kpa: float) -> float:
    """The pore constant k from the air current at pressure_kpa over the one at 101.325 kPa (both
    span-corrected); ValueError when the pressure is too close to 101.325 kPa or k is not physical."""
    if abs(pressure_kpa - P0_KPA) < MIN_PRESSURE_STEP_KPA:
        raise ValueError(f"the calibration pressure {pressure_kpa:g} kPa is within {MIN_PRESSURE_STEP_KPA:g} kPa of "
                         f"{P0_KPA} kPa: the current changes too little there to tell the pore constant")
    denominator = ratio * P0_KPA - pressure_kpa
    k_kpa = pressure_kpa * P0_KPA * (1.0 - ratio) / denominator if denominator else math.inf
    lo, hi = PRESSURE_K_RANGE_KPA
    if not lo <= k_kpa <= hi:
        raise ValueError(f"air current ratio {ratio:.4f} at {pressure_kpa:g} kPa gives a pore constant of "
                         f"{k_kpa:.1f} kPa, outside {lo:g}..{hi:g} kPa (is the pressure right, and was the free-air "
                         f"calibration at 101.325 kPa done first?)")
    return k_kpa
