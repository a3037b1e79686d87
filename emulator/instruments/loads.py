"""What is wired to an instrument's output: the element's cells as loads (the physics of the wiring).

An output asks its load for the operating point its setting gives: a current source drives a
current and gets the voltage the cell needs, unless that exceeds the compliance; then it sits at
the compliance rail with the current the cell lets through there (the compliance flag set). A
voltage source gets the current at which the cell needs that voltage, within its current limit.
Faults act on the wires (pump_open, nernst_open: no current, the source at its rail).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .station import InstrumentStation



@dataclass(slots=True)
class OperatingPoint:
    """What an output does now: current through the load, voltage across it, limited by compliance."""

    current_a: float
    voltage_v: float
    compliance: bool = False


OFF_POINT = OperatingPoint(0.0, 0.0, False)

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
