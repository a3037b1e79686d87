"""The emulated Rigol DP832: three channels (CH1/CH2 0-30 V 0-3 A, CH3 0-5 V 0-3 A), the Rigol
dialect (`:SOUR<n>:VOLT`, `:OUTP CH<n>,ON`, `:MEAS:ALL? CH<n>`, `:OUTP:MODE? CH<n>`) and its reply
forms: fixed-point numbers, ON|OFF, YES|NO, `CH1:30V/3A,5.000,1.000` for :APPLy?.
"""

from __future__ import annotations

from lambdarig.protocol.instrument_models import RIGOL_DP832

from .station_instrument import FIRMWARE
from .supply import EmulatedSupply


class RigolDP832(EmulatedSupply):
    MODEL = RIGOL_DP832
    IDN = f"RIGOL TECHNOLOGIES,DP832,DP8EMU0001,{FIRMWARE}"

    def _fmt(self, value: float, digits: int = 3) -> str:
        return f"{value:.{digits}f}"

    def _flag(self, on: bool) -> str:
        return "ON" if on else "OFF"

    def _yes(self, on: bool) -> str:
        return "YES" if on else "NO"

    def _applied(self, k: int) -> str:
        spec, state = self.MODEL.channels[k], self.ch[k]
        return f"{spec.name}:{spec.rating},{state.v_set:.3f},{state.i_set:.3f}"
