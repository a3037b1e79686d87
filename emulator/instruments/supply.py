"""What the emulated supplies share: channels with a voltage set-point, a current limit, over-voltage
and over-current protection, one of them wired to the heater, and the SCPI of both dialects
(Rigol `:SOUR<n>:VOLT`, `:OUTP CH1,ON`; Keysight `VOLT 5,(@1)`, `OUTP ON,(@1)`, `INST:NSEL`).

The heater channel: a DC voltage on the heater (element heater_v = V); if V / heater_r_ohm exceeds
the channel's current limit the supply goes CC and the voltage sags to I_lim * R_heater; a scenario
supply_drop caps the available voltage (mode UR); heater_open: no current; heater_short (0.05 ohm):
the supply goes CC at its limit with ~0 V across the element.

Replies are Keysight-style here (NR3 numbers, 1|0); the Rigol model overrides the formatting.
Channels and their ratings come from the instrument catalogue (protocol/instrument_models.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from lambdarig.protocol.instrument_models import SupplyChannel, SupplyModel

from .scpi import Ctx, ScpiError, fmt_e, parse_chanlist, parse_number, parse_string
from .station_instrument import StationInstrument

if TYPE_CHECKING:
    from ..world import Faults
    from .station import InstrumentStation

HEATER_SHORT_OHM = 0.05         # as emulator/board.py
SUPPLY_V_NOISE = 0.5e-3
SUPPLY_I_NOISE = 0.5e-3
PROTECTION_HEADROOM = 1.1       # OVP/OCP default and maximum: 10 % above the channel's rating


@dataclass
class ChannelState:
    v_set: float = 0.0
    i_set: float = 0.0
    output: bool = False
    ovp: float = 0.0
    ovp_on: bool = False
    ovp_tripped: bool = False
    ocp: float = 0.0
    ocp_on: bool = False
    ocp_tripped: bool = False


@dataclass(slots=True)
class SupplyPoint:
    voltage_v: float        # at the terminals
    current_a: float
    mode: str               # CV | CC | UR
    element_v: float = 0.0  # across the heater element itself (0 for a short or an open)


def _peak_v(spec: SupplyChannel) -> float:
    """The channel's largest voltage magnitude (a negative output's is its minimum)."""
    return abs(spec.max_voltage_v or spec.min_voltage_v)


class EmulatedSupply(StationInstrument):
    MODEL: ClassVar[SupplyModel]
    GLOBAL_OUTPUT: ClassVar[bool] = False   # one output switch for all channels (E3631A)
    OVP_ALWAYS_ON: ClassVar[bool] = False   # over-voltage protection cannot be switched off (E36312A)
    VOLTAGE_RESOLUTION_V: ClassVar[float] = 1e-3   # readback resolution
    CURRENT_RESOLUTION_A: ClassVar[float] = 1e-3

    def __init__(self, station: InstrumentStation, role: str, wired_channel: int | None = None, *,
                 drives_heater: bool = True):
        channels = self.MODEL.channels
        self.wired = (wired_channel or self.MODEL.default_heater_channel) - 1
        # False: the wired channel drives a high-impedance input (the analog_out role), no current.
        self.drives_heater = drives_heater
        if not 0 <= self.wired < len(channels):
            raise ValueError(f"{self.MODEL.key}: no channel {wired_channel} (channels 1..{len(channels)})")
        super().__init__(station, role)
        if not drives_heater:   # a second supply of the station: a serial number of its own
            self.idn = self.idn.replace("EMU0001", "EMU0002")
        self._add_commands()
        self.reset()

    @property
    def wired_channel(self) -> SupplyChannel:
        """The channel wired to the heater."""
        return self.MODEL.channels[self.wired]


    def reset(self) -> None:
        super().reset()
        self.selected = 0
        self.ch = [ChannelState(0.0, spec.max_current_a, False, _peak_v(spec) * PROTECTION_HEADROOM, self.OVP_ALWAYS_ON,
                                False, spec.max_current_a * PROTECTION_HEADROOM, False, False)
                   for spec in self.MODEL.channels]

    def safe_off(self) -> None:
        for state in self.ch:
            state.output = False
            state.v_set = 0.0

    def snapshot(self) -> dict:
        return {"model": self.model_key, "idn": self.idn, "wired_channel": self.wired + 1,
                "channels": [{"name": s.name, "v_set": c.v_set, "i_set": c.i_set, "output": c.output,
                              "ovp": c.ovp if c.ovp_on else None, "ocp": c.ocp if c.ocp_on else None}
                             for s, c in zip(self.MODEL.channels, self.ch)]}

    # -- physics -----------------------------------------------------------------------------------

    def channel_point(self, k: int) -> SupplyPoint:
        state = self.ch[k]
        if not state.output:
            return SupplyPoint(0.0, 0.0, "CV")
        faults: Faults = self.station.faults
        v_avail = abs(state.v_set)
        mode = "CV"
        if faults.supply_drop and faults.supply_drop_v < v_avail:
            v_avail = max(faults.supply_drop_v, 0.0)
            mode = "UR"
        sign = -1.0 if state.v_set < 0.0 else 1.0
        if k != self.wired or not self.drives_heater or faults.heater_open:
            return SupplyPoint(sign * v_avail, 0.0, mode)
        element = self.station.element
        r = HEATER_SHORT_OHM if faults.heater_short else element.heater_r_ohm
        current = v_avail / r
        if current > state.i_set:
            current = state.i_set
            v_avail = current * r
            mode = "CC"
        element_v = 0.0 if faults.heater_short else v_avail
        return SupplyPoint(sign * v_avail, sign * current, mode, element_v)

    def output_voltage(self) -> float:
        """The wired channel's output voltage now (0 when off): what an analog input would read."""
        return self.channel_point(self.wired).voltage_v

    def heater_voltage(self) -> float:
        """RMS (= DC) voltage across the heater element."""
        return self.channel_point(self.wired).element_v

    def check_protection(self) -> None:
        for k, state in enumerate(self.ch):
            if not state.output or not (state.ovp_on or state.ocp_on):
                continue
            p = self.channel_point(k)
            if state.ovp_on and abs(p.voltage_v) > state.ovp:
                state.output, state.ovp_tripped = False, True
            elif state.ocp_on and abs(p.current_a) > state.ocp:
                state.output, state.ocp_tripped = False, True

    def measure(self, k: int) -> tuple[float, float]:
        p = self.channel_point(k)
        v = p.voltage_v + (self.noise(SUPPLY_V_NOISE) if self.ch[k].output else 0.0)
        i = p.current_a + (self.noise(SUPPLY_I_NOISE) if p.current_a else 0.0)
        v = round(v / self.VOLTAGE_RESOLUTION_V) * self.VOLTAGE_RESOLUTION_V
        i = round(i / self.CURRENT_RESOLUTION_A) * self.CURRENT_RESOLUTION_A
        return v, i

    # -- formatting and channel arguments ----------------------------------------------------------

    def _fmt(self, value: float, digits: int = 3) -> str:
        """A number in a reply (`digits`: the fixed-point digits of a model that uses them)."""
        return fmt_e(value, 8)

    def _flag(self, on: bool) -> str:
        """An on/off state in a reply."""
        return "1" if on else "0"

    def _yes(self, on: bool) -> str:
        """A yes/no answer (protection tripped?) in a reply."""
        return "1" if on else "0"

    def _applied(self, k: int) -> str:
        """The :APPLy? reply for channel index k: its set-points."""
        state = self.ch[k]
        return f'"{fmt_e(state.v_set, 6)},{fmt_e(state.i_set, 6)}"'

    def _channel_token(self, token: str) -> int | None:
        """0-based channel of a token like CH1 / P25V / OUT1 / 1, None if it is not a channel name."""
        t = parse_string(token).upper()
        for k, spec in enumerate(self.MODEL.channels):
            if t in (spec.name, f"CH{k + 1}", f"OUT{k + 1}", f"OUTP{k + 1}", f"OUTPUT{k + 1}"):
                return k
        return None

    def _channels(self, ctx: Ctx, index: int) -> list[int] | None:
        """Channels named by parameter index (a name or a channel list), None if absent."""
        if not ctx.has(index):
            return None
        token = ctx.param(index)
        listed = parse_chanlist(token)
        if listed is not None:
            for n in listed:
                if not 1 <= n <= len(self.MODEL.channels):
                    raise ScpiError(-222, f"no channel {n}")
            return [n - 1 for n in listed]
        k = self._channel_token(token)
        if k is None:
            return None
        return [k]

    def _default_channel(self, ctx: Ctx) -> int:
        n = ctx.suffix(0)
        if n is not None:
            if not 1 <= n <= len(self.MODEL.channels):
                raise ScpiError(-114, f"no channel {n}")
            return n - 1
        return self.selected

    def _must_channels(self, ctx: Ctx, index: int) -> list[int]:
        chans = self._channels(ctx, index)
        if chans is None:
            if ctx.has(index):
                raise ScpiError(-224, f"{ctx.param(index)}: expected a channel "
                                      f"({', '.join(s.name for s in self.MODEL.channels)} or (@n))")
            return [self._default_channel(ctx)]
        return chans

    # -- commands ------------------------------------------------------------------------------------

    def _add_commands(self) -> None:
        self.add(":INSTrument[:SELect]", self._select, query=True)
        self.add(":INSTrument:NSELect", self._nselect, query=True)
        self.add("[:SOURce#]:VOLTage[:LEVel][:IMMediate][:AMPLitude]", lambda c: self._setpoint(c, "v"),
                 query=True, args=(1, 2), qargs=(0, 2))
        self.add("[:SOURce#]:CURRent[:LEVel][:IMMediate][:AMPLitude]", lambda c: self._setpoint(c, "i"),
                 query=True, args=(1, 2), qargs=(0, 2))
        for f, key in (("VOLTage", "ov"), ("CURRent", "oc")):
            self.add(f"[:SOURce#]:{f}:PROTection[:LEVel]", partial(self._prot_level, key=key), query=True,
                     args=(1, 2), qargs=(0, 1))
            self.add(f"[:SOURce#]:{f}:PROTection:STATe", partial(self._prot_state, key=key), query=True,
                     args=(1, 2), qargs=(0, 1))
            self.add(f"[:SOURce#]:{f}:PROTection:TRIPped", partial(self._prot_tripped, key=key), set=False,
                     query=True, qargs=(0, 1))
            self.add(f"[:SOURce#]:{f}:PROTection:CLEar", partial(self._prot_clear, key=key), args=(0, 1))
            rigol = "OVP" if key == "ov" else "OCP"
            self.add(f":OUTPut:{rigol}[:STATe]", partial(self._prot_state, key=key, rigol_order=True),
                     query=True, args=(1, 2), qargs=(0, 1))
            self.add(f":OUTPut:{rigol}:VALue", partial(self._prot_level, key=key, rigol_order=True),
                     query=True, args=(1, 2), qargs=(0, 1))
            self.add(f":OUTPut:{rigol}:QUEStion", partial(self._prot_tripped, key=key), set=False, query=True,
                     qargs=(0, 1))
            self.add(f":OUTPut:{rigol}:CLEar", partial(self._prot_clear, key=key), args=(0, 1))
        self.add(":APPLy", self._apply, query=True, args=(1, 3), qargs=(0, 1))
        self.add(":OUTPut[:STATe]", self._output, query=True, args=(1, 2), qargs=(0, 1))
        self.add(":OUTPut:MODE", self._mode, set=False, query=True, qargs=(0, 1))
        self.add(":MEASure[:SCALar][:VOLTage][:DC]", lambda c: self._measure(c, "V"), set=False, query=True,
                 qargs=(0, 1))
        self.add(":MEASure[:SCALar]:CURRent[:DC]", lambda c: self._measure(c, "I"), set=False, query=True,
                 qargs=(0, 1))
        for power in ("POWer", "POWE"):  # SCPI short form POW; Rigol documents POWE
            self.add(f":MEASure[:SCALar]:{power}[:DC]", lambda c: self._measure(c, "P"), set=False, query=True,
                     qargs=(0, 1))
        self.add(":MEASure:ALL[:DC]", lambda c: self._measure(c, "ALL"), set=False, query=True, qargs=(0, 1))
        self.add(":SYSTem:REMote", lambda c: None, args=(0, 0))
        self.add(":SYSTem:LOCal", lambda c: None, args=(0, 0))
        self.add(":SYSTem:RWLock", lambda c: None, args=(0, 0))
        self.add(":SYSTem:BEEPer[:IMMediate]", lambda c: None, args=(0, 0))
        self.stored(":OUTPut:TRACk[:STATe]", "track", False, kind="bool")
        self.stored(":SYSTem:BEEPer:STATe", "beeper", True, kind="bool")

    def _select(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return self.MODEL.channels[self.selected].name
        k = self._channel_token(ctx.param(0))
        if k is None:
            raise ScpiError(-224, f"{ctx.param(0)}: expected {'|'.join(s.name for s in self.MODEL.channels)}")
        self.selected = k
        return None

    def _nselect(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return str(self.selected + 1)
        n = ctx.number(0, "", 1, len(self.MODEL.channels))
        if n != int(n):
            raise ScpiError(-224, f"channel number {n:g}")
        self.selected = int(n) - 1
        return None

    def _setpoint(self, ctx: Ctx, what: str) -> str | None:
        if ctx.query:
            keyword, chans = None, None
            for idx in range(len(ctx)):
                listed = self._channels(ctx, idx)
                if listed is not None:
                    chans = listed
                else:
                    keyword = ctx.param(idx)
            out = []
            for k in chans or [self._default_channel(ctx)]:
                spec = self.MODEL.channels[k]
                if keyword is not None:
                    lo, hi = (spec.min_voltage_v, spec.max_voltage_v) if what == "v" else (0.0, spec.max_current_a)
                    special = {"MINimum": lo if lo >= 0 else hi, "MAXimum": hi if lo >= 0 else lo,
                               "DEFault": 0.0 if what == "v" else spec.max_current_a}
                    value = parse_number(keyword, "", special)
                else:
                    value = self.ch[k].v_set if what == "v" else self.ch[k].i_set
                out.append(self._fmt(value, 3))
            return ",".join(out)
        chans = self._must_channels(ctx, 1) if ctx.has(1) else [self._default_channel(ctx)]
        for k in chans:
            spec = self.MODEL.channels[k]
            if what == "v":
                lo, hi = spec.min_voltage_v, spec.max_voltage_v
                value = ctx.number(0, "V", lo, hi, {"MINimum": lo if lo >= 0 else hi, "MAXimum": hi if lo >= 0 else lo,
                                                    "DEFault": 0.0})
                self.ch[k].v_set = value
            else:
                value = ctx.number(0, "A", 0.0, spec.max_current_a, {"MINimum": 0.0, "MAXimum": spec.max_current_a,
                                                             "DEFault": spec.max_current_a})
                self.ch[k].i_set = value
        return None

    def _rigol_args(self, ctx: Ctx, n_values: int, rigol_order: bool) -> tuple[list[int], int]:
        """(channels, index of the value) for '[ch,]value' (Rigol) or 'value[,(@list)]' (Keysight)."""
        if rigol_order and len(ctx) == n_values + 1:
            chans = self._channels(ctx, 0)
            if chans is None:
                raise ScpiError(-224, f"{ctx.param(0)}: expected a channel")
            return chans, 1
        if len(ctx) == n_values + 1:
            return self._must_channels(ctx, n_values), 0
        return [self._default_channel(ctx)], 0

    def _prot_level(self, ctx: Ctx, key: str, rigol_order: bool = False) -> str | None:
        if ctx.query:
            chans = self._must_channels(ctx, 0)
            return ",".join(self._fmt(self.ch[k].ovp if key == "ov" else self.ch[k].ocp) for k in chans)
        chans, vi = self._rigol_args(ctx, 1, rigol_order)
        for k in chans:
            spec = self.MODEL.channels[k]
            top = (_peak_v(spec) if key == "ov" else spec.max_current_a) * PROTECTION_HEADROOM
            value = ctx.number(vi, "V" if key == "ov" else "A", 0.0, top,
                               {"MINimum": 0.0, "MAXimum": top, "DEFault": top})
            if key == "ov":
                self.ch[k].ovp = value
            else:
                self.ch[k].ocp = value
        return None

    def _prot_state(self, ctx: Ctx, key: str, rigol_order: bool = False) -> str | None:
        if ctx.query:
            chans = self._must_channels(ctx, 0)
            return ",".join(self._flag(self.ch[k].ovp_on if key == "ov" else self.ch[k].ocp_on) for k in chans)
        chans, vi = self._rigol_args(ctx, 1, rigol_order)
        on = ctx.boolean(vi)
        for k in chans:
            if key == "ov":
                self.ch[k].ovp_on = on or self.OVP_ALWAYS_ON
            else:
                self.ch[k].ocp_on = on
        return None

    def _prot_tripped(self, ctx: Ctx, key: str) -> str:
        chans = self._must_channels(ctx, 0)
        return ",".join(self._yes(self.ch[k].ovp_tripped if key == "ov" else self.ch[k].ocp_tripped) for k in chans)

    def _prot_clear(self, ctx: Ctx, key: str) -> None:
        for k in self._must_channels(ctx, 0):
            if key == "ov":
                self.ch[k].ovp_tripped = False
            else:
                self.ch[k].ocp_tripped = False

    def _apply(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return self._applied(self._must_channels(ctx, 0)[0])
        chans = self._channels(ctx, 0)
        first = 1
        if chans is None:
            chans, first = [self._default_channel(ctx)], 0
        if not ctx.has(first):
            raise ScpiError(-109, "APPLy needs a voltage")
        if len(ctx) > first + 2:
            raise ScpiError(-108)
        k = chans[0]
        spec = self.MODEL.channels[k]
        lo, hi = spec.min_voltage_v, spec.max_voltage_v
        v = ctx.number(first, "V", lo, hi, {"MINimum": lo if lo >= 0 else hi, "MAXimum": hi if lo >= 0 else lo,
                                            "DEFault": 0.0})
        i = ctx.number(first + 1, "A", 0.0, spec.max_current_a, {"MINimum": 0.0, "MAXimum": spec.max_current_a,
                                                        "DEFault": spec.max_current_a}) if ctx.has(first + 1) else None
        self.ch[k].v_set = v
        if i is not None:
            self.ch[k].i_set = i
        return None

    def _output(self, ctx: Ctx) -> str | None:
        if ctx.query:
            if self.GLOBAL_OUTPUT:
                return self._flag(self.ch[0].output)
            chans = self._must_channels(ctx, 0)
            return ",".join(self._flag(self.ch[k].output) for k in chans)
        if len(ctx) == 2:
            listed = self._channels(ctx, 1)
            if listed is not None and parse_chanlist(ctx.param(1)) is not None:
                chans, on = listed, ctx.boolean(0)          # Keysight: OUTP ON,(@1)
            else:
                named = self._channels(ctx, 0)              # Rigol: :OUTP CH1,ON
                if named is None:
                    raise ScpiError(-224, f"{ctx.param(0)}: expected a channel")
                chans, on = named, ctx.boolean(1)
        else:
            chans, on = [self._default_channel(ctx)], ctx.boolean(0)
        if self.GLOBAL_OUTPUT:
            chans = list(range(len(self.ch)))
        for k in chans:
            state = self.ch[k]
            if on and (state.ovp_tripped or state.ocp_tripped):
                raise ScpiError(-221, f"{self.MODEL.channels[k].name} protection tripped: clear it first")
            state.output = on
        return None

    def _mode(self, ctx: Ctx) -> str:
        chans = self._must_channels(ctx, 0)
        return ",".join(self.channel_point(k).mode for k in chans)

    def _measure(self, ctx: Ctx, what: str) -> str:
        chans = self._must_channels(ctx, 0)
        out = []
        for k in chans:
            v, i = self.measure(k)
            if what == "V":
                out.append(self._fmt(v, 4))
            elif what == "I":
                out.append(self._fmt(i, 4))
            elif what == "P":
                out.append(self._fmt(v * i, 4))
            else:
                out.append(",".join((self._fmt(v, 4), self._fmt(i, 4), self._fmt(v * i, 4))))
        return ",".join(out)
