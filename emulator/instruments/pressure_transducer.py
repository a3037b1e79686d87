"""The emulated exhaust-pressure transducer the optional pressure role's DMM reads: a linear,
absolute sensor with a voltage output, 0.5 V at 0 kPa and 100 kPa/V (0.5-4.5 V over 0-400 kPa): the
common ratiometric output of industrial and vehicle transducers, 10-90 % of a 5 V supply (WIKA,
"Analogue output signals of pressure sensors: 0.5 ... 4.5 V ratiometric",
blog.wika.it/knowhow/segnali-di-uscita-analogici-sensori-di-pressione-3-0-5-4-5-raziometrico); the
supply is taken as exactly 5 V (no ratiometric error).
Its reading is the emulated world's exhaust pressure plus the sensor's own
noise, 0.25 kPa 1 sd (the same assumption as the sim front end's and the emulated rig's pressure
input; written here on its own). The meter in front of it is the emulated 34465A (DC volts); the
scale is written into the station file, as a bench engineer writes the transducer's data-sheet scale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .station import InstrumentStation

TRANSDUCER_OFFSET_V = 0.5          # output at 0 kPa absolute
TRANSDUCER_KPA_PER_V = 100.0       # 0.5..4.5 V over 0..400 kPa
TRANSDUCER_NOISE_KPA = 0.25        # 1 sd
TRANSDUCER_NOISE_STREAM = 0x5052   # its own noise stream (with the station's seed)


class PressureTransducerLoad:
    """What the pressure DMM sees: the transducer's output volts (a low-impedance source)."""

    def __init__(self, station: InstrumentStation):
        self.station = station
        self.rng = np.random.default_rng([station.seed, TRANSDUCER_NOISE_STREAM])

    def meter_voltage(self, input_ohm: float) -> float:
        st = self.station
        noise = TRANSDUCER_NOISE_KPA * float(self.rng.standard_normal()) if st.noise else 0.0
        return TRANSDUCER_OFFSET_V + (st.world.pressure_kpa + noise) / TRANSDUCER_KPA_PER_V
