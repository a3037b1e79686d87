"""Pump current -> lambda, O2 and AFR.

Rich side: the sensor profile's characteristic (pump current vs lambda), interpolated linearly in
1/lambda, which the rich branch follows closely. Lean side: the diffusion law through free O2,
x_O2 = 1 - (1 - 0.2095)^(Ip/Ip_air), then lambda from the exhaust O2 by the fuel's combustion
balance. The two meet at Ip = 0, where the profile's zero-current lambda holds. Exhaust pressure is
compensated on the current (the diffusion barrier's Knudsen share makes Ip depend on pressure), not
on lambda.

The rich characteristic was taken with gasoline; for another fuel its currents are rescaled by the
H2/CO diffusion physics (rich_side.py). Two per-sensor corrections scale the measured current before
anything else: the trim resistor (trim.py), when the front end measures one, and the span of a
free-air calibration (`conversion.span_correction`).
"""

from __future__ import annotations

import math
from bisect import bisect_right

from .profiles import SensorProfile
from .rich_side import rescale_characteristic
from .settings import Settings
from .trim import trim_scale

O2_IN_AIR = 0.2095
N2_PER_O2 = 3.774
P0_KPA = 101.325
LAMBDA_MAX = 50.0  # reported for free air and beyond; O2 % carries the information there
LAMBDA_MIN = 0.4
# The rich table is rescaled when the exhaust pressure moves by more than this: 0.5 kPa moves the
# H2/CO shares by < 0.02 % of the rich current (derived from rich_side.py at k 60-130 kPa).
RICH_RESCALE_KPA = 0.5

# H/C and O/C per named fuel: the firmware's own table (AFR_st = 138.2 a / (12.011 + 1.008 y + 16 z)).
FUELS = {
    "gasoline": (1.85, 0.0), "e85": (2.751, 0.392), "ethanol": (3.0, 0.5), "methanol": (4.0, 1.0),
    "propane": (8.0 / 3.0, 0.0), "methane": (4.0, 0.0), "diesel": (1.80, 0.0), "iso-octane": (2.25, 0.0),
}


class Conversion:
    def __init__(self, profile: SensorProfile, settings: Settings):
        conv = settings.conversion
        if conv.fuel == "custom":
            self.h_c, self.o_c = conv.custom_h_c, conv.custom_o_c
        else:
            self.h_c, self.o_c = FUELS[conv.fuel]
        self.o2_per_carbon = 1.0 + self.h_c / 4.0 - self.o_c / 2.0
        self.afr_stoich = 138.2 * self.o2_per_carbon / (12.011 + 1.008 * self.h_c + 15.999 * self.o_c)
        self.ip_air_a = profile.ip_air_a
        self._ln_air = math.log(1.0 - O2_IN_AIR)
        self._profile = profile
        self._rich_correction = conv.rich_fuel_correction
        # The unit's own pore constant when a free-air calibration at a second pressure measured it
        # (conversion.pressure_k_kpa > 0), else the profile's assumed one.
        self.pressure_k_kpa = conv.pressure_k_kpa or profile.pressure_k_kpa
        self._ip = profile.char_ip_a
        self._rich_at_kpa = math.nan
        self._rescale_rich(P0_KPA)
        self.span = conv.span_correction
        self.use_trim = settings.sensor.use_trim
        self.trim_ohm = math.nan
        self.current_scale = self.span
        self._phi = tuple(1.0 / lam for lam in profile.char_lambda)
        self._lambda_zero = profile.char_lambda[-1] if profile.char_ip_a[-1] == 0.0 else 1.0
        self.temp_exponent = profile.temp_exponent
        self.reference_temp_k = profile.reference_temp_c + 273.15
        self.pressure_factor = 1.0
        if conv.pressure_compensation:
            self.set_pressure(conv.exhaust_pressure_kpa)

    def set_trim(self, trim_ohm: float) -> None:
        """The trim resistor the front end measured (NaN: none); applied when sensor.use_trim."""
        self.trim_ohm = trim_ohm
        scale = trim_scale(trim_ohm) if self.use_trim else 1.0
        self.current_scale = self.span * scale

    def set_pressure(self, pressure_kpa: float) -> None:
        """|Ip| grows as p/(k + p) (O2's law): scale the measured current back to 101.325 kPa; the
        rich table follows the H2/CO shares at this pressure (rich_side.py)."""
        k_kpa = self.pressure_k_kpa
        self.pressure_factor = (k_kpa + pressure_kpa) / pressure_kpa * P0_KPA / (k_kpa + P0_KPA)
        self._rescale_rich(pressure_kpa)

    def _rescale_rich(self, pressure_kpa: float) -> None:
        """The rich characteristic for the fuel at this pressure; recomputed only when the pressure
        moved by more than RICH_RESCALE_KPA (a live pressure input calls this every tick)."""
        if not self._rich_correction or abs(pressure_kpa - self._rich_at_kpa) <= RICH_RESCALE_KPA:
            return
        self._rich_at_kpa = pressure_kpa
        self._ip = rescale_characteristic(self._profile.char_ip_a, self._profile.char_lambda, self.h_c, self.o_c,
                                          self.pressure_k_kpa, pressure_kpa)

    def o2_fraction(self, ip_a: float) -> float:
        """Free O2 (wet mole fraction) from a pressure-compensated lean current; 0 when rich."""
        if ip_a <= 0.0:
            return 0.0
        return 1.0 - math.exp(self._ln_air * ip_a / self.ip_air_a)

    def o2_fraction_of_lambda(self, lam: float) -> float:
        """Free O2 in lean exhaust at lambda (the inverse of lambda_from_o2); 0 when rich."""
        if lam <= 1.0:
            return 0.0
        a = self.o2_per_carbon
        o2 = (lam - 1.0) * a
        return o2 / (1.0 + self.h_c / 2.0 + o2 + N2_PER_O2 * lam * a)

    def lambda_from_o2(self, x_o2: float) -> float:
        """Lean exhaust per carbon: CO2 1, H2O y/2, O2 (lambda-1)a, N2 3.774 lambda a."""
        a = self.o2_per_carbon
        denominator = a * (1.0 - (1.0 + N2_PER_O2) * x_o2)
        if denominator <= 0.0:
            return LAMBDA_MAX
        return min((x_o2 * (1.0 + self.h_c / 2.0) + a * (1.0 - x_o2)) / denominator, LAMBDA_MAX)

    def convert(self, measured_ip_a: float, temp_c: float = math.nan) -> tuple[float, float, float]:
        """(lambda, O2 %, AFR) from the measured pump current, compensated for exhaust pressure and,
        when the profile knows how, for the cell temperature (diffusion speeds up with T)."""
        ip = measured_ip_a * self.pressure_factor * self.current_scale
        if self.temp_exponent and temp_c == temp_c:
            ip *= (self.reference_temp_k / (temp_c + 273.15)) ** self.temp_exponent
        if ip >= 0.0:
            x_o2 = self.o2_fraction(ip)
            lam = self.lambda_from_o2(x_o2)
            # The profile's zero-current lambda (e.g. 1.003 for the Bosch table) fades out toward air.
            lam += (self._lambda_zero - 1.0) * max(0.0, 1.0 - x_o2 / O2_IN_AIR)
            lam = min(lam, LAMBDA_MAX)
            return lam, 100.0 * x_o2, lam * self.afr_stoich
        ips, phis = self._ip, self._phi
        i = bisect_right(ips, ip)
        if i == 0:
            i = 1  # extrapolate the first segment
        elif i == len(ips):
            i = len(ips) - 1
        w = (ip - ips[i - 1]) / (ips[i] - ips[i - 1])
        phi = phis[i - 1] + (phis[i] - phis[i - 1]) * w
        lam = max(1.0 / phi, LAMBDA_MIN) if phi > 0.0 else LAMBDA_MAX
        return lam, 0.0, lam * self.afr_stoich
