"""The emulated Keithley 2400 SourceMeter (SCPI): compliance by :SENSe:<f>:PROTection, concurrent
sense functions, :FORMat:ELEMents and the five-element :READ? reply (V, I, R, time, status word).
"""

from __future__ import annotations

from typing import ClassVar

from lambdarig.protocol.instrument_models import KEITHLEY_2400

from .scpi import NOT_A_NUMBER, Ctx, ScpiError, match_keyword
from .smu import EmulatedSmu, sense_function, sense_name
from .station_instrument import FIRMWARE

READ_ELEMENTS = ("VOLT", "CURR", "RES", "TIME", "STAT")
_ELEMENT_WORDS = ("VOLTage", "CURRent", "RESistance", "TIME", "STATus")
# 2400 status word bits (SCPI reference, :FORMat:ELEMents STATus).
ST_FRONT, ST_COMPLIANCE = 4, 8
ST_V_MEAS, ST_I_MEAS, ST_R_MEAS = 2048, 4096, 8192
ST_V_SOURCE, ST_I_SOURCE = 16384, 32768


class Keithley2400(EmulatedSmu):
    MODEL = KEITHLEY_2400
    IDN = f"KEITHLEY INSTRUMENTS INC.,MODEL 2400,EMU2400,{FIRMWARE}"
    SOURCE_FUNCTIONS: ClassVar[tuple[str, ...]] = ("CURRent", "VOLTage", "MEMory")

    def reset(self) -> None:
        super().reset()
        self.concurrent = True
        self.elements = list(READ_ELEMENTS)
    def _add_model_commands(self) -> None:
        self.add("[:SENSe#]:VOLTage[:DC]:PROTection[:LEVel]", lambda c: self._limit(c, "VOLT"), query=True,
                 qargs=(0, 1))
        self.add("[:SENSe#]:CURRent[:DC]:PROTection[:LEVel]", lambda c: self._limit(c, "CURR"), query=True,
                 qargs=(0, 1))
        self.add("[:SENSe#]:VOLTage[:DC]:PROTection:TRIPped", lambda c: self.tripped("VOLT"), set=False, query=True)
        self.add("[:SENSe#]:CURRent[:DC]:PROTection:TRIPped", lambda c: self.tripped("CURR"), set=False, query=True)
        self.add("[:SENSe#]:FUNCtion:CONCurrent", self._concurrent, query=True)
        self.add("[:SENSe#]:FUNCtion[:ON]", self._sense_on, query=True, args=(1, 3))
        self.add("[:SENSe#]:FUNCtion:OFF", self._sense_off, query=True, args=(1, 3))
        self.add("[:SENSe#]:FUNCtion[:ON]:ALL", lambda c: self._sense_all(True), args=(0, 0))
        self.add("[:SENSe#]:FUNCtion:OFF:ALL", lambda c: self._sense_all(False), args=(0, 0))
        self.add(":FORMat:ELEMents[:SENSe#]", self._elements, query=True, args=(1, 5))
        self.add(":FORMat[:DATA]", self._format_data, query=True, args=(1, 2))
        self.add(":READ", self._read, set=False, query=True)
        self.add(":FETCh", self._fetch, set=False, query=True)
        self.add(":MEASure[:VOLTage][:DC]", lambda c: self._measure_function("VOLT"), set=False, query=True)
        self.add(":MEASure:CURRent[:DC]", lambda c: self._measure_function("CURR"), set=False, query=True)
        self.add(":MEASure:RESistance", lambda c: self._measure_function("RES"), set=False, query=True)
        self.add(":SYSTem:TIME:RESet", lambda c: setattr(self, "t_ref", self.station.now()), args=(0, 0))
        self.add(":SYSTem:CLEar", lambda c: self.errors.clear(), args=(0, 0))

    def _concurrent(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return "1" if self.concurrent else "0"
        self.concurrent = ctx.boolean(0)
        if not self.concurrent and len(self.sense) > 1:
            self.sense = self.sense[-1:]
        return None

    def _sense_list(self) -> str:
        return ",".join(sense_name(f) for f in self.sense)

    def _sense_on(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return self._sense_list()
        funcs = [sense_function(p) for p in ctx.params]
        if not self.concurrent:
            if len(funcs) > 1:
                raise ScpiError(-221, "one function with :SENS:FUNC:CONC OFF")
            self.sense = funcs
            return None
        for f in funcs:
            if f not in self.sense:
                self.sense.append(f)
        return None

    def _sense_off(self, ctx: Ctx) -> str | None:
        if ctx.query:
            off = [f for f in ("VOLT", "CURR", "RES") if f not in self.sense]
            return ",".join(sense_name(f) for f in off)
        for f in (sense_function(p) for p in ctx.params):
            if f in self.sense:
                self.sense.remove(f)
        return None

    def _sense_all(self, on: bool) -> None:
        self.sense = ["VOLT", "CURR", "RES"] if on else []

    def _elements(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return ",".join(self.elements)
        chosen = set()
        for p in ctx.params:
            found = match_keyword(p, _ELEMENT_WORDS)
            if found is None:
                raise ScpiError(-224, f"{p.strip()}: expected VOLT, CURR, RES, TIME or STAT")
            chosen.add(found)
        # The 2400 sends the chosen elements in its fixed order, whatever order they were given in.
        self.elements = [e for e in READ_ELEMENTS if e in chosen]
        return None

    def _format_data(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return "ASC"
        if ctx.choice(0, ("ASCii", "REAL", "SREal")) != "ASC":
            raise ScpiError(-221, "binary formats are not emulated (ASCii only)")
        return None

    def _reading(self) -> str:
        v, i, compliance = self.measure()
        now = self.station.now()
        values = []
        for element in self.elements:
            if element == "VOLT":
                values.append(v if "VOLT" in self.sense else self.level["VOLT"] if self.src == "VOLT" else NOT_A_NUMBER)
            elif element == "CURR":
                values.append(i if "CURR" in self.sense else self.level["CURR"] if self.src == "CURR" else NOT_A_NUMBER)
            elif element == "RES":
                values.append(v / i if "RES" in self.sense and i != 0.0 else NOT_A_NUMBER)
            elif element == "TIME":
                values.append(now - self.t_ref)
            else:
                status = ST_FRONT
                status |= ST_COMPLIANCE if compliance else 0
                status |= ST_V_MEAS if "VOLT" in self.sense else 0
                status |= ST_I_MEAS if "CURR" in self.sense else 0
                status |= ST_R_MEAS if "RES" in self.sense else 0
                status |= ST_I_SOURCE if self.src == "CURR" else ST_V_SOURCE
                values.append(float(status))
        return ",".join(self._num(x) for x in values)

    def _read(self, ctx: Ctx | None = None) -> str:
        self._require_output()
        reply = ",".join(self._reading() for _ in range(self.trig_count))
        self._last_reading = reply
        return reply

    def _measure_function(self, func: str) -> str:
        # :MEASure = :CONFigure + :READ?. A real 2400 also turns the output on here; the emulation
        # refuses with the output off, as :READ? does, so a driver never sources by reading.
        self._require_output()
        if self.concurrent:
            if func not in self.sense:
                self.sense.append(func)
        else:
            self.sense = [func]
        return self._read()

    def _add_model_settings(self) -> None:
        self.stored(":SYSTem:RSENse", "rsense", False, kind="bool")
        self.stored(":SYSTem:AZERo[:STATe]", "azero", True, kind="bool")
        self.stored(":SOURce#:DELay", "source_delay", 0.0, unit="S", lo=0.0, hi=9999.999)
        self.stored(":SOURce#:DELay:AUTO", "source_delay_auto", True, kind="bool")
        self.stored(":SOURce#:CLEar:AUTO", "source_clear_auto", False, kind="bool")
        self.stored(":OUTPut#:SMODe", "output_smode", "NORM", words=("NORMal", "HIMPedance", "ZERO", "GUARd"),
                    kind="choice")
        self.stored(":ROUTe:TERMinals", "terminals", "FRON", words=("FRONt", "REAR"), kind="choice")
        self.stored("[:SENSe#]:AVERage[:STATe]", "average", False, kind="bool")
        self.stored(":DISPlay:ENABle", "display", True, kind="bool")
        self.stored(":ARM[:SEQuence#]:COUNt", "arm_count", 1.0, lo=1, hi=2500)
