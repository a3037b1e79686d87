"""The emulated Keithley 2450 SourceMeter (SCPI command set): limits on the source
(:SOURce:CURRent:VLIMit, with a TRIPped query), one sense function, and :READ? with buffer
elements (READ, SOUR, REL, SEC, UNIT); *LANG answers SCPI.
"""

from __future__ import annotations

from lambdarig.protocol.instrument_models import KEITHLEY_2450

from .scpi import NOT_A_NUMBER, Ctx, ScpiError, match_keyword
from .smu import EmulatedSmu, sense_function, sense_name
from .station_instrument import FIRMWARE


class Keithley2450(EmulatedSmu):
    MODEL = KEITHLEY_2450
    IDN = f"KEITHLEY INSTRUMENTS,MODEL 2450,EMU2450,{FIRMWARE}"
    PLUS_SIGN = False

    def _add_model_commands(self) -> None:
        self.add("[:SOURce#]:CURRent:VLIMit[:LEVel]", lambda c: self._limit(c, "VOLT"), query=True, qargs=(0, 1))
        self.add("[:SOURce#]:VOLTage:ILIMit[:LEVel]", lambda c: self._limit(c, "CURR"), query=True, qargs=(0, 1))
        self.add("[:SOURce#]:CURRent:VLIMit[:LEVel]:TRIPped", lambda c: self.tripped("VOLT"), set=False, query=True)
        self.add("[:SOURce#]:VOLTage:ILIMit[:LEVel]:TRIPped", lambda c: self.tripped("CURR"), set=False, query=True)
        self.add("[:SENSe#]:FUNCtion[:ON]", self._sense, query=True)
        self.add(":READ", self._read, set=False, query=True, qargs=(0, 8))
        self.add(":FETCh", self._fetch, set=False, query=True, qargs=(0, 8))
        self.add(":MEASure[:VOLTage][:DC]", lambda c: self._measure_function(c, "VOLT"), set=False, query=True,
                 qargs=(0, 8))
        self.add(":MEASure:CURRent[:DC]", lambda c: self._measure_function(c, "CURR"), set=False, query=True,
                 qargs=(0, 8))
        self.add(":MEASure:RESistance", lambda c: self._measure_function(c, "RES"), set=False, query=True, qargs=(0, 8))
        self.add("*LANG", self._lang, query=True)

    def _lang(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return "SCPI"
        if ctx.choice(0, ("SCPI", "TSP", "SCPI2400")) != "SCPI":
            raise ScpiError(-221, "only the SCPI command set is emulated")
        return None

    def _sense(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return sense_name(self.sense[0] if self.sense else "CURR")
        self.sense = [sense_function(ctx.param(0))]
        return None

    def _value(self, func: str, v: float, i: float) -> float:
        if func == "VOLT":
            return v
        if func == "CURR":
            return i
        return v / i if i != 0.0 else NOT_A_NUMBER

    def _read(self, ctx: Ctx, func: str | None = None) -> str:
        self._require_output()
        func = func or (self.sense[0] if self.sense else "CURR")
        words = []
        for k, p in enumerate(ctx.params):
            if k == 0 and p.strip()[:1] in "\"'":
                continue  # the reading buffer name ("defbuffer1")
            found = match_keyword(p, ("READing", "SOURce", "RELative", "SEConds", "UNIT"))
            if found is None:
                raise ScpiError(-224, f"{p.strip()}: buffer element READ, SOUR, REL, SEC or UNIT")
            words.append(found)
        words = words or ["READ"]
        out = []
        for _ in range(self.trig_count):
            v, i, _compliance = self.measure()
            for w in words:
                if w == "READ":
                    out.append(self._num(self._value(func, v, i)))
                elif w == "SOUR":
                    out.append(self._num(self.level[self.src]))
                elif w in ("REL", "SEC"):
                    out.append(self._num(self.station.now() - self.t_ref))
                else:
                    out.append({"VOLT": "Volt DC", "CURR": "Amp DC", "RES": "Ohm"}[func])
        reply = ",".join(out)
        self._last_reading = reply
        return reply

    def _measure_function(self, ctx: Ctx, func: str) -> str:
        self._require_output()
        self.sense = [func]
        return self._read(ctx, func)

    def _add_model_settings(self) -> None:
        for f in ("VOLTage", "CURRent"):
            key = f[:4].lower()
            self.stored(f"[:SENSe#]:{f}[:DC]:RSENse", f"sense_{key}_rsense", False, kind="bool")
            self.stored(f"[:SENSe#]:{f}[:DC]:AZERo[:STATe]", f"sense_{key}_azero", True, kind="bool")
            self.stored(f":SOURce#:{f}:DELay", f"source_{key}_delay", 0.0, unit="S", lo=0.0, hi=1e4)
            self.stored(f":SOURce#:{f}:DELay:AUTO", f"source_{key}_delay_auto", True, kind="bool")
            self.stored(f":SOURce#:{f}:READ:BACK", f"source_{key}_readback", True, kind="bool")
            self.stored(f":OUTPut#:{f}:SMODe", f"output_{key}_smode", "NORM",
                        words=("NORMal", "HIMPedance", "ZERO", "GUARd"), kind="choice")
