"""Keithley source-measure units in SCPI: 2400 and 2450, sourcing current and measuring voltage.

Used for the pump cell (pump current set-point, measured current and voltage, compliance) and for
the Nernst cell (reference current, voltage, ESR by a current step).

Keithley 2400 (SCPI):
    setup     *RST; *CLS; :SOUR:FUNC CURR; :SOUR:CURR:MODE FIX; :SOUR:CURR:RANG <r>; :SOUR:CURR:LEV 0;
              :SENS:FUNC:CONC ON; :SENS:FUNC "VOLT","CURR" (both measured: the current that really
              flows, also in compliance); :SENS:VOLT:PROT <compliance>; :SENS:VOLT:RANG:AUTO ON;
              :SENS:VOLT:NPLC <n>; :FORM:ELEM VOLT,CURR,RES,TIME,STAT; :OUTP ON
              (each followed by :SYST:ERR?)
    level     :SOUR:CURR:LEV <a>
    read      :READ? -> V,I,R,time,status (five elements); compliance = status bit 3 (value 8)
    ESR step  :READ?;:SOUR:CURR:LEV <ref+step>;:READ?;:SOUR:CURR:LEV <ref> (one message, two readings)
    shutdown  :SOUR:CURR:LEV stepped to 0; :OUTP OFF

Keithley 2450 (SCPI command set; *LANG? must answer SCPI):
    setup     *LANG?; *RST; *CLS; :SOUR:FUNC CURR; :SOUR:CURR:RANG <r>; :SOUR:CURR 0;
              :SOUR:CURR:VLIM <compliance>; :SENS:FUNC "VOLT"; :SENS:VOLT:RANG:AUTO ON;
              :SENS:VOLT:NPLC <n>; :OUTP ON (each followed by :SYST:ERR?)
    level     :SOUR:CURR <a>
    read      :READ? "defbuffer1", READ, SOUR -> V,I (source readback: the measured current);
              compliance: :SOUR:CURR:VLIM:TRIP? (asked only when |V| is within 2 % of the limit)
    ESR step  <read>;:SOUR:CURR <ref+step>;<read>;:SOUR:CURR <ref> (one message, two readings)
    shutdown  :SOUR:CURR stepped to 0; :OUTP OFF
"""

from __future__ import annotations

from lambdarig.protocol.instrument_models import KEITHLEY_2400, KEITHLEY_2450, CatalogueEntry, SmuModel

from ..types import FrontEndError
from .base import ON_OFF, Choice, Instrument, Param, Range, SMUReading, smallest_range

ON_OFF_TEXT = {True: "ON", False: "OFF"}.__getitem__
COMPLIANCE_BIT_2400 = 8          # status word bit 3: in compliance
NEAR_COMPLIANCE = 0.98           # 2450: ask the trip flag when |V| >= this fraction of the limit


def _smu_params(model: SmuModel, *, level: str, compliance: str, compliance_what: str) -> dict[str, Param]:
    """The parameter table every SMU model has, with the model's own SCPI for the source level and
    the voltage compliance; the limits come from the catalogue entry."""
    return {
        "source_current_a": Param(level, Range(-model.max_current_a, model.max_current_a, "A"),
                                  "source current level"),
        "current_range_a": Param(":SOUR:CURR:RANG {:g}", Choice(model.current_ranges_a, "A"), "source current range"),
        "compliance_v": Param(compliance, Range(model.min_compliance_v, model.max_compliance_v, "V"), compliance_what),
        "nplc": Param(":SENS:VOLT:NPLC {:g}", Range(0.01, 10.0), "integration time, power-line cycles"),
        "output": Param(":OUTP {}", ON_OFF, "output", send=ON_OFF_TEXT),
    }


class SMU(Instrument):
    """Common surface of the current-sourcing SMUs; a model's current ranges and limits come from
    its catalogue entry (`class Keithley2400(SMU, catalogue=KEITHLEY_2400)`)."""

    KIND = "smu"
    CURRENT_RANGES: tuple[float, ...] = ()
    MAX_CURRENT_A = 1.05
    COMPLIANCE_RANGE = Range(0.02, 210.0, "V")
    LEVEL = "source_current_a"

    @classmethod
    def _take_from_catalogue(cls, catalogue: CatalogueEntry) -> None:
        if not isinstance(catalogue, SmuModel):
            raise TypeError(f"{cls.__name__}: an SMU's catalogue entry is an SmuModel, not {type(catalogue).__name__}")
        cls.CURRENT_RANGES = catalogue.current_ranges_a
        cls.MAX_CURRENT_A = catalogue.max_current_a
        cls.COMPLIANCE_RANGE = Range(catalogue.min_compliance_v, catalogue.max_compliance_v, "V")

    def setup(self, *, current_range_a: float, compliance_v: float, nplc: float = 0.1,
              level_a: float = 0.0) -> None:  # pragma: no cover - per model
        raise NotImplementedError

    def range_for(self, need_a: float) -> float:
        return smallest_range(self.CURRENT_RANGES, need_a)

    def set_current(self, amps: float) -> float:
        return self.set(self.LEVEL, amps)

    @property
    def level_a(self) -> float:
        return self.settings.get(self.LEVEL, 0.0)

    def output(self, on: bool) -> None:
        self.set("output", on)

    READ = ":READ?"
    READ_VALUES = 1

    def parse_reading(self, text: str, command: str) -> SMUReading:
        """One reading of the READ query's reply (compliance from the reply where it says)."""
        try:
            values = [float(part.strip()) for part in text.split(",")]
        except ValueError:
            raise FrontEndError(f"{self.who()}: reply {text!r} to {command!r} is not a list of numbers") from None
        if len(values) < self.READ_VALUES:
            raise FrontEndError(f"{self.who()}: reply {text!r} to {command!r} has {len(values)} values, "
                                f"expected {self.READ_VALUES}")
        return self._reading(values)

    def _reading(self, values: list[float]) -> SMUReading:  # pragma: no cover - per model
        raise NotImplementedError

    def read(self) -> SMUReading:
        """One measurement: voltage, current, compliance."""
        return self.parse_reading(self.query(self.READ), self.READ)

    def read_voltage(self) -> float:
        return self.parse_reading(self.query(self.READ), self.READ).voltage_v

    def step_read(self, base_a: float, step_a: float) -> tuple[SMUReading, SMUReading]:
        """A current step in ONE program message: read at `base_a`, level `base_a + step_a`, read,
        level back to `base_a`: `READ;LEVEL hi;READ;LEVEL base` -> two readings, taken back to back
        by the instrument (no network round trip between them). Both levels are validated first."""
        high = self.validate(self.LEVEL, base_a + step_a)
        base = self.validate(self.LEVEL, base_a)
        param = self.PARAMS[self.LEVEL]
        command = f"{self.READ};{param.command(high, self.channel)};{self.READ};{param.command(base, self.channel)}"
        reply = self.query(command)
        self.settings[self.LEVEL] = base
        parts = reply.split(";")
        if len(parts) != 2:
            raise FrontEndError(f"{self.who()}: reply {reply!r} to {command!r} is not two readings")
        return self.parse_reading(parts[0], command), self.parse_reading(parts[1], command)

    def safe_shutdown(self) -> None:
        """Ramp the source to 0 A in a few steps, then output off. Tries every step; raises
        FrontEndError afterwards when one failed."""
        self._ramp_down_and_switch_off(self.LEVEL)


class Keithley2400(SMU, catalogue=KEITHLEY_2400):
    PARAMS = _smu_params(KEITHLEY_2400, level=":SOUR:CURR:LEV {:.6g}", compliance=":SENS:VOLT:PROT {:g}",
                         compliance_what="voltage compliance")
    ELEMENTS = "VOLT,CURR,RES,TIME,STAT"

    def setup(self, *, current_range_a: float, compliance_v: float, nplc: float = 0.1,
              level_a: float = 0.0) -> None:
        # Validate everything first: a bad value sends nothing.
        for name, value in (("current_range_a", current_range_a), ("compliance_v", compliance_v),
                            ("nplc", nplc), ("source_current_a", level_a)):
            self.validate(name, value)
        self.reset()
        self.command(":SOUR:FUNC CURR", check=True, source_function="CURR")
        self.command(":SOUR:CURR:MODE FIX", check=True, source_mode="FIX")
        self.set("current_range_a", current_range_a, check=True)
        self.set("source_current_a", level_a, check=True)
        self.command(":SENS:FUNC:CONC ON", check=True, sense_concurrent=True)
        self.command(':SENS:FUNC "VOLT","CURR"', check=True, sense_function="VOLT,CURR")
        self.set("compliance_v", compliance_v, check=True)
        self.command(":SENS:VOLT:RANG:AUTO ON", check=True, sense_range="AUTO")
        self.set("nplc", nplc, check=True)
        self.command(f":FORM:ELEM {self.ELEMENTS}", check=True, format_elements=self.ELEMENTS)
        self.set("output", True, check=True)

    READ = ":READ?"
    READ_VALUES = 5

    def _reading(self, values: list[float]) -> SMUReading:
        """:READ? -> V, I, R, time, status (the five-element reply); compliance = status bit 3."""
        v, i, _r, _t, status = values[:5]
        return SMUReading(v, i, bool(int(status) & COMPLIANCE_BIT_2400))


class Keithley2450(SMU, catalogue=KEITHLEY_2450):
    PARAMS = _smu_params(KEITHLEY_2450, level=":SOUR:CURR {:.6g}", compliance=":SOUR:CURR:VLIM {:g}",
                         compliance_what="voltage limit")
    READ = ':READ? "defbuffer1", READ, SOUR'
    READ_VALUES = 2

    def setup(self, *, current_range_a: float, compliance_v: float, nplc: float = 0.1,
              level_a: float = 0.0) -> None:
        for name, value in (("current_range_a", current_range_a), ("compliance_v", compliance_v),
                            ("nplc", nplc), ("source_current_a", level_a)):
            self.validate(name, value)
        language = self.query("*LANG?").strip().strip('"').upper()
        if language != "SCPI":
            raise FrontEndError(f"{self.who()}: command set is {language!r}, not SCPI; select SCPI on the front "
                                f"panel (or send *LANG SCPI) and power-cycle the instrument")
        self.settings["language"] = language
        self.reset()
        self.command(":SOUR:FUNC CURR", check=True, source_function="CURR")
        self.set("current_range_a", current_range_a, check=True)
        self.set("source_current_a", level_a, check=True)
        self.set("compliance_v", compliance_v, check=True)
        self.command(':SENS:FUNC "VOLT"', check=True, sense_function="VOLT")
        self.command(":SENS:VOLT:RANG:AUTO ON", check=True, sense_range="AUTO")
        self.set("nplc", nplc, check=True)
        self.set("output", True, check=True)

    def _reading(self, values: list[float]) -> SMUReading:
        # The reply does not say whether the source is limited: read() asks when it may be.
        return SMUReading(values[0], values[1], False)

    def read(self) -> SMUReading:
        """V and I (source readback); near the voltage limit, :SOUR:CURR:VLIM:TRIP? says
        whether the source is limited."""
        reading = super().read()
        limit = self.settings.get("compliance_v")
        if limit is not None and abs(reading.voltage_v) >= NEAR_COMPLIANCE * limit:
            reading.compliance = self.tripped()
        return reading

    def tripped(self) -> bool:
        reply = self.query(":SOUR:CURR:VLIM:TRIP?")
        try:
            return bool(int(float(reply)))
        except ValueError:
            raise FrontEndError(f"{self.who()}: reply {reply!r} to ':SOUR:CURR:VLIM:TRIP?' is not 0 or 1") from None
