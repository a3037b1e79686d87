"""Meters for the Nernst cell: DC volts only (no current source, so no ESR and no reference pumping).

Keysight 34465A (SCPI-99 CONFigure/READ):
    setup     *RST; *CLS; :CONF:VOLT:DC AUTO; :SENS:VOLT:DC:NPLC <n> (each followed by :SYST:ERR?)
    read      :READ? -> V
    shutdown  nothing to switch off

The same DMM on the optional trim role (the sensor's trim resistor, 2-wire ohms, read once):
    setup     *RST; *CLS; :CONF:RES AUTO; :SENS:RES:NPLC <n> (each followed by :SYST:ERR?)
    read      :READ? -> ohms (9.9E37 beyond the range: an open line)
"""

from __future__ import annotations

from lambdarig.protocol.instrument_models import KEYSIGHT_34465A

from .base import Choice, Instrument, Param


class Meter(Instrument):
    KIND = "meter"

    def setup(self, *, nplc: float = 0.2) -> None:  # pragma: no cover - per model
        raise NotImplementedError

    def read_voltage(self) -> float:  # pragma: no cover - per model
        raise NotImplementedError

    def setup_resistance(self, *, nplc: float = 1.0) -> None:  # pragma: no cover - per model
        raise NotImplementedError

    def read_resistance_ohm(self) -> float:  # pragma: no cover - per model
        raise NotImplementedError

    def safe_shutdown(self) -> None:
        """A meter sources nothing: nothing to do."""


class Keysight34465A(Meter, catalogue=KEYSIGHT_34465A):
    NPLC_VALUES = (0.02, 0.2, 1.0, 10.0, 100.0)
    PARAMS = {
        "nplc": Param(":SENS:VOLT:DC:NPLC {:g}", Choice(NPLC_VALUES), "integration time, power-line cycles"),
    }

    def setup(self, *, nplc: float = 0.2) -> None:
        self.validate("nplc", nplc)
        self.reset()
        self.command(":CONF:VOLT:DC AUTO", check=True, function="VOLT:DC", range="AUTO")
        self.set("nplc", nplc, check=True)

    def read_voltage(self) -> float:
        return self.query_float(":READ?")

    def setup_resistance(self, *, nplc: float = 1.0) -> None:
        """2-wire resistance, auto range: the trim resistor (tens to hundreds of ohms)."""
        self.validate("nplc", nplc)
        self.reset()
        self.command(":CONF:RES AUTO", check=True, function="RES", range="AUTO")
        self.command(f":SENS:RES:NPLC {nplc:g}", check=True, nplc=nplc)

    def read_resistance_ohm(self) -> float:
        return self.query_float(":READ?")
