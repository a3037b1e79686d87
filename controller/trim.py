"""The sensor's trim resistor: how the firmware applies it.

Bosch LSU 4.2/4.9: each sensor is trimmed at the factory by a resistor in its connector (pin 5,
IA/RT) that "defines the characteristic" [Bosch TPI 2005; Bosch MS 4.9]. In the Bosch interface
(CJ125 application) the pump current is measured as the voltage over the 61.9 Ω measuring shunt
between IA and IP, with the connector's trim resistor across the same two pins: the two are in
parallel, so the evaluated current is the shunt's share, I_m = Ip · R_T / (R_T + R_m). That is
why the shunt must be exactly 61.9 Ω (0.1 %) for the trim to be valid [14point7]. A sensor that
pumps more than nominal for the same gas carries a smaller R_T, so its evaluated current is the
nominal one.

Our front ends measure the whole pump current, not the shunt's share; the firmware applies the same
law in numbers: Ip_nominal = Ip · g(R_T) / g(R_T,nom), g(R) = R / (R + 61.9 Ω). R_T,nom (the trim
of a sensor whose evaluated current is the data sheet's) is the profile's `trim_nominal_ohm`:
not published (an assumption, docs/controller.md error budget).
"""

from __future__ import annotations

import math

SHUNT_OHM = 61.9   # CJ125 application: Ip measuring resistor IA-IP [CJ125 map; 14point7]


def shunt_share(trim_ohm: float, shunt_ohm: float = SHUNT_OHM) -> float:
    """The share of the pump current through the measuring shunt with the trim resistor across it."""
    return trim_ohm / (trim_ohm + shunt_ohm)


def trim_scale(trim_ohm: float, nominal_ohm: float) -> float:
    """Factor that takes this sensor's pump current to the nominal sensor's; 1.0 when the trim or
    the profile's nominal value is unknown (NaN, not positive)."""
    if not (trim_ohm > 0.0 and math.isfinite(trim_ohm) and nominal_ohm > 0.0 and math.isfinite(nominal_ohm)):
        return 1.0
    return shunt_share(trim_ohm) / shunt_share(nominal_ohm)
