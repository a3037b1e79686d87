"""The base of every emulated instrument: the SCPI core wired into a station, with seeded noise
and the settings an instrument keeps and reports but that do not change the physics.

A model is a subclass naming its catalogue entry (protocol/instrument_models.py) and its *IDN?
reply; it registers its SCPI commands in __init__ and keeps its state in reset() (*RST).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from lambdarig.protocol.instrument_models import ROLES, InstrumentModel

from .scpi import Ctx, ScpiInstrument, fmt_e

if TYPE_CHECKING:
    from .station import InstrumentStation

FIRMWARE = "lambdarig-emulated"   # the firmware field of every *IDN? reply


class StationInstrument(ScpiInstrument):
    MODEL: ClassVar[InstrumentModel]
    IDN: ClassVar[str]
    PLUS_SIGN: ClassVar[bool] = True   # numbers go out as NR3 with a sign (+1.000000E-03)

    def __init__(self, station: InstrumentStation, role: str):
        self.station = station
        self.role = role
        self.model_key = self.MODEL.key
        # One stream per role, so adding an instrument does not change another one's noise.
        self.rng = np.random.default_rng([station.seed, ROLES.index(role)])
        self._stored_defaults: dict[str, Any] = {}
        self.settings: dict[str, Any] = {}
        super().__init__(self.IDN)

    def noise(self, sigma: float) -> float:
        if not self.station.noise or sigma <= 0.0:
            return 0.0
        return sigma * float(self.rng.standard_normal())

    def reset(self) -> None:
        self.settings = dict(self._stored_defaults)

    def safe_off(self) -> None:
        """Outputs off (station stop)."""

    def snapshot(self) -> dict:
        return {"model": self.model_key, "idn": self.idn}

    def stored(self, pattern: str, key: str, default: Any, *, unit: str = "", lo: float | None = None,
               hi: float | None = None, words: tuple[str, ...] = (), kind: str = "num") -> None:
        """A setting the emulation keeps and reports but that does not change the physics."""
        self._stored_defaults[key] = default

        def handler(ctx: Ctx) -> str | None:
            if ctx.query:
                value = self.settings[key]
                if kind == "bool":
                    return "1" if value else "0"
                if kind == "num":
                    return fmt_e(float(value), 6, plus=self.PLUS_SIGN)
                if kind == "str":
                    return f'"{value}"'
                return str(value)
            if kind == "bool":
                self.settings[key] = ctx.boolean(0)
            elif kind == "num":
                self.settings[key] = ctx.number(0, unit, lo, hi,
                                                {"MINimum": lo if lo is not None else -math.inf,
                                                 "MAXimum": hi if hi is not None else math.inf,
                                                 "DEFault": float(default)})
            elif kind == "choice":
                self.settings[key] = ctx.choice(0, words)
            else:
                self.settings[key] = ctx.string(0)
            return None

        self.add(pattern, handler, query=True)
