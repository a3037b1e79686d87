"""The emulated Keysight 34465A DMM on the Nernst cell: DC volts only (no current source, so no
reference pumping and no ESR). It reads the cell through its input resistance (10 MΩ, or 10 GΩ with
:INPut:IMPedance:AUTO ON on the 10 V range and below), so a cold cell's high Ri divides the EMF.
nernst_open: the meter reads ~0 V.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from lambdarig.protocol.instrument_models import KEYSIGHT_34465A

from .loads import NernstCellLoad
from .scpi import NOT_A_NUMBER, Ctx, ScpiError, fmt_e, parse_bool, parse_number, parse_string
from .station_instrument import FIRMWARE, StationInstrument

if TYPE_CHECKING:
    from .station import InstrumentStation

METER_INPUT_OHM = 10e6          # DMM input resistance
METER_INPUT_HIGH_OHM = 10e9     # with INP:IMP:AUTO ON (10 V range and below)


class Keysight34465A(StationInstrument):
    MODEL = KEYSIGHT_34465A
    IDN = f"Keysight Technologies,34465A,MYEMU0001,{FIRMWARE}"
    RANGES = (0.1, 1.0, 10.0, 100.0, 1000.0)
    NPLC = (0.001, 0.002, 0.006, 0.02, 0.06, 0.2, 1.0, 10.0, 100.0)

    def __init__(self, station: InstrumentStation, role: str, load: NernstCellLoad):
        self.load = load
        self._last: str | None = None
        super().__init__(station, role)
        self.add(":CONFigure[:VOLTage][:DC]", self._configure, query=True, args=(0, 2))
        self.add("[:SENSe]:FUNCtion[:ON]", self._function, query=True)
        self.add("[:SENSe]:VOLTage[:DC]:NPLCycles", self._nplc, query=True, qargs=(0, 1))
        self.add("[:SENSe]:VOLTage[:DC]:RANGe[:UPPer]", self._range, query=True, qargs=(0, 1))
        self.add("[:SENSe]:VOLTage[:DC]:RANGe:AUTO", self._auto, query=True)
        self.add("[:SENSe]:VOLTage[:DC]:IMPedance:AUTO", self._impedance, query=True)
        self.add(":INPut:IMPedance:AUTO", self._impedance, query=True)
        self.add(":READ", self._read, set=False, query=True)
        self.add(":MEASure[:VOLTage][:DC]", self._measure, set=False, query=True, qargs=(0, 2))
        self.add(":INITiate[:IMMediate]", self._initiate, args=(0, 0))
        self.add(":FETCh", self._fetch, set=False, query=True)
        self.add(":ABORt", lambda c: None, args=(0, 0))
        self.add(":SYSTem:REMote", lambda c: None, args=(0, 0))
        self.add(":SYSTem:LOCal", lambda c: None, args=(0, 0))
        self.stored(":TRIGger:SOURce", "trigger_source", "IMM", words=("IMMediate", "BUS", "EXTernal", "INTernal"),
                    kind="choice")
        self.stored(":TRIGger:COUNt", "trigger_count", 1.0, lo=1, hi=1e6)
        self.stored(":TRIGger:DELay", "trigger_delay", 0.0, unit="S", lo=0.0, hi=3600.0)
        self.stored(":SAMPle:COUNt", "sample_count", 1.0, lo=1, hi=1e6)
        self.stored("[:SENSe]:VOLTage[:DC]:ZERO:AUTO", "autozero", True, kind="bool")
        self.stored(":DISPlay[:STATe]", "display", True, kind="bool")
        self.reset()

    def reset(self) -> None:
        super().reset()
        self.range_v = 10.0
        self.auto = True
        self.nplc = 10.0
        self.high_z = False

    def snapshot(self) -> dict:
        return {"model": self.model_key, "idn": self.idn, "range_v": self.range_v, "auto": self.auto,
                "nplc": self.nplc, "input_ohm": METER_INPUT_HIGH_OHM if self.high_z else METER_INPUT_OHM}

    def _set_range(self, token: str) -> None:
        special = {"MINimum": 0.1, "MAXimum": 1000.0, "DEFault": 10.0}
        if parse_string(token).upper() in ("AUTO",):
            self.auto = True
            return
        value = abs(parse_number(token, "V", special))
        if value > 1000.0 * 1.2:
            raise ScpiError(-222, f"range {value:g} V")
        self.range_v = next(r for r in self.RANGES if value <= r * 1.2)
        self.auto = False

    def _configure(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return f'"VOLT {fmt_e(self.range_v, 6)},{fmt_e(self.range_v * 3e-7, 6)}"'
        if ctx.has(0):
            self._set_range(ctx.param(0))
        else:
            self.auto = True
        return None

    def _function(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return '"VOLT"'
        text = ctx.string(0).upper()
        if text not in ("VOLT", "VOLTAGE", "VOLT:DC", "VOLTAGE:DC"):
            raise ScpiError(-221, f"{text}: only DC voltage is emulated")
        return None

    def _nplc(self, ctx: Ctx) -> str | None:
        special = {"MINimum": 0.001, "MAXimum": 100.0, "DEFault": 10.0}
        if ctx.query:
            return fmt_e(parse_number(ctx.param(0), "", special) if ctx.has(0) else self.nplc, 6)
        value = ctx.number(0, "", 0.001, 100.0, special)
        self.nplc = next(n for n in self.NPLC if value <= n * 1.0001)
        return None

    def _range(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return fmt_e(self.range_v, 6)
        self._set_range(ctx.param(0))
        return None

    def _auto(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return "1" if self.auto else "0"
        self.auto = parse_bool(ctx.param(0)) if ctx.param(0).upper() != "ONCE" else False
        return None

    def _impedance(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return "1" if self.high_z else "0"
        self.high_z = ctx.boolean(0)
        return None

    def reading(self) -> str:
        rin = METER_INPUT_HIGH_OHM if self.high_z and self.range_v <= 10.0 else METER_INPUT_OHM
        v = self.load.meter_voltage(rin) + self.noise(1e-6 * math.sqrt(10.0 / self.nplc))
        if self.auto:
            self.range_v = next((r for r in self.RANGES if abs(v) <= r * 1.2), self.RANGES[-1])
        if abs(v) > self.range_v * 1.2:
            v = NOT_A_NUMBER
        self._last = fmt_e(v, 15)
        return self._last

    def _read(self, ctx: Ctx) -> str:
        return self.reading()

    def _measure(self, ctx: Ctx) -> str:
        if ctx.has(0):
            self._set_range(ctx.param(0))
        else:
            self.auto = True
        return self.reading()

    def _initiate(self, ctx: Ctx) -> None:
        self.reading()

    def _fetch(self, ctx: Ctx) -> str:
        if self._last is None:
            raise ScpiError(-230, "no reading: send :INIT first")
        return self._last


# =================================================================================================
# The station: one element, one physics thread, one server per instrument.
