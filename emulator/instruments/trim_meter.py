"""The emulated Keysight 34465A on the optional trim role: the same DMM, measuring 2-wire resistance
across the sensor's trim resistor (connector pin 5 to pin 1). It reads the element's trim resistor
(ElementSpec.trim_ohm: a production unit's, `--unit N`); an element without one (the nominal element,
an LSU ADV) is an open line: overload, 9.9E37. Lead resistance is not modelled (the reading is the
resistor plus the meter's noise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .keysight_34465a import Keysight34465A
from .scpi import NOT_A_NUMBER, Ctx, ScpiError, fmt_e

if TYPE_CHECKING:
    from .station import InstrumentStation

RES_RANGES_OHM = (100.0, 1e3, 10e3, 100e3, 1e6, 10e6, 100e6, 1e9)
RES_NOISE_PPM = 10.0      # reading noise, 1 sd, of the reading (a 6.5-digit DMM at NPLC 1: ~10 ppm)


class TrimMeter(Keysight34465A):
    """A 34465A whose resistance function is wired to the trim resistor (voltage reads ~0 V)."""

    def __init__(self, station: InstrumentStation, role: str):
        super().__init__(station, role, None)  # type: ignore[arg-type]  # no cell: volts read 0
        self.add(":CONFigure:RESistance", self._configure_res, args=(0, 2))
        self.add(":MEASure:RESistance", self._measure_res, set=False, query=True, qargs=(0, 2))
        self.add("[:SENSe]:RESistance:NPLCycles", self._nplc, query=True, qargs=(0, 1))
        self.add("[:SENSe]:RESistance:RANGe:AUTO", self._auto, query=True)

    def reset(self) -> None:
        super().reset()
        self.function = "VOLT"

    def snapshot(self) -> dict:
        return {**super().snapshot(), "function": self.function}

    def _configure_res(self, ctx: Ctx) -> None:
        self.function = "RES"
        self.auto = True

    def _function(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return f'"{self.function}"'
        text = ctx.string(0).upper()
        if text in ("RES", "RESISTANCE"):
            self.function = "RES"
        elif text in ("VOLT", "VOLTAGE", "VOLT:DC", "VOLTAGE:DC"):
            self.function = "VOLT"
        else:
            raise ScpiError(-221, f"{text}: only DC voltage and 2-wire resistance are emulated")
        return None

    def _measure_res(self, ctx: Ctx) -> str:
        self.function = "RES"
        return self.reading()

    def reading(self) -> str:
        if self.function != "RES":
            self._last = fmt_e(self.noise(1e-6), 15)     # nothing drives the trim line
            return self._last
        trim = self.station.spec.trim_ohm
        if trim is None:
            self._last = fmt_e(NOT_A_NUMBER, 15)          # open line: overload
            return self._last
        ohm = trim * (1.0 + self.noise(RES_NOISE_PPM * 1e-6))
        self.range_ohm = next((r for r in RES_RANGES_OHM if ohm <= r * 1.2), RES_RANGES_OHM[-1])
        self._last = fmt_e(ohm, 15)
        return self._last
