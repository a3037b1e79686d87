"""The rusEFI wideband control law (rusefi/wideband master), in Python, as a yardstick.

Duck-type compatible with controller.core.Controller for controller.runtime.Runtime:

    from benchmarks.reference_controller import RusefiController
    Runtime(open_frontend("sim:lsu49"), RusefiController()).run(60)

Numbers and structure from the rusEFI wideband firmware (rusefi/wideband; each rule names the file
it comes from):

- Rates (pump_control.cpp, heater_thread.cpp): pump loop every 2 ms (500 Hz); heater loop every
  50 ms (20 Hz), starting 1000 ms after boot; the sampler (ESR, Nernst DC, pump current) runs all the time.
- ESR (sampling.cpp): ESR = R_inj / (3.3 V / V_ac - 1), the AC amplitude smoothed by an EMA with
  alpha 0.002 at 2.5 kHz (tau ~200 ms), starting from 0 (which is why the heater waits 1 s after boot).
  Temperature from the LSU 4.9 ESR table (firmware/sampling.cpp), linear interpolation, clamped;
  ESR above 5000 ohm reads 0 °C.
- Heater (heater_control.cpp): heating-allowed gate without an ECU (CAN state Unknown): supply
  < 7.0 V resets a stability timer, supply > 9.5 V allows heating once the timer has run 0.5 s; not allowed forces
  Preheat (and resets the preheat timer). Preheat 2.0 V; after 5 s (or T > target - 30 °C) the
  WarmupRamp starts at 7 V and adds 0.02 V per 50 ms tick (0.4 V/s) up to 12 V; ClosedLoop when
  T > target - 30 °C; WarmupRamp longer than 60 s -> Stopped (SensorDidntHeat); in ClosedLoop,
  T > target + 100 or T < target - 100 for 0.5 s -> Stopped (overheat / underheat), latched until
  heating is disallowed. ClosedLoop voltage = 7.5 V - PID(target ESR 300 ohm, measured ESR) with
  kP 0.3 V/ohm, kI 0.3 V/(ohm·s), kD 0.01 V·s/ohm, integrator clamped ±3 V, output not clamped
  (error = target - measured: hot -> low ESR -> positive error -> less voltage). The effective
  voltage is capped at 12 V; duty = (V / V_supply)^2 (V_supply < 3 V read as 12 V; >= 23 V -> 0).
  As in master's HeaterControllerBase::Update, the duty squares the voltage ratio with no lower
  clamp, so a negative PID result (cell hotter than target, e.g. in hot exhaust) heats as hard as the
  positive one would; a newer heater_control.cpp guards with `if (heaterVoltage > 0)`:
  `RusefiController(positive_only=True)` applies that guard.
- PID (heater_control.cpp, firmware/pid.cpp): integrator += err·dt·kI, clamped; derivative on the
  error (no filter, last error starts at 0); the state persists across heater states and pump enable/disable.
- Pump (pump_control.cpp): PI on the Nernst DC, target 0.450 V, kP 50 mA/V, kI 10 000 mA/(V·s),
  kD 0, integrator ±10 mA, output in mA, no feed-forward, no output clamp (the board's DAC clamps). Enabled when the
  heater is in ClosedLoop or T >= target - 200 °C; otherwise 0 mA is commanded.
- Lambda (lambda_conversion.cpp): from the *measured* pump current through an EMA with alpha 0.02
  per 2.5 kHz sample (tau ~20 ms); phi = 0.99559 - 0.28299·Ip (rich, Ip < 0) or 0.99559 - 0.44817·Ip (lean), Ip in mA;
  Ip > 1.11 mA -> lambda 2.0, Ip < -3.5 mA -> lambda 0.5; lambda = 1/phi. No O2 %. Valid (master):
  0.35 V < Nernst DC < 0.55 V and lambda > 0.6 and heater ClosedLoop.

It runs on *our* emulated board (±10 mA pump DAC, ±12 mA sense), not on rusEFI's (±5.14 mA DAC,
±2.67 mA sense, pump_control.cpp): the comparison is of control laws, not of boards.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from enum import Enum

try:  # run as a script from benchmarks/ or imported with the repo root on the path
    import _common  # noqa: F401  (sets the import path)
except ImportError:  # pragma: no cover
    pass

from lambdarig.controller.core import Status
from lambdarig.controller.settings import Settings
from lambdarig.hal.types import Command, Sample

# LSU 4.9 ESR (ohm) -> temperature (°C), rusEFI firmware/sampling.cpp.
ESR_BINS_OHM = (80, 100, 150, 200, 250, 300, 350, 400, 450, 550, 650, 800, 1000, 1200, 2500, 4500)
ESR_TEMPS_C = (1030, 972, 888, 840, 806, 780, 761, 744, 729, 703, 686, 665, 642, 628, 567, 500)

TARGET_TEMP_C = 780.0        # heater_control.cpp table, LSU 4.9
TARGET_ESR_OHM = 300.0
NERNST_TARGET_V = 0.450      # pump_control.cpp
INJECT_OHM = 22e3            # sampling.cpp, LSU 4.9 on F1 boards
INJECT_V = 3.3
R_VM_OHM = 0.0               # F1 boards (F0: 10 ohm)

HEATER_BOOT_DELAY_S = 1.0    # heater_thread.cpp: the heater thread sleeps 1000 ms at boot
HEATER_PERIOD_S = 0.050      # heater_thread.cpp: HEATER_CONTROL_PERIOD
PREHEAT_S = 5.0              # heater_control.cpp
WARMUP_TIMEOUT_S = 60.0
BATTERY_OFF_V, BATTERY_ON_V, BATTERY_STABLE_S = 7.0, 9.5, 0.5
PREHEAT_V, RAMP_START_V, RAMP_STEP_V, RAMP_MAX_V, OUTPUT_MAX_V = 2.0, 7.0, 0.02, 12.0, 12.0
NOMINAL_V = 7.5
TEMP_PERSIST_S = 0.5

ESR_TAU_S = 1.0 / (2500.0 * 0.002)   # sampling.cpp: alpha 0.002 at 2.5 kHz
PUMP_ALPHA_PER_SAMPLE, SAMPLE_HZ = 0.02, 2500.0   # pump_control.cpp pump-current EMA


class HeaterState(Enum):
    PREHEAT = "preheat"
    WARMUP_RAMP = "warmup_ramp"
    CLOSED_LOOP = "closed_loop"
    STOPPED = "stopped"


class Pid:
    """firmware/pid.cpp: fixed period, integrator clamp only, derivative on the error."""

    __slots__ = ("kp", "ki", "kd", "clamp", "period_s", "integrator", "last_error")

    def __init__(self, kp: float, ki: float, kd: float, clamp: float, period_s: float):
        self.kp, self.ki, self.kd, self.clamp, self.period_s = kp, ki, kd, clamp, period_s
        self.integrator = 0.0
        self.last_error = 0.0

    def output(self, setpoint: float, observation: float) -> float:
        error = setpoint - observation
        self.integrator += error * self.period_s * self.ki
        d_dt = (error - self.last_error) / self.period_s
        self.last_error = error
        if self.integrator > self.clamp:
            self.integrator = self.clamp
        elif self.integrator < -self.clamp:
            self.integrator = -self.clamp
        return self.kp * error + self.integrator + self.kd * d_dt


def temp_from_esr(esr_ohm: float) -> float:
    """The sampling.cpp table, linear interpolation clamped at the ends; > 5000 ohm reads 0 °C."""
    if esr_ohm > 5000.0 or esr_ohm != esr_ohm:
        return 0.0
    bins = ESR_BINS_OHM
    if esr_ohm <= bins[0]:
        return float(ESR_TEMPS_C[0])
    if esr_ohm >= bins[-1]:
        return float(ESR_TEMPS_C[-1])
    i = bisect_left(bins, esr_ohm)
    x0, x1, y0, y1 = bins[i - 1], bins[i], ESR_TEMPS_C[i - 1], ESR_TEMPS_C[i]
    return y0 + (y1 - y0) * (esr_ohm - x0) / (x1 - x0)


def lambda_from_ip_ma(ip_ma: float) -> float:
    """lambda_conversion.cpp two-slope phi fit for LSU 4.9 (firmware/lambda_conversion.cpp)."""
    if ip_ma > 1.11:
        return 2.0
    if ip_ma < -3.5:
        return 0.5
    phi = 0.99559 - (0.28299 if ip_ma < 0.0 else 0.44817) * ip_ma
    return 1.0 / phi


class RusefiController:
    def __init__(self, settings: Settings | None = None, *, positive_only: bool = False):
        self.positive_only = positive_only
        self.settings = settings or Settings().changed(rates__pump_hz=500.0, rates__heater_hz=20.0,
                                                       rates__telemetry_hz=100.0)
        self.events: list = []                 # rusEFI has no event log
        self.state = HeaterState.PREHEAT
        self.time_to_ready_s: float | None = None
        self.output = Command()
        self.heater_pid = Pid(0.3, 0.3, 0.01, 3.0, HEATER_PERIOD_S)        # heater_control.cpp
        self.pump_pid = Pid(50.0, 10000.0, 0.0, 10.0, 0.002)               # pump_control.cpp (mA)
        self.fault = ""
        self._stopped = False                  # set by stop()/link_lost(): outputs held at 0
        self._next_heater_s = HEATER_BOOT_DELAY_S
        self._heater_started = False
        self._battery_since_s = 0.0
        self._preheat_since_s = 0.0
        self._warmup_since_s = 0.0
        self._over_since_s = self._under_since_s = 0.0
        self._ramp_v = 0.0
        self._heater_v = 0.0
        self._nernst_ac_v = 0.0                # EMA of the ESR injection amplitude, from 0 at boot
        self._ip_ma = 0.0                      # EMA of the measured pump current
        self._last_t_s: float | None = None
        self._now_s = 0.0
        self._last = (math.nan,) * 4           # nernst_v, pump_a, supply_v, ri sample

    # --- sampler (sampling.cpp, pump_control.cpp) ------------------------------------------------------

    @property
    def esr_ohm(self) -> float:
        v_ac = self._nernst_ac_v
        if v_ac <= 0.0:
            return 0.0
        if v_ac >= INJECT_V:
            return math.inf
        return INJECT_OHM / (INJECT_V / v_ac - 1.0) - R_VM_OHM

    @property
    def temp_c(self) -> float:
        return temp_from_esr(self.esr_ohm)

    @property
    def lambda_value(self) -> float:
        return lambda_from_ip_ma(self._ip_ma)

    @property
    def lambda_valid(self) -> bool:
        nernst_v = self._last[0]
        return (self.state is HeaterState.CLOSED_LOOP and 0.35 < nernst_v < 0.55
                and self.lambda_value > 0.6)

    # --- the tick --------------------------------------------------------------------------------

    def tick(self, sample: Sample) -> Command:
        t_s, nernst_v, pump_current_a = sample.t_s, sample.nernst_v, sample.pump_current_a
        ri_ohm, supply_v = sample.ri_ohm, sample.supply_v
        last = self._last_t_s
        dt = t_s - last if last is not None and t_s > last else 0.002
        self._last_t_s = t_s
        self._now_s = t_s
        self._last = (nernst_v, pump_current_a, supply_v, ri_ohm)
        if self._stopped:
            return self.output

        # Sampler: the board averages many ADC samples per 2 ms; the sim gives one averaged reading.
        if ri_ohm == ri_ohm:
            v_ac = INJECT_V * ri_ohm / (INJECT_OHM + ri_ohm) if ri_ohm < 1e12 else INJECT_V
            self._nernst_ac_v += (v_ac - self._nernst_ac_v) * (1.0 - math.exp(-dt / ESR_TAU_S))
        alpha = 1.0 - (1.0 - PUMP_ALPHA_PER_SAMPLE) ** (dt * SAMPLE_HZ)
        self._ip_ma += (pump_current_a * 1e3 - self._ip_ma) * alpha

        if t_s >= self._next_heater_s - 1e-9:
            self._next_heater_s += HEATER_PERIOD_S
            self._heater_tick(t_s, supply_v)

        # Pump loop (pump_control.cpp): enabled in closed loop or when T >= target - 200 °C; else 0 mA.
        temp_c = self.temp_c
        if self.state is HeaterState.CLOSED_LOOP or temp_c >= TARGET_TEMP_C - 200.0:
            self.output.pump_current_a = self.pump_pid.output(NERNST_TARGET_V, nernst_v) * 1e-3
        else:
            self.output.pump_current_a = 0.0

        if self.time_to_ready_s is None and self.lambda_valid:
            self.time_to_ready_s = t_s
        return self.output

    def _heater_tick(self, t_s: float, supply_v: float) -> None:
        if not self._heater_started:  # Configure(): timers reset when the heater thread starts
            self._heater_started = True
            self._battery_since_s = self._preheat_since_s = self._warmup_since_s = t_s
        self.state = self._next_state(t_s, supply_v, self.temp_c)
        volts = self._voltage_for_state(self.state)
        if volts > OUTPUT_MAX_V:
            volts = OUTPUT_MAX_V
        if supply_v < 3.0 or supply_v != supply_v:
            supply_v = 12.0
        ratio = volts / supply_v
        duty = ratio * ratio if volts > 0.0 or not self.positive_only else 0.0
        if supply_v >= 23.0:
            duty, volts = 0.0, 0.0
        self._heater_v = volts
        self.output.heater_duty = min(duty, 1.0)

    def _next_state(self, t_s: float, supply_v: float, temp_c: float) -> HeaterState:
        # Heating-allowed gate with no ECU on CAN (HeaterAllow::Unknown), heater_control.cpp.
        allowed = False
        if supply_v < BATTERY_OFF_V:
            self._battery_since_s = t_s
        elif supply_v > BATTERY_ON_V:
            allowed = t_s - self._battery_since_s >= BATTERY_STABLE_S - 1e-9
        if not allowed:
            self._preheat_since_s = t_s
            self.fault = ""            # the only way out of Stopped
            return HeaterState.PREHEAT

        state = self.state
        closed_loop_c = TARGET_TEMP_C - 30.0
        if state is HeaterState.PREHEAT:
            if t_s - self._preheat_since_s >= PREHEAT_S - 1e-9 or temp_c > closed_loop_c:
                self._ramp_v = RAMP_START_V
                self._warmup_since_s = t_s
                return HeaterState.WARMUP_RAMP
        elif state is HeaterState.WARMUP_RAMP:
            if temp_c > closed_loop_c:
                self._over_since_s = self._under_since_s = t_s
                return HeaterState.CLOSED_LOOP
            if t_s - self._warmup_since_s >= WARMUP_TIMEOUT_S - 1e-9:
                self.fault = "sensor_didnt_heat"
                return HeaterState.STOPPED
        elif state is HeaterState.CLOSED_LOOP:
            if temp_c <= TARGET_TEMP_C + 100.0:
                self._over_since_s = t_s
            if temp_c >= TARGET_TEMP_C - 100.0:
                self._under_since_s = t_s
            if t_s - self._over_since_s >= TEMP_PERSIST_S - 1e-9:
                self.fault = "sensor_overheat"
                return HeaterState.STOPPED
            if t_s - self._under_since_s >= TEMP_PERSIST_S - 1e-9:
                self.fault = "sensor_underheat"
                return HeaterState.STOPPED
        return state

    def _voltage_for_state(self, state: HeaterState) -> float:
        if state is HeaterState.PREHEAT:
            return PREHEAT_V
        if state is HeaterState.WARMUP_RAMP:
            if self._ramp_v < RAMP_MAX_V:
                self._ramp_v += RAMP_STEP_V
            return self._ramp_v
        if state is HeaterState.CLOSED_LOOP:
            return NOMINAL_V - self.heater_pid.output(TARGET_ESR_OHM, self.esr_ohm)
        return 0.0

    # --- commands and reporting ------------------------------------------------------------------

    def _safe(self) -> None:
        self._stopped = True
        self.output.pump_current_a = 0.0
        self.output.heater_duty = 0.0
        self._heater_v = 0.0

    def stop(self) -> None:
        self._safe()
        self.state = HeaterState.STOPPED

    def set_trim(self, trim_ohm: float) -> None:
        """The runtime hands every controller the measured trim resistor; rusEFI's wideband has no
        trim input (it reads the raw pump current), so it is ignored."""

    def link_lost(self, t_s: float, detail: str = "") -> None:
        self._now_s = t_s
        self._safe()

    def status(self) -> Status:
        nernst_v, pump_a, supply_v, _ = self._last
        lam = self.lambda_value
        return Status(self._now_s, self.state.value, lam, math.nan, 14.7 * lam, self.lambda_valid, nernst_v,
                      pump_a, self.esr_ohm, self.temp_c, self._heater_v, self.output.heater_duty, supply_v,
                      self.fault, 0)
