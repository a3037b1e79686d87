"""The sensor's trim resistor: how the firmware applies it.

Bosch LSU 4.2/4.9: each sensor is trimmed at the factory by a resistor in its connector (pin 5,
IA/RT) that "defines the characteristic" [Bosch TPI 2005; Bosch MS 4.9]. In the Bosch interface
(CJ125 application) the pump current is measured as the voltage over the 61.9 Ω measuring shunt
between IA and IP, with the connector's trim resistor across the same two pins: the two are in
parallel, so the evaluated current is the shunt's share, I_m = Ip · R_T / (R_T + R_m). That is
why the shunt must be exactly 61.9 Ω (0.1 %) for the trim to be valid [14point7]. The data sheet's
Ip-λ table is given as "Ip measured" [Bosch MS 4.9, accuracy table heading], i.e. the shunt's
share; a sensor that pumps more for the same gas carries a smaller R_T, so what the shunt sees is
the table's current. A sensor without a trim resistor (LSU ADV: 5 pins) is the table itself.

Our front ends measure the whole pump current, not the shunt's share, so the firmware applies the
same law in numbers: Ip_evaluated = Ip · R_T / (R_T + 61.9 Ω); no trim (NaN) leaves it as it is.
"""

from __future__ import annotations

import math

SHUNT_OHM = 61.9   # CJ125 application: Ip measuring resistor IA-IP [CJ125 map; 14point7]


def shunt_share(trim_ohm: float, shunt_ohm: float = SHUNT_OHM) -> float:
    """The share of the pump current through the measuring shunt with the trim resistor across it."""
    return trim_ohm / (trim_ohm + shunt_ohm)


def trim_scale(trim_ohm: float) -> float:
    """Factor from the sensor's whole pump current to the evaluated (table) current; 1.0 when the
    sensor has no trim resistor or it was not measured (NaN, not a positive finite number)."""
    if not (trim_ohm > 0.0 and math.isfinite(trim_ohm)):
        return 1.0
    return shunt_share(trim_ohm)
