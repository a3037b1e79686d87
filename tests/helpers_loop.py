"""Test-local controllers for driving an EmulatedRig in virtual time.

Deliberately small and independent of controller/: a Bosch warm-up profile, a PI heater loop on the
measured Ri and the rusEFI-style PI pump loop that holds the Nernst cell at its target. Everything the
loops see comes from `rig.sample()` (the front end's measurements), never from the emulator's truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from lambdarig.emulator.rig import EmulatedRig
from lambdarig.emulator.scenario import Scenario, scenario_from_dict

PUMP_PERIOD_S = 0.002          # 500 Hz pump loop
HEATER_PERIOD_S = 0.05         # 20 Hz heater loop
NERNST_TARGET_V = 0.45
RI_TARGET_OHM = 300.0          # LSU 4.9 operating point, 780 °C

# Bosch warm-up (TPI 2005): condensation at <= 2 V, then 8.5 V rising 0.4 V/s, capped at 13 V.
CONDENSATION_V = 2.0
RAMP_START_V = 8.5
RAMP_V_PER_S = 0.4
RAMP_CAP_V = 13.0


def scenario(**data) -> Scenario:
    """An inline scenario (docs/scenarios.md format); duration defaults to 60 s."""
    data.setdefault("duration_s", 60.0)
    return scenario_from_dict(data, "scenario (test)")


def bosch_warmup_v(t_s: float, condensation_s: float) -> float:
    """Effective heater voltage of the Bosch warm-up at t_s after the heater was switched on."""
    if t_s < condensation_s:
        return CONDENSATION_V
    return min(RAMP_START_V + RAMP_V_PER_S * (t_s - condensation_s), RAMP_CAP_V)


def duty_for(volts: float, supply_v: float) -> float:
    """RMS-correct PWM duty for an effective heater voltage: d = (V/V_supply)^2, clamped to [0, 1]."""
    if supply_v <= 0.0:
        return 0.0
    return min(max((volts / supply_v) ** 2, 0.0), 1.0)


@dataclass
class PumpPI:
    """PI on the Nernst voltage; Nernst above target (rich node) -> pump current decreases.

    Continuous-time gains: kp in A/V, ki in A/(V·s); integrator clamped to +-limit_a (anti-windup).
    """

    kp: float = 0.05
    ki: float = 10.0
    target_v: float = NERNST_TARGET_V
    period_s: float = PUMP_PERIOD_S
    limit_a: float = 10e-3
    integral_a: float = 0.0

    def update(self, nernst_v: float) -> float:
        error = nernst_v - self.target_v
        self.integral_a = min(max(self.integral_a - self.ki * error * self.period_s, -self.limit_a), self.limit_a)
        return min(max(self.integral_a - self.kp * error, -self.limit_a), self.limit_a)


@dataclass
class HeaterPI:
    """PI on the measured Ri (Ri above target = too cold -> more heater voltage), volts out."""

    kp_v_per_ohm: float = 0.05
    ki_v_per_ohm_s: float = 0.05
    target_ohm: float = RI_TARGET_OHM
    feed_forward_v: float = 7.5
    max_v: float = 12.0
    period_s: float = HEATER_PERIOD_S
    integral_v: float = 0.0

    def update(self, ri_ohm: float) -> float:
        if math.isnan(ri_ohm):                 # no ESR reading: hold the last output
            return self._output(0.0)
        error = ri_ohm - self.target_ohm
        held = self.integral_v
        self.integral_v += self.ki_v_per_ohm_s * error * self.period_s
        out = self._output(error)
        if not 0.0 < out < self.max_v:         # saturated: stop integrating (anti-windup)
            self.integral_v = held
            out = self._output(error)
        return min(max(out, 0.0), self.max_v)

    def _output(self, error: float) -> float:
        return self.feed_forward_v + self.integral_v + self.kp_v_per_ohm * error


@dataclass
class Record:
    """Readings per pump-loop tick. temp_c is the emulator's truth: for the tests to judge by, the
    loops never look at it."""

    t_s: list[float] = field(default_factory=list)
    nernst_v: list[float] = field(default_factory=list)
    pump_current_a: list[float] = field(default_factory=list)
    ri_ohm: list[float] = field(default_factory=list)
    temp_c: list[float] = field(default_factory=list)

    def window(self, t0: float, t1: float = math.inf) -> Record:
        out = Record()
        for i, t in enumerate(self.t_s):
            if t0 <= t < t1:
                out.t_s.append(t)
                out.nernst_v.append(self.nernst_v[i])
                out.pump_current_a.append(self.pump_current_a[i])
                out.ri_ohm.append(self.ri_ohm[i])
                out.temp_c.append(self.temp_c[i])
        return out


class Controller:
    """Warm-up (Bosch profile) -> heater PI on measured Ri, and the pump PI at 500 Hz once hot."""

    # Closed-loop heater once the measured Ri is within this of the target (cell ~730 °C).
    HEATER_CLOSE_OHM = 450.0
    # The pump loop starts when the measured Ri says the cell is above ~700 °C.
    PUMP_ENABLE_OHM = 600.0

    def __init__(self, rig: EmulatedRig, condensation_s: float = 3.0, pump: PumpPI | None = None,
                 heater: HeaterPI | None = None):
        self.rig = rig
        self.condensation_s = condensation_s
        self.pump = pump or PumpPI()
        self.heater = heater or HeaterPI()
        self.heater_closed = False
        self.pump_on = False
        self.heater_v = 0.0
        self.pump_command_a = 0.0
        self.record = Record()
        self._next_heater_s = 0.0
        self.hot_at_s: float | None = None   # when the heater loop closed

    def run_until(self, t_end_s: float, record_from_s: float = math.inf, observer=None) -> Record:
        """Run the loops up to t_end_s (virtual). Samples from record_from_s on go to self.record;
        observer(t, reading, controller), when given, is called after every pump-loop tick."""
        rig = self.rig
        t = rig.t_s
        step = PUMP_PERIOD_S
        while t < t_end_s - 1e-9:
            t = round(t + step, 9)
            rig.advance_to(t)
            reading = rig.sample()
            if t >= self._next_heater_s - 1e-9:
                self._next_heater_s = t + HEATER_PERIOD_S
                self._heater_step(t, reading)
            if not self.pump_on and not math.isnan(reading.ri_ohm) and reading.ri_ohm < self.PUMP_ENABLE_OHM:
                self.pump_on = True
            if self.pump_on:
                self.pump_command_a = self.pump.update(reading.nernst_v)
                rig.apply(pump_current_a=self.pump_command_a)
            if t >= record_from_s:
                rec = self.record
                rec.t_s.append(t)
                rec.nernst_v.append(reading.nernst_v)
                rec.pump_current_a.append(reading.pump_current_a)
                rec.ri_ohm.append(reading.ri_ohm)
                rec.temp_c.append(rig.element.temp_c)
            if observer is not None:
                observer(t, reading, self)
        return self.record

    def _heater_step(self, t: float, reading) -> None:
        if not self.heater_closed:
            self.heater_v = bosch_warmup_v(t, self.condensation_s)
            if (t >= self.condensation_s and not math.isnan(reading.ri_ohm)
                    and reading.ri_ohm < self.HEATER_CLOSE_OHM):
                self.heater_closed = True
                self.hot_at_s = t
        if self.heater_closed:
            self.heater_v = self.heater.update(reading.ri_ohm)
        self.rig.apply(heater_duty=duty_for(self.heater_v, reading.supply_v))


def percentile(values: list[float], q: float) -> float:
    """q-th percentile (0..100), linear interpolation between order statistics."""
    data = sorted(values)
    if not data:
        raise ValueError("no data")
    pos = (len(data) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def mean(values: list[float]) -> float:
    return sum(values) / len(values)
