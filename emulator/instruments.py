"""Emulated SCPI instruments on 127.0.0.1, all wired to ONE sensor element that runs in real time.

    with InstrumentStation("lsu49", "default") as station:
        station.write_station_file("station.toml")
        rm = pyvisa.ResourceManager("@py")
        smu = rm.open_resource(station.resource("pump"), read_termination="\\n", write_termination="\\n")

A lab station as issue 6 describes it: an SMU sources the pump current (Keithley 2400 or 2450), a
bench supply drives the heater (Rigol DP832, Keysight E36312A or E3631A), and optionally a second SMU
(or a DMM) sits on the Nernst cell. Each instrument is its own TCP server (one port per instrument,
ephemeral by default, bound to a loopback address only) speaking line-based SCPI (emulator/scpi.py:
short and long forms, ';' compound messages, a real error queue and *ESR?).

Physics: one `ElementModel` is stepped in wall-clock time by a background thread (1 ms period, steps
of at most 2 ms), and also brought up to the present before every command, so a reading taken right
after a set-point change sees exactly the time that has passed. The world comes from a scenario
(`world_at`, `faults_at`, holding its last values after it ends). What flows is decided by the
wiring, as in emulator/board.py:
- pump SMU, current source: the current flows if the cell needs no more than the compliance voltage
  (element.pump_voltage); otherwise the SMU sits at its compliance rail and passes the current the
  cell lets through there (Newton on pump_voltage / pump_slope_ohm), with the compliance flag set;
  voltage source: the current at which the cell needs that voltage, within the current limit;
- heater supply: a DC voltage on the heater (element heater_v = V); if V / heater_r_ohm exceeds the
  channel's current limit the supply goes CC and the voltage sags to I_lim * R_heater; a scenario
  supply_drop caps the available voltage (mode UR);
- Nernst SMU: terminal voltage = element.nernst_terminal_v(pump_current, source_current) + V_arc,
  where the electrode arc R_ct || C_dl (element.arc_r_ohm, arc_c_f) is a capacitor state integrated
  in time, so a current step read back soon after shows Ri*dI plus a partly charged arc
  (ESR by current step, with a bias of R_ct (1 - exp(-t/R_ct C_dl)) after t seconds); the sourced
  current is the element's reference pumping current; compliance as for the pump SMU;
- faults act on the wires: heater_open (no current), heater_short (0.05 ohm: the supply goes CC at
  its limit with ~0 V), pump_open (no pump current, the SMU in compliance), nernst_open (no current,
  the SMU reads its compliance voltage, a meter reads ~0 V), supply_drop (the heater supply's output
  is capped at the drop voltage).
Readings carry seeded Gaussian noise (off with noise=False).

Failure injection for client tests: silence(role), disconnect(role), refuse(role),
error_on_next(role, code), delay(role, seconds). `lambdarig serve instruments` runs a station until
SIGINT/SIGTERM (add_arguments / serve). Documentation: docs/instruments-emulated.md.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .constants import ZERO_C_IN_K
from .element import ElementModel
from .element_spec import ElementSpec, load_element
from .errors import EmulatorInputError
from .scenario import Scenario, load_scenario
from .scpi import (
    NOT_A_NUMBER,
    Ctx,
    LineServer,
    ScpiError,
    ScpiInstrument,
    check_loopback,
    fmt_e,
    match_keyword,
    parse_bool,
    parse_chanlist,
    parse_number,
    parse_string,
)
from .world import Faults

ROLES = ("pump", "heater", "nernst")
PUMP_MODELS = ("keithley2400", "keithley2450")
HEATER_MODELS = ("rigol_dp832", "keysight_e36312a", "keysight_e3631a")
NERNST_MODELS = ("keithley2450", "keithley2400", "keysight_34465a")
FIRMWARE = "lambdarig-emulated"

DEFAULT_STEP_S = 0.001          # physics thread period
MAX_STEP_S = 0.002              # longest element step
MIN_STEP_S = 20e-6              # shorter catch-ups are left for later
MAX_CATCHUP_STEPS = 500         # a long stall (suspended process) is caught up in coarser steps
HEATER_SHORT_OHM = 0.05         # as emulator/board.py
METER_INPUT_OHM = 10e6          # DMM input resistance (10 GΩ with INP:IMP:AUTO ON)
METER_INPUT_HIGH_OHM = 10e9

# Station-file defaults (written by write_station_file).
STATION_TIMEOUT_MS = 200
PUMP_COMPLIANCE_V = 2.5
PUMP_CURRENT_LIMIT_A = 0.01
HEATER_VOLTAGE_LIMIT_V = 13.0
HEATER_CURRENT_LIMIT_A = 3.0
NERNST_REFERENCE_A = 20e-6
NERNST_ESR_STEP_A = 100e-6
NERNST_COMPLIANCE_V = 3.0


@dataclass(slots=True)
class OperatingPoint:
    """What an output does now: current through the load, voltage across it, limited by compliance."""

    current_a: float
    voltage_v: float
    compliance: bool = False


OFF_POINT = OperatingPoint(0.0, 0.0, False)


# =================================================================================================
# Loads: what is wired to an output (the physics).


def _solve_increasing(f: Callable[[float], float], slope: Callable[[float], float], target: float,
                      lo: float, hi: float, guess: float) -> float:
    """x in [lo, hi] with f(x) = target for increasing f (safeguarded Newton, as
    AnalogBoard._saturate_pump); an end of the bracket when target lies outside f's range there."""
    if f(lo) >= target:
        return lo
    if f(hi) <= target:
        return hi
    x = min(max(guess, lo), hi)
    for _ in range(60):
        err = f(x) - target
        if err > 0.0:
            hi = x
        else:
            lo = x
        if abs(err) < 1e-9 or hi - lo < 1e-13:
            break
        s = slope(x)
        nxt = x - err / s if s > 0.0 and math.isfinite(s) else 0.5 * (lo + hi)
        x = nxt if lo < nxt < hi else 0.5 * (lo + hi)
    return x


class PumpCellLoad:
    """The pump cell between SMU HI (outer pump electrode) and LO (the common pin): positive SMU
    current is the element's positive pump current (pumps oxygen out of the measuring node)."""

    def __init__(self, station: InstrumentStation):
        self.station = station
        self._last_a = 0.0

    def _open(self) -> bool:
        return self.station.faults.pump_open or self.station.element.spec.pump_cell is None

    def drive_current(self, command_a: float, limit_v: float) -> OperatingPoint:
        element = self.station.element
        if self._open():
            return OperatingPoint(0.0, math.copysign(limit_v, command_a) if command_a else 0.0, command_a != 0.0)
        needed_v = element.pump_voltage(command_a)
        if -limit_v <= needed_v <= limit_v:
            self._last_a = command_a
            return OperatingPoint(command_a, needed_v, False)
        rail = math.copysign(limit_v, needed_v)
        lo, hi = (0.0, command_a) if command_a > 0.0 else (command_a, 0.0)
        current = _solve_increasing(element.pump_voltage, element.pump_slope_ohm, rail, lo, hi, self._last_a)
        self._last_a = current
        return OperatingPoint(current, rail, True)

    def drive_voltage(self, volts: float, limit_a: float) -> OperatingPoint:
        element = self.station.element
        if self._open():
            return OperatingPoint(0.0, volts, False)
        current = _solve_increasing(element.pump_voltage, element.pump_slope_ohm, volts, -limit_a, limit_a,
                                    self._last_a)
        self._last_a = current
        if abs(current) >= limit_a:
            return OperatingPoint(current, element.pump_voltage(current), True)
        return OperatingPoint(current, volts, False)

    def open_voltage(self) -> float:
        return 0.0 if self._open() else self.station.element.pump_voltage(0.0)


class NernstCellLoad:
    """The Nernst cell between SMU HI (reference electrode) and LO (the common pin) as
    EMF + Ri + (R_ct || C_dl): positive current pumps oxygen into the pumped reference."""

    def __init__(self, station: InstrumentStation):
        self.station = station

    def open_voltage(self) -> float:
        """Terminal voltage with no current from this instrument (arc charge included)."""
        st = self.station
        return st.element.nernst_terminal_v(st.pump_current_a(), 0.0) + st.arc_v

    def drive_current(self, command_a: float, limit_v: float) -> OperatingPoint:
        st = self.station
        if st.faults.nernst_open:
            return OperatingPoint(0.0, math.copysign(limit_v, command_a) if command_a else 0.0, command_a != 0.0)
        ocv = self.open_voltage()
        ri = st.element.ri_ohm
        needed_v = ocv + command_a * ri
        if -limit_v <= needed_v <= limit_v:
            return OperatingPoint(command_a, needed_v, False)
        rail = math.copysign(limit_v, needed_v)
        current = (rail - ocv) / ri
        current = min(max(current, 0.0), command_a) if command_a > 0.0 else max(min(current, 0.0), command_a)
        return OperatingPoint(current, ocv + current * ri, True)

    def drive_voltage(self, volts: float, limit_a: float) -> OperatingPoint:
        st = self.station
        if st.faults.nernst_open:
            return OperatingPoint(0.0, volts, False)
        ocv = self.open_voltage()
        current = (volts - ocv) / st.element.ri_ohm
        if abs(current) > limit_a:
            current = math.copysign(limit_a, current)
            return OperatingPoint(current, ocv + current * st.element.ri_ohm, True)
        return OperatingPoint(current, volts, False)

    def meter_voltage(self, input_ohm: float) -> float:
        """What a voltmeter with this input resistance reads (DC divider with Ri + R_ct)."""
        st = self.station
        if st.faults.nernst_open:
            return 0.0
        element = st.element
        return self.open_voltage() * input_ohm / (input_ohm + element.ri_ohm + element.arc_r_ohm)


# =================================================================================================
# Instrument base: SCPI core + station wiring, noise, stored settings.


class StationInstrument(ScpiInstrument):
    kind = "instrument"

    def __init__(self, station: InstrumentStation, role: str, model_key: str, idn: str):
        self.station = station
        self.role = role
        self.model_key = model_key
        self.rng = np.random.default_rng([station.seed, ROLES.index(role)])
        self._stored_defaults: dict[str, object] = {}
        self._stored_format: dict[str, Callable[[object], str]] = {}
        self.settings: dict[str, object] = {}
        super().__init__(idn)

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

    def stored(self, pattern: str, key: str, default: object, *, unit: str = "", lo: float | None = None,
               hi: float | None = None, words: tuple[str, ...] = (), kind: str = "num") -> None:
        """A setting the emulation keeps and reports but that does not change the physics."""
        self._stored_defaults[key] = default

        def handler(ctx: Ctx) -> str | None:
            if ctx.query:
                value = self.settings[key]
                if kind == "bool":
                    return "1" if value else "0"
                if kind == "num":
                    return fmt_e(float(value), 6, plus=self._plus)
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

    _plus = True


# =================================================================================================
# SMUs: Keithley 2400 and 2450 (SCPI mode).


@dataclass(frozen=True)
class SmuModel:
    key: str
    flavour: str                  # "2400" | "2450"
    idn: str
    i_ranges: tuple[float, ...]
    v_ranges: tuple[float, ...]
    i_max: float = 1.05
    v_max: float = 210.0
    vlim_min: float = 0.0
    default_vlim: float = 21.0
    default_ilim: float = 105e-6
    plus: bool = True             # NR3 numbers with a sign (+1.000000E-03)


SMU_MODELS = {
    "keithley2400": SmuModel("keithley2400", "2400",
                             f"KEITHLEY INSTRUMENTS INC.,MODEL 2400,EMU2400,{FIRMWARE}",
                             (1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0), (0.2, 2.0, 20.0, 200.0)),
    "keithley2450": SmuModel("keithley2450", "2450", f"KEITHLEY INSTRUMENTS,MODEL 2450,EMU2450,{FIRMWARE}",
                             (10e-9, 100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0),
                             (0.02, 0.2, 2.0, 20.0, 200.0), vlim_min=0.02, plus=False),
}

ELEMENTS_2400 = ("VOLT", "CURR", "RES", "TIME", "STAT")
_ELEMENT_WORDS = ("VOLTage", "CURRent", "RESistance", "TIME", "STATus")
_FUNC_WORDS = ("VOLTage", "CURRent", "RESistance")
# 2400 status word bits (SCPI reference, :FORMat:ELEMents STATus).
ST_FRONT, ST_COMPLIANCE, ST_V_MEAS, ST_I_MEAS, ST_R_MEAS, ST_V_SOURCE, ST_I_SOURCE = 4, 8, 2048, 4096, 8192, 16384, 32768
V_NOISE_V = 20e-6        # SMU voltage noise at 1 PLC, rms
I_NOISE_OF_RANGE = 1e-5  # SMU current noise at 1 PLC, rms, as a fraction of the measure range
NO_OUTPUT = "not permitted with output off"


def _sense_function(token: str) -> str:
    text = parse_string(token).upper()
    base = text.split(":", 1)[0]
    found = match_keyword(base, _FUNC_WORDS)
    if found is None or (":" in text and text.split(":", 1)[1] not in ("DC",)):
        raise ScpiError(-224, f"{token.strip()}: expected \"VOLT\", \"CURR\" or \"RES\"")
    return found


class Smu(StationInstrument):
    kind = "smu"

    def __init__(self, station: InstrumentStation, role: str, model: SmuModel, load):
        self.m = model
        self.load = load
        self._plus = model.plus
        self._last_reading: str | None = None
        super().__init__(station, role, model.key, model.idn)
        self._add_source_commands()
        if model.flavour == "2400":
            self._add_2400()
        else:
            self._add_2450()
        self._add_settings()
        self.reset()

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
        self.limit = {"VOLT": self.m.default_vlim, "CURR": self.m.default_ilim}
        self.sense = ["CURR"]
        self.concurrent = True
        self.nplc = 1.0
        self.elements = list(ELEMENTS_2400)
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
        i_range = next((r for r in self.m.i_ranges if abs(p.current_a) <= r), self.m.i_ranges[-1])
        v = p.voltage_v + self.noise(V_NOISE_V * scale)
        i = p.current_a + self.noise(I_NOISE_OF_RANGE * i_range * scale)
        return v, i, p.compliance

    def tripped(self, func: str) -> str:
        return "1" if self.output and self.src != func and self.point().compliance else "0"

    def snapshot(self) -> dict:
        return {"model": self.model_key, "idn": self.idn, "output": self.output, "source": self.src,
                "level": dict(self.level), "limit": dict(self.limit), "nplc": self.nplc, "sense": list(self.sense)}

    def _num(self, value: float) -> str:
        return fmt_e(value, 6, plus=self.m.plus)

    def _require_output(self) -> None:
        if not self.output:
            raise ScpiError(-221, NO_OUTPUT)

    # -- source subsystem (both flavours) --------------------------------------------------------

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
        func = ctx.choice(0, ("CURRent", "VOLTage", "MEMory") if self.m.flavour == "2400" else ("CURRent", "VOLTage"))
        if func == "MEM":
            raise ScpiError(-221, "source memory sweeps are not emulated")
        self.src = func
        return None

    def _level(self, ctx: Ctx, func: str) -> str | None:
        top = self.m.i_max if func == "CURR" else self.m.v_max
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
        ranges = self.m.i_ranges if func == "CURR" else self.m.v_ranges
        return next((r for r in ranges if abs(value) <= r * 1.05), ranges[-1])

    def _range(self, ctx: Ctx, func: str) -> str | None:
        ranges = self.m.i_ranges if func == "CURR" else self.m.v_ranges
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

    # -- Keithley 2400 -----------------------------------------------------------------------------

    def _add_2400(self) -> None:
        self.add("[:SENSe#]:VOLTage[:DC]:PROTection[:LEVel]", lambda c: self._limit(c, "VOLT"), query=True,
                 qargs=(0, 1))
        self.add("[:SENSe#]:CURRent[:DC]:PROTection[:LEVel]", lambda c: self._limit(c, "CURR"), query=True,
                 qargs=(0, 1))
        self.add("[:SENSe#]:VOLTage[:DC]:PROTection:TRIPped", lambda c: self.tripped("VOLT"), set=False, query=True)
        self.add("[:SENSe#]:CURRent[:DC]:PROTection:TRIPped", lambda c: self.tripped("CURR"), set=False, query=True)
        self.add("[:SENSe#]:FUNCtion:CONCurrent", self._concurrent, query=True)
        self.add("[:SENSe#]:FUNCtion[:ON]", self._sense_on_2400, query=True, args=(1, 3))
        self.add("[:SENSe#]:FUNCtion:OFF", self._sense_off_2400, query=True, args=(1, 3))
        self.add("[:SENSe#]:FUNCtion[:ON]:ALL", lambda c: self._sense_all(True), args=(0, 0))
        self.add("[:SENSe#]:FUNCtion:OFF:ALL", lambda c: self._sense_all(False), args=(0, 0))
        self.add(":FORMat:ELEMents[:SENSe#]", self._elements, query=True, args=(1, 5))
        self.add(":FORMat[:DATA]", self._format_data, query=True, args=(1, 2))
        self.add(":READ", self._read_2400, set=False, query=True)
        self.add(":FETCh", self._fetch, set=False, query=True)
        self.add(":MEASure[:VOLTage][:DC]", lambda c: self._measure_2400("VOLT"), set=False, query=True)
        self.add(":MEASure:CURRent[:DC]", lambda c: self._measure_2400("CURR"), set=False, query=True)
        self.add(":MEASure:RESistance", lambda c: self._measure_2400("RES"), set=False, query=True)
        self.add(":SYSTem:TIME:RESet", lambda c: setattr(self, "t_ref", self.station.now()), args=(0, 0))
        self.add(":SYSTem:CLEar", lambda c: self.errors.clear(), args=(0, 0))

    def _limit(self, ctx: Ctx, func: str) -> str | None:
        top = self.m.v_max if func == "VOLT" else self.m.i_max
        bottom = self.m.vlim_min if func == "VOLT" else 1e-9
        unit = "V" if func == "VOLT" else "A"
        default = self.m.default_vlim if func == "VOLT" else self.m.default_ilim
        special = {"MINimum": bottom, "MAXimum": top, "DEFault": default}
        if ctx.query:
            return self._num(parse_number(ctx.param(0), unit, special) if ctx.has(0) else self.limit[func])
        value = ctx.number(0, unit, -top, top, special)
        if abs(value) < bottom:
            raise ScpiError(-222, f"{value:g} {unit} is below the minimum compliance {bottom:g} {unit}")
        self.limit[func] = abs(value)
        return None

    def _concurrent(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return "1" if self.concurrent else "0"
        self.concurrent = ctx.boolean(0)
        if not self.concurrent and len(self.sense) > 1:
            self.sense = self.sense[-1:]
        return None

    def _sense_list(self) -> str:
        return ",".join(f'"{f}:DC"' if f != "RES" else '"RES"' for f in self.sense)

    def _sense_on_2400(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return self._sense_list()
        funcs = [_sense_function(p) for p in ctx.params]
        if not self.concurrent:
            if len(funcs) > 1:
                raise ScpiError(-221, "one function with :SENS:FUNC:CONC OFF")
            self.sense = funcs
            return None
        for f in funcs:
            if f not in self.sense:
                self.sense.append(f)
        return None

    def _sense_off_2400(self, ctx: Ctx) -> str | None:
        if ctx.query:
            off = [f for f in ("VOLT", "CURR", "RES") if f not in self.sense]
            return ",".join(f'"{f}:DC"' if f != "RES" else '"RES"' for f in off)
        for f in (_sense_function(p) for p in ctx.params):
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
        self.elements = [e for e in ELEMENTS_2400 if e in chosen]
        return None

    def _format_data(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return "ASC"
        if ctx.choice(0, ("ASCii", "REAL", "SREal")) != "ASC":
            raise ScpiError(-221, "binary formats are not emulated (ASCii only)")
        return None

    def _reading_2400(self) -> str:
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

    def _read_2400(self, ctx: Ctx | None = None) -> str:
        self._require_output()
        reply = ",".join(self._reading_2400() for _ in range(self.trig_count))
        self._last_reading = reply
        return reply

    def _fetch(self, ctx: Ctx) -> str:
        if self._last_reading is None:
            raise ScpiError(-230, "no reading")
        return self._last_reading

    def _measure_2400(self, func: str) -> str:
        # :MEASure = :CONFigure + :READ?. A real 2400 also turns the output on here; the emulation
        # refuses with the output off, as :READ? does, so a driver never sources by reading.
        self._require_output()
        if self.concurrent:
            if func not in self.sense:
                self.sense.append(func)
        else:
            self.sense = [func]
        return self._read_2400()

    # -- Keithley 2450 -----------------------------------------------------------------------------

    def _add_2450(self) -> None:
        self.add("[:SOURce#]:CURRent:VLIMit[:LEVel]", lambda c: self._limit(c, "VOLT"), query=True, qargs=(0, 1))
        self.add("[:SOURce#]:VOLTage:ILIMit[:LEVel]", lambda c: self._limit(c, "CURR"), query=True, qargs=(0, 1))
        self.add("[:SOURce#]:CURRent:VLIMit[:LEVel]:TRIPped", lambda c: self.tripped("VOLT"), set=False, query=True)
        self.add("[:SOURce#]:VOLTage:ILIMit[:LEVel]:TRIPped", lambda c: self.tripped("CURR"), set=False, query=True)
        self.add("[:SENSe#]:FUNCtion[:ON]", self._sense_2450, query=True)
        self.add(":READ", self._read_2450, set=False, query=True, qargs=(0, 8))
        self.add(":FETCh", self._fetch, set=False, query=True, qargs=(0, 8))
        self.add(":MEASure[:VOLTage][:DC]", lambda c: self._measure_2450(c, "VOLT"), set=False, query=True,
                 qargs=(0, 8))
        self.add(":MEASure:CURRent[:DC]", lambda c: self._measure_2450(c, "CURR"), set=False, query=True,
                 qargs=(0, 8))
        self.add(":MEASure:RESistance", lambda c: self._measure_2450(c, "RES"), set=False, query=True, qargs=(0, 8))
        self.add("*LANG", self._lang, query=True)
        self.sense = ["CURR"]

    def _lang(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return "SCPI"
        if ctx.choice(0, ("SCPI", "TSP", "SCPI2400")) != "SCPI":
            raise ScpiError(-221, "only the SCPI command set is emulated")
        return None

    def _sense_2450(self, ctx: Ctx) -> str | None:
        if ctx.query:
            f = self.sense[0] if self.sense else "CURR"
            return f'"{f}:DC"' if f != "RES" else '"RES"'
        self.sense = [_sense_function(ctx.param(0))]
        return None

    def _value_2450(self, func: str, v: float, i: float) -> float:
        if func == "VOLT":
            return v
        if func == "CURR":
            return i
        return v / i if i != 0.0 else NOT_A_NUMBER

    def _read_2450(self, ctx: Ctx, func: str | None = None) -> str:
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
                    out.append(self._num(self._value_2450(func, v, i)))
                elif w == "SOUR":
                    out.append(self._num(self.level[self.src]))
                elif w in ("REL", "SEC"):
                    out.append(self._num(self.station.now() - self.t_ref))
                else:
                    out.append({"VOLT": "Volt DC", "CURR": "Amp DC", "RES": "Ohm"}[func])
        reply = ",".join(out)
        self._last_reading = reply
        return reply

    def _measure_2450(self, ctx: Ctx, func: str) -> str:
        self._require_output()
        self.sense = [func]
        return self._read_2450(ctx, func)

    # -- settings the emulation keeps but that do not change the physics --------------------------

    def _add_settings(self) -> None:
        two400 = self.m.flavour == "2400"
        for f in ("VOLTage", "CURRent"):
            key = f[:4].lower()
            unit = "V" if key == "volt" else "A"
            top = self.m.v_max if key == "volt" else self.m.i_max
            self.stored(f"[:SENSe#]:{f}[:DC]:RANGe[:UPPer]", f"sense_{key}_range", top, unit=unit, lo=-top, hi=top)
            self.stored(f"[:SENSe#]:{f}[:DC]:RANGe:AUTO", f"sense_{key}_auto", True, kind="bool")
            if not two400:
                self.stored(f"[:SENSe#]:{f}[:DC]:RSENse", f"sense_{key}_rsense", False, kind="bool")
                self.stored(f"[:SENSe#]:{f}[:DC]:AZERo[:STATe]", f"sense_{key}_azero", True, kind="bool")
                self.stored(f":SOURce#:{f}:DELay", f"source_{key}_delay", 0.0, unit="S", lo=0.0, hi=1e4)
                self.stored(f":SOURce#:{f}:DELay:AUTO", f"source_{key}_delay_auto", True, kind="bool")
                self.stored(f":SOURce#:{f}:READ:BACK", f"source_{key}_readback", True, kind="bool")
                self.stored(f":OUTPut#:{f}:SMODe", f"output_{key}_smode", "NORM",
                            words=("NORMal", "HIMPedance", "ZERO", "GUARd"), kind="choice")
        if two400:
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
        self.stored(":TRIGger[:SEQuence#]:DELay", "trigger_delay", 0.0, unit="S", lo=0.0, hi=1e4)
        self.stored(":SYSTem:BEEPer:STATe", "beeper", True, kind="bool")


# =================================================================================================
# Supplies: Rigol DP832, Keysight E36312A, Keysight E3631A.


@dataclass(frozen=True)
class ChannelSpec:
    name: str          # CH1, P25V, ...
    v_min: float
    v_max: float
    i_max: float
    label: str         # "30V/3A" (Rigol :APPL? reply)


@dataclass(frozen=True)
class SupplyModel:
    key: str
    idn: str
    channels: tuple[ChannelSpec, ...]
    style: str                    # "rigol" | "keysight"
    global_output: bool           # one output switch for all channels (E3631A)
    heater_channel: int           # 1-based default channel for the heater
    v_res: float                  # readback resolution
    i_res: float


SUPPLY_MODELS = {
    "rigol_dp832": SupplyModel(
        "rigol_dp832", f"RIGOL TECHNOLOGIES,DP832,DP8EMU0001,{FIRMWARE}",
        (ChannelSpec("CH1", 0.0, 30.0, 3.0, "30V/3A"), ChannelSpec("CH2", 0.0, 30.0, 3.0, "30V/3A"),
         ChannelSpec("CH3", 0.0, 5.0, 3.0, "5V/3A")), "rigol", False, 1, 1e-3, 1e-3),
    "keysight_e36312a": SupplyModel(
        "keysight_e36312a", f"Keysight Technologies,E36312A,MYEMU0001,{FIRMWARE}",
        (ChannelSpec("CH1", 0.0, 6.0, 5.0, "6V/5A"), ChannelSpec("CH2", 0.0, 25.0, 1.0, "25V/1A"),
         ChannelSpec("CH3", 0.0, 25.0, 1.0, "25V/1A")), "keysight", False, 2, 1e-4, 1e-4),
    "keysight_e3631a": SupplyModel(
        "keysight_e3631a", f"HEWLETT-PACKARD,E3631A,0,{FIRMWARE}",
        (ChannelSpec("P6V", 0.0, 6.0, 5.0, "6V/5A"), ChannelSpec("P25V", 0.0, 25.0, 1.0, "25V/1A"),
         ChannelSpec("N25V", -25.0, 0.0, 1.0, "-25V/1A")), "keysight", True, 2, 1e-3, 1e-4),
}
SUPPLY_V_NOISE = 0.5e-3
SUPPLY_I_NOISE = 0.5e-3


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


class Supply(StationInstrument):
    kind = "supply"

    def __init__(self, station: InstrumentStation, role: str, model: SupplyModel, wired_channel: int | None = None):
        self.m = model
        self.wired = (wired_channel or model.heater_channel) - 1
        if not 0 <= self.wired < len(model.channels):
            raise ValueError(f"{model.key}: no channel {wired_channel} (channels 1..{len(model.channels)})")
        self._plus = True
        super().__init__(station, role, model.key, model.idn)
        self._add_commands()
        self.reset()

    def reset(self) -> None:
        super().reset()
        self.selected = 0
        self.ch = [ChannelState(0.0, spec.i_max, False, abs(spec.v_max or spec.v_min) * 1.1, False, False,
                                spec.i_max * 1.1, False, False) for spec in self.m.channels]

    def safe_off(self) -> None:
        for state in self.ch:
            state.output = False
            state.v_set = 0.0

    def snapshot(self) -> dict:
        return {"model": self.model_key, "idn": self.idn, "wired_channel": self.wired + 1,
                "channels": [{"name": s.name, "v_set": c.v_set, "i_set": c.i_set, "output": c.output}
                             for s, c in zip(self.m.channels, self.ch)]}

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
        if k != self.wired or faults.heater_open:
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
        v = round(v / self.m.v_res) * self.m.v_res
        i = round(i / self.m.i_res) * self.m.i_res
        return v, i

    # -- formatting and channel arguments ----------------------------------------------------------

    def _fmt(self, value: float, digits: int = 3) -> str:
        if self.m.style == "rigol":
            return f"{value:.{digits}f}"
        return fmt_e(value, 8)

    def _flag(self, on: bool) -> str:
        return ("ON" if on else "OFF") if self.m.style == "rigol" else ("1" if on else "0")

    def _yes(self, on: bool) -> str:
        return ("YES" if on else "NO") if self.m.style == "rigol" else ("1" if on else "0")

    def _channel_token(self, token: str) -> int | None:
        """0-based channel of a token like CH1 / P25V / OUT1 / 1, None if it is not a channel name."""
        t = parse_string(token).upper()
        for k, spec in enumerate(self.m.channels):
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
                if not 1 <= n <= len(self.m.channels):
                    raise ScpiError(-222, f"no channel {n}")
            return [n - 1 for n in listed]
        k = self._channel_token(token)
        if k is None:
            return None
        return [k]

    def _default_channel(self, ctx: Ctx) -> int:
        n = ctx.suffix(0)
        if n is not None:
            if not 1 <= n <= len(self.m.channels):
                raise ScpiError(-114, f"no channel {n}")
            return n - 1
        return self.selected

    def _must_channels(self, ctx: Ctx, index: int) -> list[int]:
        chans = self._channels(ctx, index)
        if chans is None:
            if ctx.has(index):
                raise ScpiError(-224, f"{ctx.param(index)}: expected a channel "
                                      f"({', '.join(s.name for s in self.m.channels)} or (@n))")
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
            self.add(f"[:SOURce#]:{f}:PROTection[:LEVel]", lambda c, k=key: self._prot_level(c, k), query=True,
                     args=(1, 2), qargs=(0, 1))
            self.add(f"[:SOURce#]:{f}:PROTection:STATe", lambda c, k=key: self._prot_state(c, k), query=True,
                     args=(1, 2), qargs=(0, 1))
            self.add(f"[:SOURce#]:{f}:PROTection:TRIPped", lambda c, k=key: self._prot_tripped(c, k), set=False,
                     query=True, qargs=(0, 1))
            self.add(f"[:SOURce#]:{f}:PROTection:CLEar", lambda c, k=key: self._prot_clear(c, k), args=(0, 1))
            rigol = "OVP" if key == "ov" else "OCP"
            self.add(f":OUTPut:{rigol}[:STATe]", lambda c, k=key: self._prot_state(c, k, rigol_order=True),
                     query=True, args=(1, 2), qargs=(0, 1))
            self.add(f":OUTPut:{rigol}:VALue", lambda c, k=key: self._prot_level(c, k, rigol_order=True),
                     query=True, args=(1, 2), qargs=(0, 1))
            self.add(f":OUTPut:{rigol}:QUEStion", lambda c, k=key: self._prot_tripped(c, k), set=False, query=True,
                     qargs=(0, 1))
            self.add(f":OUTPut:{rigol}:CLEar", lambda c, k=key: self._prot_clear(c, k), args=(0, 1))
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
            return self.m.channels[self.selected].name
        k = self._channel_token(ctx.param(0))
        if k is None:
            raise ScpiError(-224, f"{ctx.param(0)}: expected {'|'.join(s.name for s in self.m.channels)}")
        self.selected = k
        return None

    def _nselect(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return str(self.selected + 1)
        n = ctx.number(0, "", 1, len(self.m.channels))
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
                spec = self.m.channels[k]
                if keyword is not None:
                    lo, hi = (spec.v_min, spec.v_max) if what == "v" else (0.0, spec.i_max)
                    value = parse_number(keyword, "", {"MINimum": lo if lo >= 0 else hi, "MAXimum": hi if lo >= 0 else lo,
                                                        "DEFault": 0.0 if what == "v" else spec.i_max})
                else:
                    value = self.ch[k].v_set if what == "v" else self.ch[k].i_set
                out.append(self._fmt(value, 3))
            return ",".join(out)
        chans = self._must_channels(ctx, 1) if ctx.has(1) else [self._default_channel(ctx)]
        for k in chans:
            spec = self.m.channels[k]
            if what == "v":
                lo, hi = spec.v_min, spec.v_max
                value = ctx.number(0, "V", lo, hi, {"MINimum": lo if lo >= 0 else hi, "MAXimum": hi if lo >= 0 else lo,
                                                    "DEFault": 0.0})
                self.ch[k].v_set = value
            else:
                value = ctx.number(0, "A", 0.0, spec.i_max, {"MINimum": 0.0, "MAXimum": spec.i_max,
                                                             "DEFault": spec.i_max})
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
            spec = self.m.channels[k]
            top = abs(spec.v_max or spec.v_min) * 1.1 if key == "ov" else spec.i_max * 1.1
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
                self.ch[k].ovp_on = on
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
            k = self._must_channels(ctx, 0)[0]
            spec, state = self.m.channels[k], self.ch[k]
            if self.m.style == "rigol":
                return f"{spec.name}:{spec.label},{state.v_set:.3f},{state.i_set:.3f}"
            return f'"{fmt_e(state.v_set, 6)},{fmt_e(state.i_set, 6)}"'
        chans = self._channels(ctx, 0)
        first = 1
        if chans is None:
            chans, first = [self._default_channel(ctx)], 0
        if not ctx.has(first):
            raise ScpiError(-109, "APPLy needs a voltage")
        if len(ctx) > first + 2:
            raise ScpiError(-108)
        k = chans[0]
        spec = self.m.channels[k]
        lo, hi = spec.v_min, spec.v_max
        v = ctx.number(first, "V", lo, hi, {"MINimum": lo if lo >= 0 else hi, "MAXimum": hi if lo >= 0 else lo,
                                            "DEFault": 0.0})
        i = ctx.number(first + 1, "A", 0.0, spec.i_max, {"MINimum": 0.0, "MAXimum": spec.i_max,
                                                        "DEFault": spec.i_max}) if ctx.has(first + 1) else None
        self.ch[k].v_set = v
        if i is not None:
            self.ch[k].i_set = i
        return None

    def _output(self, ctx: Ctx) -> str | None:
        if ctx.query:
            if self.m.global_output:
                return self._flag(self.ch[0].output)
            chans = self._must_channels(ctx, 0)
            return ",".join(self._flag(self.ch[k].output) for k in chans)
        if len(ctx) == 2:
            listed = self._channels(ctx, 1)
            if listed is not None and parse_chanlist(ctx.param(1)) is not None:
                chans, on = listed, ctx.boolean(0)          # Keysight: OUTP ON,(@1)
            else:
                chans = self._channels(ctx, 0)              # Rigol: :OUTP CH1,ON
                if chans is None:
                    raise ScpiError(-224, f"{ctx.param(0)}: expected a channel")
                on = ctx.boolean(1)
        else:
            chans, on = [self._default_channel(ctx)], ctx.boolean(0)
        if self.m.global_output:
            chans = list(range(len(self.ch)))
        for k in chans:
            state = self.ch[k]
            if on and (state.ovp_tripped or state.ocp_tripped):
                raise ScpiError(-221, f"{self.m.channels[k].name} protection tripped: clear it first")
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


# =================================================================================================
# Meter: Keysight 34465A on the Nernst cell (no current, no ESR).


class Meter(StationInstrument):
    kind = "meter"
    RANGES = (0.1, 1.0, 10.0, 100.0, 1000.0)
    NPLC = (0.001, 0.002, 0.006, 0.02, 0.06, 0.2, 1.0, 10.0, 100.0)

    def __init__(self, station: InstrumentStation, role: str, load: NernstCellLoad):
        self.load = load
        self._last: str | None = None
        super().__init__(station, role, "keysight_34465a", f"Keysight Technologies,34465A,MYEMU0001,{FIRMWARE}")
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


@dataclass(slots=True)
class StationTruth:
    """What is really there (emulation only; for tests and benchmarks, never for the controller)."""

    t_s: float
    lambda_value: float
    o2_pct: float
    hc_ppm: float
    temp_c: float              # electrolyte (Nernst cell)
    heater_temp_c: float
    ri_ohm: float              # the cell's true ESR (bulk + grain boundary, without the arc)
    arc_r_ohm: float
    arc_c_f: float
    arc_v: float               # charge on the electrode arc
    nernst_emf_v: float
    pump_current_a: float      # what flows
    ref_current_a: float       # through the Nernst cell
    heater_v: float            # across the heater element
    heater_r_ohm: float
    pressure_kpa: float
    faults: tuple[str, ...] = field(default_factory=tuple)


class InstrumentStation:
    """Emulated SCPI instruments around one element, in real time. See the module docstring."""

    def __init__(self, element: str | ElementSpec = "lsu49", scenario: str | Scenario = "default", seed: int = 0,
                 pump_model: str = "keithley2400", heater_model: str = "rigol_dp832",
                 nernst_model: str | None = "keithley2450", host: str = "127.0.0.1",
                 ports: dict[str, int] | None = None, *, heater_channel: int | None = None, noise: bool = True,
                 step_s: float = DEFAULT_STEP_S):
        _check_choice("pump_model", pump_model, PUMP_MODELS)
        _check_choice("heater_model", heater_model, HEATER_MODELS)
        if nernst_model in (None, "none", ""):
            nernst_model = None
        else:
            _check_choice("nernst_model", nernst_model, NERNST_MODELS)
        self.host = check_loopback(host)
        self.requested_ports = dict(ports or {})
        for role, port in self.requested_ports.items():
            if role not in ROLES:
                raise ValueError(f"ports: unknown role {role!r}; roles: {', '.join(ROLES)}")
            if not isinstance(port, int) or not 0 <= port <= 65535:
                raise ValueError(f"ports: {role} port must be an integer 0..65535, got {port!r}")
        self.spec = element if isinstance(element, ElementSpec) else load_element(element)
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.seed = int(seed)
        self.noise = bool(noise)
        self.step_s = float(step_s)
        self.models = {"pump": pump_model, "heater": heater_model, "nernst": nernst_model}

        self.lock = threading.RLock()
        self.t_s = 0.0
        self._t0: float | None = None
        self.world = self.scenario.world_at(0.0)
        self.faults: Faults = self.scenario.faults_at(0.0)
        self.element = ElementModel(self.spec, self.scenario.fuel, self.world)
        self.arc_v = 0.0
        self.ref_current = 0.0
        self.physics_error: BaseException | None = None

        self.pump = Smu(self, "pump", SMU_MODELS[pump_model], PumpCellLoad(self))
        self.heater = Supply(self, "heater", SUPPLY_MODELS[heater_model], heater_channel)
        self._nernst_load = NernstCellLoad(self)
        self.nernst: Smu | Meter | None
        if nernst_model is None:
            self.nernst = None
        elif nernst_model == "keysight_34465a":
            self.nernst = Meter(self, "nernst", self._nernst_load)
        else:
            self.nernst = Smu(self, "nernst", SMU_MODELS[nernst_model], self._nernst_load)
        self.instruments: dict[str, StationInstrument] = {"pump": self.pump, "heater": self.heater}
        if self.nernst is not None:
            self.instruments["nernst"] = self.nernst
        self._servers: dict[str, LineServer] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> InstrumentStation:
        if self._servers:
            raise RuntimeError("the station is already running")
        try:
            for role, instrument in self.instruments.items():
                server = LineServer(lambda line, r=role: self._execute(r, line), self.host,
                                    self.requested_ports.get(role, 0), name=f"{role}-{instrument.model_key}")
                self._servers[role] = server
        except OSError:
            for server in self._servers.values():
                server.stop()
            self._servers = {}
            raise
        with self.lock:
            self._t0 = time.monotonic() - self.t_s
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="station-physics", daemon=True)
        self._thread.start()
        for server in self._servers.values():
            server.start()
        return self

    def stop(self) -> None:
        """Outputs off, servers closed, physics stopped. Safe to call twice."""
        with self.lock:
            for instrument in self.instruments.values():
                instrument.safe_off()
        for server in self._servers.values():
            server.stop()
        self._servers = {}
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        with self.lock:
            if self._t0 is not None:
                self.t_s = max(self.t_s, time.monotonic() - self._t0)
            self._t0 = None

    def __enter__(self) -> InstrumentStation:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return bool(self._servers)

    # -- time and physics ---------------------------------------------------------------------------

    def now(self) -> float:
        """Station (scenario) time, s: wall clock since start()."""
        t0 = self._t0
        return self.t_s if t0 is None else time.monotonic() - t0

    def _run(self) -> None:
        while not self._stop.wait(self.step_s):
            try:
                with self.lock:
                    self._advance_to(self.now())
            except Exception as exc:  # keep serving; report once
                if self.physics_error is None:
                    self.physics_error = exc
                    print(f"lambdarig serve instruments: physics error: {type(exc).__name__}: {exc}", file=sys.stderr)

    def advance(self) -> None:
        with self.lock:
            self._advance_to(self.now())

    def _advance_to(self, t_s: float) -> None:
        remaining = t_s - self.t_s
        if remaining < MIN_STEP_S:
            return
        steps = min(max(1, math.ceil(remaining / MAX_STEP_S - 1e-9)), MAX_CATCHUP_STEPS)
        dt = remaining / steps
        for _ in range(steps):
            self._step(dt)

    def _step(self, dt: float) -> None:
        t = self.t_s
        scenario = self.scenario
        self.world = world = scenario.world_at(t)
        self.faults = scenario.faults_at(t)
        pump_a = self.pump.point().current_a
        ref_a = self.nernst.source_current_a() if isinstance(self.nernst, Smu) else 0.0
        self.heater.check_protection()
        heater_v = self.heater.heater_voltage()
        element = self.element
        element.step(dt, world, pump_a, ref_a, heater_v)
        r = element.arc_r_ohm
        tau = r * element.arc_c_f
        if tau > 0.0:
            self.arc_v += (ref_a * r - self.arc_v) * -math.expm1(-dt / tau)
        self.ref_current = ref_a
        self.t_s = t + dt

    def pump_current_a(self) -> float:
        """The pump current flowing now (with the present settings and element state)."""
        return self.pump.point().current_a

    def _execute(self, role: str, line: str) -> str | None:
        with self.lock:
            self._advance_to(self.now())
            return self.instruments[role].execute(line)

    def set_element_temperature(self, temp_c: float, heater_temp_c: float | None = None) -> None:
        """Put the element at a temperature at once (tests: skip the warm-up). The electrode arc is
        settled to the present reference current."""
        with self.lock:
            self._advance_to(self.now())
            element = self.element
            element.cell_temp_k = temp_c + ZERO_C_IN_K
            element.heater_temp_k = (heater_temp_c if heater_temp_c is not None else temp_c) + ZERO_C_IN_K
            self._step(1e-6)
            self.arc_v = self.ref_current * element.arc_r_ohm

    # -- addresses ----------------------------------------------------------------------------------

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.instruments)

    @property
    def ports(self) -> dict[str, int]:
        return {role: server.port for role, server in self._servers.items()}

    def resource(self, role: str) -> str:
        server = self._server(role)
        return f"TCPIP::{server.address[0]}::{server.port}::SOCKET"

    def bound_addresses(self) -> dict[str, tuple[str, int]]:
        return {role: server.address for role, server in self._servers.items()}

    def _server(self, role: str) -> LineServer:
        if role not in self.instruments:
            raise KeyError(f"no {role!r} instrument in this station; roles: {', '.join(self.instruments)}")
        if role not in self._servers:
            raise RuntimeError("the station is not running: call start() first")
        return self._servers[role]

    # -- failure injection --------------------------------------------------------------------------

    def silence(self, role: str, on: bool = True) -> None:
        """The instrument stops answering: what it receives is dropped (nothing runs, reads time out)."""
        self._server(role).silent = bool(on)

    def disconnect(self, role: str) -> None:
        """Close the instrument's open connections (it keeps listening; see refuse())."""
        self._server(role).disconnect()

    def refuse(self, role: str, on: bool = True) -> None:
        """Close every new connection at once (an instrument whose LAN side is gone)."""
        self._server(role).refuse = bool(on)

    def delay(self, role: str, seconds: float) -> None:
        """Wait this long before each reply."""
        self._server(role).delay_s = max(0.0, float(seconds))

    def error_on_next(self, role: str, code: int) -> None:
        """The next command (not *IDN?/*CLS/*ESR?/*STB?/*OPC?/:SYST:ERR?) fails with this SCPI
        error: it is not executed, the error is queued and *ESR? bits set; a query sends no reply."""
        self._server(role)
        with self.lock:
            self.instruments[role].inject_error(code)

    # -- truth and the station file -----------------------------------------------------------------

    def truth(self) -> StationTruth:
        with self.lock:
            self._advance_to(self.now())
            e = self.element
            world = self.world
            return StationTruth(self.t_s, world.lambda_value, e.exhaust_o2_pct, world.hc_ppm, e.temp_c,
                                e.heater_temp_c, e.ri_ohm, e.arc_r_ohm, e.arc_c_f, self.arc_v, e.nernst_emf_v,
                                e.pump_current_a, e.ref_current_a, e.heater_v, e.heater_r_ohm, world.pressure_kpa,
                                self.faults.active())

    def snapshot(self) -> dict:
        with self.lock:
            return {role: inst.snapshot() for role, inst in self.instruments.items()}

    def station_toml(self, loop_hz: float = 50.0) -> str:
        """The station file (schema of hal/station.py) pointing at the running servers."""
        if not self._servers:
            raise RuntimeError("the station is not running: start() it before writing the station file")
        supply_equivalent_v = self.scenario.world_at(0.0).supply_v
        wired = self.heater.m.channels[self.heater.wired]
        meter = isinstance(self.nernst, Meter)
        lines = [
            "# Written by `lambdarig serve instruments` (emulator/instruments.py): emulated SCPI instruments",
            f"# on {self.host}, element {self.spec.name}, scenario {self.scenario.name}, seed {self.seed}.",
            "[station]",
            f'name = "emulated station ({self.spec.name})"',
            _commented(f"loop_hz = {float(loop_hz)!r}", "controller loop rate the station can hold"),
            _commented(f"supply_equivalent_v = {float(supply_equivalent_v)!r}",
                       "the firmware's duty d maps to heater volts V = supply_equivalent_v * sqrt(d)"),
            "",
            _commented("[pump]", "SMU on the pump cell"),
            _commented(f'model = "{self.models["pump"]}"', " | ".join(PUMP_MODELS)),
            f'resource = "{self.resource("pump")}"',
            'read_termination = "\\n"',
            'write_termination = "\\n"',
            f"timeout_ms = {STATION_TIMEOUT_MS}",
            f"compliance_v = {PUMP_COMPLIANCE_V!r}",
            f"current_limit_a = {PUMP_CURRENT_LIMIT_A!r}",
            "",
            _commented("[heater]", "supply channel on the heater"),
            _commented(f'model = "{self.models["heater"]}"', " | ".join(HEATER_MODELS)),
            f'resource = "{self.resource("heater")}"',
            f"channel = {self.heater.wired + 1}",
            'read_termination = "\\n"',
            'write_termination = "\\n"',
            f"timeout_ms = {STATION_TIMEOUT_MS}",
            f"voltage_limit_v = {min(HEATER_VOLTAGE_LIMIT_V, abs(wired.v_max or wired.v_min))!r}",
            f"current_limit_a = {min(HEATER_CURRENT_LIMIT_A, wired.i_max)!r}",
        ]
        if self.nernst is not None:
            lines += [
                "",
                _commented("[nernst]", "optional: SMU (or meter) on the Nernst cell"),
                _commented(f'model = "{self.models["nernst"]}"',
                           "keithley2450 | keithley2400 | keysight_34465a (meter: no current, no ESR)"),
                f'resource = "{self.resource("nernst")}"',
                'read_termination = "\\n"',
                'write_termination = "\\n"',
                f"timeout_ms = {STATION_TIMEOUT_MS}",
                f"reference_current_a = {0.0 if meter else NERNST_REFERENCE_A!r}",
                _commented(f"esr_step_a = {0.0 if meter else NERNST_ESR_STEP_A!r}",
                           "current step for ESR; 0 disables ESR"),
                f"compliance_v = {NERNST_COMPLIANCE_V!r}",
            ]
        return "\n".join(lines) + "\n"

    def write_station_file(self, path: str | os.PathLike, loop_hz: float = 50.0) -> Path:
        target = Path(path)
        text = self.station_toml(loop_hz)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
        return target


def _commented(text: str, comment: str, column: int = 29) -> str:
    return f"{text.ljust(column - 1)} # {comment}"


def _check_choice(option: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{option}: {value!r} is not a supported model; choose one of {', '.join(allowed)}")


# =================================================================================================
# `lambdarig serve instruments`


SERVE_SOURCE = "serve instruments"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Emulated SCPI instruments on 127.0.0.1 (pump SMU, heater supply, Nernst SMU or meter), "
                          "all driven by one emulated element in real time, and a station file pointing at them. "
                          "Runs until Ctrl-C / SIGTERM, then turns the outputs off.")
    parser.add_argument("--element", default="lsu49", metavar="NAME",
                        help="emulated element: name (see `lambdarig element --list`) or .toml path (default lsu49)")
    parser.add_argument("--scenario", default="default", metavar="NAME|FILE",
                        help="built-in scenario name or scenario .toml file (default: default); its last values "
                             "hold after it ends")
    parser.add_argument("--station-out", default="station.toml", metavar="FILE",
                        help="station file to write (default: station.toml)")
    parser.add_argument("--seed", default=None, metavar="N", help="noise seed, integer >= 0 (default: the scenario's)")
    parser.add_argument("--pump-model", default="keithley2400", choices=PUMP_MODELS, help="pump SMU (default keithley2400)")
    parser.add_argument("--heater-model", default="rigol_dp832", choices=HEATER_MODELS,
                        help="heater supply (default rigol_dp832)")
    parser.add_argument("--heater-channel", default=None, type=int, metavar="N",
                        help="supply channel wired to the heater (default: CH1 on the DP832, 2 on the Keysights)")
    parser.add_argument("--nernst-model", default="keithley2450", choices=(*NERNST_MODELS, "none"),
                        help="instrument on the Nernst cell, or none (default keithley2450)")
    parser.add_argument("--loop-hz", default="50", metavar="HZ", help="loop rate written into the station file (default 50)")
    parser.add_argument("--port", action="append", default=[], metavar="ROLE=PORT",
                        help="fixed port for a role (pump, heater, nernst); repeatable (default: ephemeral ports)")
    parser.add_argument("--no-noise", action="store_true", help="readings without noise")
    parser.add_argument("--duration", default=None, metavar="S", help="stop by itself after S seconds (default: run until stopped)")


def _parse_ports(entries: list[str]) -> dict[str, int]:
    ports: dict[str, int] = {}
    for entry in entries:
        role, sep, port = entry.partition("=")
        role = role.strip().lower()
        if not sep or role not in ROLES:
            raise EmulatorInputError(SERVE_SOURCE, "--port", f"{entry!r}: expected ROLE=PORT with ROLE one of {', '.join(ROLES)}")
        try:
            number = int(port.strip(), 10)
        except ValueError:
            number = -1
        if not 1 <= number <= 65535:
            raise EmulatorInputError(SERVE_SOURCE, "--port", f"{entry!r}: PORT must be an integer 1..65535")
        ports[role] = number
    return ports


def _parse_positive(text: str | None, option: str, lo: float, hi: float) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not lo <= value <= hi:
        raise EmulatorInputError(SERVE_SOURCE, option, f"{text!r}: must be a number from {lo:g} to {hi:g}")
    return value


def serve(args: argparse.Namespace) -> int:
    seed = None
    if args.seed is not None:
        try:
            seed = int(str(args.seed).strip(), 10)
        except ValueError:
            seed = -1
        if seed < 0:
            raise EmulatorInputError(SERVE_SOURCE, "--seed", f"{args.seed!r} is not an integer >= 0")
    loop_hz = _parse_positive(args.loop_hz, "--loop-hz", 1.0, 10000.0)
    duration = _parse_positive(args.duration, "--duration", 0.0, 86400.0 * 365)
    ports = _parse_ports(args.port)
    out = Path(args.station_out)
    if out.parent and not out.parent.is_dir():
        raise EmulatorInputError(SERVE_SOURCE, "--station-out", f"{out.parent} is not a directory")
    scenario = load_scenario(args.scenario)
    station = InstrumentStation(args.element, scenario, scenario.seed if seed is None else seed,
                                pump_model=args.pump_model, heater_model=args.heater_model,
                                nernst_model=args.nernst_model, ports=ports, heater_channel=args.heater_channel,
                                noise=not args.no_noise)

    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: stop.set())
    try:
        try:
            station.start()
        except OSError as exc:
            raise EmulatorInputError(SERVE_SOURCE, "--port", str(exc)) from None
        path = station.write_station_file(out, loop_hz)
        print(f"lambdarig serve instruments: element {station.spec.name}, scenario {scenario.name}, "
              f"seed {station.seed}, real time")
        for role, instrument in station.instruments.items():
            extra = f" {station.heater.m.channels[station.heater.wired].name}" if role == "heater" else ""
            print(f"  {role:<7} {instrument.model_key + extra:<22} {station.resource(role)}")
        print(f"station file: {path.resolve()}")
        print("serving; Ctrl-C to stop" if duration is None else f"serving for {duration:g} s")
        sys.stdout.flush()
        stop.wait(duration)
        return 0
    finally:
        station.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if station.physics_error is not None:
            print(f"lambdarig serve instruments: physics error during the run: {station.physics_error}", file=sys.stderr)
        print("stopped: outputs off")
        sys.stdout.flush()
