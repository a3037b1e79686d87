"""What the emulated SMUs share: a current or voltage source with compliance, wired to a cell of the
element (a load, loads.py), the SCPI source subsystem, the limit (compliance) commands and noise.

The models (keithley2400.py, keithley2450.py) add their sense and read commands. The source and
measure ranges and the limits come from the instrument catalogue (protocol/instrument_models.py).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from lambdarig.protocol.instrument_models import SmuModel

from .loads import OFF_POINT, NernstCellLoad, OperatingPoint, PumpCellLoad
from .scpi import Ctx, ScpiError, fmt_e, match_keyword, parse_number, parse_string
from .station_instrument import StationInstrument

if TYPE_CHECKING:
    from .station import InstrumentStation

_FUNC_WORDS = ("VOLTage", "CURRent", "RESistance")
V_NOISE_V = 20e-6        # SMU voltage noise at 1 PLC, rms
I_NOISE_OF_RANGE = 1e-5  # SMU current noise at 1 PLC, rms, as a fraction of the measure range
NO_OUTPUT = "not permitted with output off"


def sense_function(token: str) -> str:
    """VOLT, CURR or RES from a quoted sense function ("VOLT", "CURR:DC")."""
    text = parse_string(token).upper()
    base = text.split(":", 1)[0]
    found = match_keyword(base, _FUNC_WORDS)
    if found is None or (":" in text and text.split(":", 1)[1] not in ("DC",)):
        raise ScpiError(-224, f"{token.strip()}: expected \"VOLT\", \"CURR\" or \"RES\"")
    return found


def sense_name(func: str) -> str:
    """'"VOLT:DC"' for VOLT and CURR, '"RES"' for RES: how the SMUs report a sense function."""
    return f'"{func}:DC"' if func != "RES" else '"RES"'


class EmulatedSmu(StationInstrument):
    MODEL: ClassVar[SmuModel]
    SOURCE_FUNCTIONS: ClassVar[tuple[str, ...]] = ("CURRent", "VOLTage")
    DEFAULT_VOLTAGE_LIMIT_V: ClassVar[float] = 21.0
    DEFAULT_CURRENT_LIMIT_A: ClassVar[float] = 105e-6

    def __init__(self, station: InstrumentStation, role: str, load: PumpCellLoad | NernstCellLoad):
        self.load = load
        self._last_reading: str | None = None
        super().__init__(station, role)
        self._add_source_commands()
        self._add_model_commands()
        self._add_settings()
        self._add_model_settings()
        self.reset()

    def _add_model_commands(self) -> None:  # pragma: no cover - per model
        """The model's limit (compliance), sense and read commands."""
        raise NotImplementedError

    def _add_model_settings(self) -> None:
        """Settings of this model that the emulation keeps but that do not change the physics."""

    # -- state ---------------------------------------------------------------------------------

    def reset(self) -> None:
        super().reset()
        self.output = False
        self.src = "VOLT"
        self.level = {"CURR": 0.0, "VOLT": 0.0}
        self.src_auto = {"CURR": True, "VOLT": True}
        self.src_range = {"CURR": 100e-6, "VOLT": 20.0}
        self.src_mode = {"CURR": "FIX", "VOLT": "FIX"}
        # limit["VOLT"]: voltage compliance of the current source; limit["CURR"]: of the voltage source
        self.limit = {"VOLT": self.DEFAULT_VOLTAGE_LIMIT_V, "CURR": self.DEFAULT_CURRENT_LIMIT_A}
        self.sense = ["CURR"]
        self.nplc = 1.0
        self.trig_count = 1
        self.t_ref = self.station.now()

    def safe_off(self) -> None:
        self.output = False
        self.level = {"CURR": 0.0, "VOLT": 0.0}

    def point(self) -> OperatingPoint:
        """The present operating point (no noise)."""
        if not self.output:
            return OFF_POINT
        if self.src == "CURR":
            return self.load.drive_current(self.level["CURR"], self.limit["VOLT"])
        return self.load.drive_voltage(self.level["VOLT"], self.limit["CURR"])

    def source_current_a(self) -> float:
        return self.point().current_a

    def measure(self) -> tuple[float, float, bool]:
        p = self.point()
        scale = 1.0 / math.sqrt(self.nplc)
        ranges = self.MODEL.current_ranges_a
        i_range = next((r for r in ranges if abs(p.current_a) <= r), ranges[-1])
        v = p.voltage_v + self.noise(V_NOISE_V * scale)
        i = p.current_a + self.noise(I_NOISE_OF_RANGE * i_range * scale)
        return v, i, p.compliance

    def tripped(self, func: str) -> str:
        return "1" if self.output and self.src != func and self.point().compliance else "0"

    def snapshot(self) -> dict:
        return {"model": self.model_key, "idn": self.idn, "output": self.output, "source": self.src,
                "level": dict(self.level), "limit": dict(self.limit), "nplc": self.nplc, "sense": list(self.sense)}

    def _num(self, value: float) -> str:
        return fmt_e(value, 6, plus=self.PLUS_SIGN)

    def _require_output(self) -> None:
        if not self.output:
            raise ScpiError(-221, NO_OUTPUT)

    # -- source subsystem ------------------------------------------------------------------------

    def _add_source_commands(self) -> None:
        self.add("[:SOURce#]:FUNCtion[:MODE]", self._source_function, query=True)
        self.add("[:SOURce#]:CURRent[:LEVel][:IMMediate][:AMPLitude]", lambda c: self._level(c, "CURR"),
                 query=True, qargs=(0, 1))
        self.add("[:SOURce#]:VOLTage[:LEVel][:IMMediate][:AMPLitude]", lambda c: self._level(c, "VOLT"),
                 query=True, qargs=(0, 1))
        self.add(":SOURce#:CURRent:MODE", lambda c: self._mode(c, "CURR"), query=True)
        self.add(":SOURce#:VOLTage:MODE", lambda c: self._mode(c, "VOLT"), query=True)
        self.add(":SOURce#:CURRent:RANGe[:UPPer]", lambda c: self._range(c, "CURR"), query=True, qargs=(0, 1))
        self.add(":SOURce#:VOLTage:RANGe[:UPPer]", lambda c: self._range(c, "VOLT"), query=True, qargs=(0, 1))
        self.add(":SOURce#:CURRent:RANGe:AUTO", lambda c: self._range_auto(c, "CURR"), query=True)
        self.add(":SOURce#:VOLTage:RANGe:AUTO", lambda c: self._range_auto(c, "VOLT"), query=True)
        self.add(":OUTPut#[:STATe]", self._output, query=True)
        self.add("[:SENSe#]:CURRent[:DC]:NPLCycles", self._nplc, query=True, qargs=(0, 1))
        self.add("[:SENSe#]:VOLTage[:DC]:NPLCycles", self._nplc, query=True, qargs=(0, 1))
        self.add("[:SENSe#]:RESistance:NPLCycles", self._nplc, query=True, qargs=(0, 1))
        self.add(":TRIGger[:SEQuence#]:COUNt", self._trigger_count, query=True)
        self.add(":SYSTem:PRESet", lambda c: self.reset(), args=(0, 0))
        self.add(":ABORt", lambda c: None, args=(0, 0))
        self.add(":INITiate[:IMMediate]", lambda c: None, args=(0, 1))
        self.add(":SYSTem:REMote", lambda c: None, args=(0, 0))
        self.add(":SYSTem:LOCal", lambda c: None, args=(0, 0))

    def _source_function(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return self.src
        func = ctx.choice(0, self.SOURCE_FUNCTIONS)
        if func == "MEM":
            raise ScpiError(-221, "source memory sweeps are not emulated")
        self.src = func
        return None

    def _level(self, ctx: Ctx, func: str) -> str | None:
        top = self.MODEL.max_current_a if func == "CURR" else self.MODEL.max_compliance_v
        unit = "A" if func == "CURR" else "V"
        special = {"MINimum": -top, "MAXimum": top, "DEFault": 0.0}
        if ctx.query:
            if ctx.has(0):
                return self._num(parse_number(ctx.param(0), unit, special))
            return self._num(self.level[func])
        value = ctx.number(0, unit, -top, top, special)
        if not self.src_auto[func] and abs(value) > 1.05 * self.src_range[func] * (1 + 1e-9):
            raise ScpiError(-222, f"{value:g} {unit} exceeds the fixed {self.src_range[func]:g} {unit} source range")
        self.level[func] = value
        if self.src_auto[func]:
            self.src_range[func] = self._range_for(func, value)
        return None

    def _mode(self, ctx: Ctx, func: str) -> str | None:
        if ctx.query:
            return self.src_mode[func]
        mode = ctx.choice(0, ("FIXed", "LIST", "SWEep"))
        if mode != "FIX":
            raise ScpiError(-221, f"{mode} source mode is not emulated (FIXed only)")
        self.src_mode[func] = mode
        return None

    def _range_for(self, func: str, value: float) -> float:
        ranges = self.MODEL.current_ranges_a if func == "CURR" else self.MODEL.voltage_ranges_v
        return next((r for r in ranges if abs(value) <= r * 1.05), ranges[-1])

    def _range(self, ctx: Ctx, func: str) -> str | None:
        ranges = self.MODEL.current_ranges_a if func == "CURR" else self.MODEL.voltage_ranges_v
        unit = "A" if func == "CURR" else "V"
        special = {"MINimum": ranges[0], "MAXimum": ranges[-1], "DEFault": ranges[2], "UP": ranges[-1],
                   "DOWN": ranges[0]}
        if ctx.query:
            if ctx.has(0):
                return self._num(parse_number(ctx.param(0), unit, special))
            return self._num(self.src_range[func])
        value = ctx.number(0, unit, -ranges[-1] * 1.05, ranges[-1] * 1.05, special)
        self.src_range[func] = self._range_for(func, value)
        self.src_auto[func] = False
        if abs(self.level[func]) > 1.05 * self.src_range[func]:
            self.level[func] = math.copysign(self.src_range[func], self.level[func])
        return None

    def _range_auto(self, ctx: Ctx, func: str) -> str | None:
        if ctx.query:
            return "1" if self.src_auto[func] else "0"
        self.src_auto[func] = ctx.boolean(0)
        return None

    def _output(self, ctx: Ctx) -> str | None:
        if ctx.suffix(0, 1) != 1:
            raise ScpiError(-114, "one output")
        if ctx.query:
            return "1" if self.output else "0"
        self.output = ctx.boolean(0)
        return None

    def _nplc(self, ctx: Ctx) -> str | None:
        special = {"MINimum": 0.01, "MAXimum": 10.0, "DEFault": 1.0}
        if ctx.query:
            return self._num(parse_number(ctx.param(0), "", special) if ctx.has(0) else self.nplc)
        self.nplc = ctx.number(0, "", 0.01, 10.0, special)
        return None

    def _trigger_count(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return str(self.trig_count)
        self.trig_count = int(round(ctx.number(0, "", 1, 2500, {"MINimum": 1, "MAXimum": 2500, "DEFault": 1})))
        return None

    def _limit(self, ctx: Ctx, func: str) -> str | None:
        top = self.MODEL.max_compliance_v if func == "VOLT" else self.MODEL.max_current_a
        bottom = self.MODEL.min_compliance_v if func == "VOLT" else 1e-9
        unit = "V" if func == "VOLT" else "A"
        default = self.DEFAULT_VOLTAGE_LIMIT_V if func == "VOLT" else self.DEFAULT_CURRENT_LIMIT_A
        special = {"MINimum": bottom, "MAXimum": top, "DEFault": default}
        if ctx.query:
            return self._num(parse_number(ctx.param(0), unit, special) if ctx.has(0) else self.limit[func])
        value = ctx.number(0, unit, -top, top, special)
        if abs(value) < bottom:
            raise ScpiError(-222, f"{value:g} {unit} is below the minimum compliance {bottom:g} {unit}")
        self.limit[func] = abs(value)
        return None

    def _fetch(self, ctx: Ctx) -> str:
        if self._last_reading is None:
            raise ScpiError(-230, "no reading")
        return self._last_reading

    # -- settings the emulation keeps but that do not change the physics --------------------------

    def _add_settings(self) -> None:
        for f in ("VOLTage", "CURRent"):
            key = f[:4].lower()
            unit = "V" if key == "volt" else "A"
            top = self.MODEL.max_compliance_v if key == "volt" else self.MODEL.max_current_a
            self.stored(f"[:SENSe#]:{f}[:DC]:RANGe[:UPPer]", f"sense_{key}_range", top, unit=unit, lo=-top, hi=top)
            self.stored(f"[:SENSe#]:{f}[:DC]:RANGe:AUTO", f"sense_{key}_auto", True, kind="bool")
        self.stored(":TRIGger[:SEQuence#]:DELay", "trigger_delay", 0.0, unit="S", lo=0.0, hi=1e4)
        self.stored(":SYSTem:BEEPer:STATe", "beeper", True, kind="bool")
