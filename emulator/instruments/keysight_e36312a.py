"""The emulated Keysight E36312A: three channels (CH1 0-6 V 0-5 A, CH2/CH3 0-25 V 0-1 A), each
switched on its own, addressed by channel lists (`VOLT 5,(@2)`, `OUTP ON,(@2)`), 0.1 mV / 0.1 mA
readback resolution.
"""

from __future__ import annotations

from lambdarig.protocol.instrument_models import KEYSIGHT_E36312A

from .station_instrument import FIRMWARE
from .supply import EmulatedSupply


class KeysightE36312A(EmulatedSupply):
    MODEL = KEYSIGHT_E36312A
    IDN = f"Keysight Technologies,E36312A,MYEMU0001,{FIRMWARE}"
    VOLTAGE_RESOLUTION_V = 1e-4
    CURRENT_RESOLUTION_A = 1e-4
    OVP_ALWAYS_ON = True
