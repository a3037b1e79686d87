"""Water vapour in humid air: the mole fraction a relative humidity gives at an ambient temperature.

Saturation vapour pressure over liquid water from the Magnus form with the coefficients of
Alduchov & Eskridge (1996), "Improved Magnus form approximation of saturation vapor pressure",
J. Appl. Meteor. 35, 601-609 (their AERK coefficients): e_s = 6.1094 hPa * exp(17.625 T / (T + 243.04 °C)),
T in °C; their stated range -40 to 50 °C (relative error below 0.4 % there). Above 50 °C (scenario
ambients go to 60 °C) it is used as an extrapolation: 20.02 kPa at 60 °C, 0.4 % above the IAPWS value
(19.95 kPa).
"""

from __future__ import annotations

import math

from .constants import O2_IN_DRY_AIR

MAGNUS_A_KPA = 0.61094      # Alduchov & Eskridge 1996 (AERK), 6.1094 hPa
MAGNUS_B = 17.625           # Alduchov & Eskridge 1996 (AERK)
MAGNUS_C_C = 243.04         # Alduchov & Eskridge 1996 (AERK), °C
# Assumption: the humidity is stated for air at the standard atmosphere (the air around the rig),
# so its water mole fraction does not depend on the scenario's exhaust pressure channel.
AIR_PRESSURE_KPA = 101.325


def saturation_vapour_pressure_kpa(temp_c: float) -> float:
    """Saturation vapour pressure of water over a flat liquid surface, kPa (Alduchov & Eskridge 1996)."""
    return MAGNUS_A_KPA * math.exp(MAGNUS_B * temp_c / (temp_c + MAGNUS_C_C))


def water_in_air(humidity_pct: float, temp_c: float, pressure_kpa: float = AIR_PRESSURE_KPA) -> float:
    """Mole fraction of H2O in air of relative humidity humidity_pct (0..100) at temp_c:
    x_H2O = RH * p_sat(T) / p. Exactly 0.0 for dry air."""
    if humidity_pct == 0.0:
        return 0.0
    return min(humidity_pct / 100.0 * saturation_vapour_pressure_kpa(temp_c) / pressure_kpa, 1.0)


def o2_in_humid_air(x_h2o: float) -> float:
    """O2 mole fraction of air holding x_h2o of water: the dry-air fraction diluted by the water."""
    return O2_IN_DRY_AIR * (1.0 - x_h2o)
