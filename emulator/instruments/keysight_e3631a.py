"""The emulated Keysight (HP) E3631A: P6V (0-6 V 0-5 A), P25V (0-25 V 0-1 A) and the negative
N25V output, selected with `INST:NSEL <n>`; one output switch for all three. Readback resolution
1 mV / 0.1 mA.
"""

from __future__ import annotations

from lambdarig.protocol.instrument_models import KEYSIGHT_E3631A

from .station_instrument import FIRMWARE
from .supply import EmulatedSupply


class KeysightE3631A(EmulatedSupply):
    MODEL = KEYSIGHT_E3631A
    IDN = f"HEWLETT-PACKARD,E3631A,0,{FIRMWARE}"
    GLOBAL_OUTPUT = True
    CURRENT_RESOLUTION_A = 1e-4
