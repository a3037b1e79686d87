"""The controller: one object, ticked at the pump-loop rate with the latest Sample (the measurements
and the time they were taken), returning the Command to apply (pump current, heater duty,
excitation). No I/O, no clock: the time is the sample's.

Per tick (500 Hz): Ri and pump current into their filters, the pump loop. At the heater rate
(20 Hz): temperature, diagnostics, the phase logic of the state machine, the heater voltage and its
duty. Triggers of the state machine fire only when something happens.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from lambdarig.hal.types import Command, Sample

from . import hc_curve
from .analog_out import analog_curves
from .chemistry import VoltageToLambda, metal_oxide_po2_bar
from .conversion import Conversion
from .diagnostics import CODES, Persist
from .heater import HeaterControl
from .profiles import SensorProfile, load_profile
from .pump import PumpLoop
from .settings import Settings
from .statemachine import HEATING, State, build_machine


@dataclass(slots=True)
class Event:
    t_s: float
    code: str
    severity: str
    text: str


@dataclass(slots=True)
class Status:
    """What the firmware reports (telemetry)."""

    t_s: float
    state: str
    lambda_value: float
    o2_pct: float
    afr: float
    lambda_valid: bool
    nernst_v: float
    pump_current_a: float
    ri_ohm: float
    temp_c: float
    heater_v: float
    heater_duty: float
    supply_v: float
    fault: str          # active fault or warning code, "" when none
    saturation: int     # -1 rich limit, +1 lean limit, 0 none
    hc_ppm: float = math.nan   # mixed-potential HC elements only
    analog_out1_v: float = math.nan   # the 0-5 V analog outputs as commanded (settings [analog])
    analog_out2_v: float = math.nan
    heater_allowed: bool = True       # can.heater_allow = "can": the ECU's allow, else always True


def pump_gains(settings: Settings, profile: SensorProfile) -> tuple[float, float]:
    """The pump loop's gains at the configured rate. Continuous-time gains describe the loop the
    designer wants; a slow front end (VISA at 50 Hz) cannot sample fast enough for them, so the
    proportional gain is capped at max_step_gain / (plant gain x period) and the integral scaled
    with it (same zero), which keeps the sampled loop stable."""
    p = settings.pump
    period_s = 1.0 / settings.rates.pump_hz
    cap = p.max_step_gain / (profile.pump_plant_v_per_as * period_s)
    if p.kp_a_per_v <= cap:
        return p.kp_a_per_v, p.ki_a_per_v_s
    return cap, p.ki_a_per_v_s * cap / p.kp_a_per_v


class Controller:
    """The firmware: `tick(sample) -> Command` at the pump-loop rate, `status()` for telemetry."""

    # Set on the instance by the state machine (build_machine): the current state and the trigger
    # that fires an event by name.
    state: State
    trigger: Callable[[str], bool]

    def __init__(self, settings: Settings | None = None, profile: SensorProfile | None = None):
        self.settings = settings or Settings()
        s = self.settings
        self.profile = profile or load_profile(s.sensor.profile_file or s.sensor.element,
                                               s.sensor.characteristic == "calibrated")
        self.heater = HeaterControl(s, self.profile)
        kp, ki = pump_gains(s, self.profile)
        self.pump = PumpLoop(kp, ki, s.pump.nernst_target_v, s.pump.current_min_a, s.pump.current_max_a)
        self.conversion = Conversion(self.profile, s)
        self.mode = self.profile.mode
        self.uses_pump = self.mode != "potentiometric"
        self._voltage_to_lambda: VoltageToLambda | None = None
        if self.mode == "potentiometric":
            buffer = self.profile.reference_buffer
            if buffer is None:  # load_profile refuses such a profile; one built by hand may lack it
                raise ValueError(f"profile {self.profile.name!r}: a potentiometric profile needs reference_buffer")
            conv = self.conversion
            self._voltage_to_lambda = VoltageToLambda(conv.h_c, conv.o_c, lambda tk: metal_oxide_po2_bar(buffer, tk))
        self._cell_v_filtered = math.nan
        self._live_pressure = s.conversion.live_pressure and s.conversion.pressure_compensation
        self._pressure_kpa = math.nan   # the filtered live exhaust pressure (NaN: none seen)
        self._hc_delta_v = math.nan
        # The one Command every tick returns, updated in place (see Command).
        self.command = Command()
        self.events: list[Event] = []
        self.retries: dict[str, int] = {}
        self.fault_code = ""
        self.fault_since_s = 0.0
        self.latched = False
        self.warnings: set[str] = set()
        self.time_to_ready_s: float | None = None
        self._heater_period_s = 1.0 / s.rates.heater_hz
        self._pump_period_s = 1.0 / s.rates.pump_hz
        self._next_slow_s = 0.0
        self._last_t_s: float | None = None
        self._state_since_s = 0.0
        self._warm_up_since_s = 0.0
        self._now_s = 0.0
        self._ip_filtered_a = 0.0
        self._fast_until_s = -1.0
        self._nernst_error_v = 0.0
        self._held_pump_a = 0.0
        # The latest sample: what the slow loop, the diagnostics and status() read.
        self._sample = Sample(math.nan, math.nan, math.nan)
        d = s.diagnostics
        # Fault conditions count up and down (Persist), so a chattering line adds up to a fault; the
        # longest step counted is two heater periods (a check not evaluated meanwhile starts afresh).
        self._persist = {name: Persist(d.persist_s, d.count_up_rate, d.count_down_rate, 2.0 / s.rates.heater_hz)
                         for name in ("supply", "heater_open", "heater_short", "overtemp", "pump_open", "nernst_open",
                                      "heater_overtemp", "nernst_open_warm")}
        # Under-temperature is a warning that restarts the warm-up: it wants a continuous spell.
        self._persist["undertemp"] = Persist(d.persist_s)
        self._persist["signal_invalid"] = Persist(d.invalid_signal_s, d.count_up_rate, d.count_down_rate,
                                                  2.0 / s.rates.heater_hz)
        self._persist["pump_saturated"] = Persist(d.saturation_s)
        self._persist["overheat"] = Persist(d.overheat_s)
        self._persist["nernst_out_of_range"] = Persist(d.saturation_s)
        self._supply_good = Persist(s.supply.stable_s)
        self._analog = analog_curves(s)
        self._analog_period_s = 1.0 / s.analog.update_hz
        self._next_analog_s = -math.inf
        # Heater allow from the ECU (can.heater_allow = "can"): allowed until this time of ours.
        self._allow_by_ecu = s.can.heater_allow == "can"
        self._allow_until_s = -math.inf
        self.machine = build_machine(self)

    # --- state machine hooks ---------------------------------------------------------------------

    def _follow_pressure(self, pressure_kpa: float, dt: float) -> None:
        """A front end with an exhaust-pressure input: compensate with its (filtered) reading instead
        of the static conversion.exhaust_pressure_kpa. Readings outside the schema's 20..400 kPa (or
        none, NaN) are ignored: the last good value, or the static one, stays."""
        if not 20.0 <= pressure_kpa <= 400.0:
            return
        p = self._pressure_kpa
        if p != p:
            p = pressure_kpa
        else:
            tau = self.settings.conversion.pressure_filter_s
            p += (pressure_kpa - p) * (dt / (tau + dt))
        self._pressure_kpa = p
        self.conversion.set_pressure(p)

    def set_trim(self, trim_ohm: float) -> None:
        """The sensor's trim resistor as the front end measured it (NaN: not measured); the runtime
        passes it on at the start of a run (FrontEndInfo.trim_ohm)."""
        self.conversion.set_trim(trim_ohm)

    def is_warm(self) -> bool:
        t = self.heater.temp_c
        return t == t and t >= self.settings.heater.warm_skip_c

    def _entered(self) -> None:
        self._state_since_s = self._now_s

    def on_enter_WAIT_SUPPLY(self) -> None:
        self._entered()
        self._supply_good.reset()
        self._outputs_safe()

    def on_enter_CONDENSATION(self) -> None:
        self._entered()
        self._warm_up_since_s = self._now_s
        self.heater.new_warm_up(self._now_s - self._heater_on_s)

    def on_enter_RAMP(self) -> None:
        if self._last_state is not State.CONDENSATION:
            # A warm-up that skipped condensation (warm cell, re-warm after cooling) starts here.
            self._warm_up_since_s = self._now_s
        self._entered()
        self.heater.start_ramp()

    def on_enter_CLOSED_LOOP(self) -> None:
        self._entered()
        self.heater.start_closed_loop()

    def on_enter_FAULT(self) -> None:
        self._entered()
        self.fault_since_s = self._now_s
        self._outputs_safe()

    def on_enter_STOPPED(self) -> None:
        self._entered()
        self._outputs_safe()

    def _outputs_safe(self) -> None:
        self.command.pump_current_a = 0.0
        self.command.heater_duty = 0.0
        # The analog outputs say "no reading" (their invalid_v) at once: a stop runs no further tick
        # that would set them, and the front end's safe() turns them off.
        self.command.analog_out1_v = self._analog[0].invalid_v
        self.command.analog_out2_v = self._analog[1].invalid_v
        self.heater.off()
        self.pump.enabled = False
        self.pump.reset()

    # --- commands from outside -------------------------------------------------------------------

    def stop(self) -> None:
        if self.state is State.STOPPED:
            return
        self._last_state = self.state
        self.trigger("stop")

    def start(self) -> None:
        """Leave STOPPED; also clears latched faults and retry counts."""
        if self.state is not State.STOPPED:
            return
        self.latched = False
        self.retries.clear()
        self.fault_code = ""
        self._last_state = self.state
        self.trigger("start")

    def link_lost(self, t_s: float, detail: str = "") -> None:
        """The runtime lost the front end: record it and make the outputs safe."""
        self._now_s = t_s
        self._raise("link_loss", detail)

    def report(self, code: str, detail: str = "") -> None:
        """Record a warning that the runtime around the firmware saw (a lost CAN interface)."""
        if CODES[code].severity != "warning":
            raise ValueError(f"{code}: only warnings are reported from outside; faults come from the firmware")
        self._record(code, detail)

    def set_heater_allowed(self, allowed: bool, t_s: float) -> None:
        """The ECU's heater allow, as its last status frame said, received at t_s (the controller's
        time). With can.heater_allow = "can" it holds for can.heater_allow_timeout_s after the frame;
        a frame that says no withdraws it at once."""
        self._allow_until_s = t_s + self.settings.can.heater_allow_timeout_s if allowed else -math.inf

    @property
    def heater_allowed(self) -> bool:
        return not self._allow_by_ecu or self._now_s < self._allow_until_s

    # --- the tick -------------------------------------------------------------------------------

    def tick(self, sample: Sample) -> Command:
        """One pump-loop tick on the latest sample (its t_s is the controller's time); returns the
        controller's Command, updated in place."""
        t_s = sample.t_s
        nernst_v = sample.nernst_v
        pump_current_a = sample.pump_current_a
        last = self._last_t_s
        dt = t_s - last if last is not None else self._pump_period_s
        if dt <= 0.0:
            dt = self._pump_period_s
        self._last_t_s = t_s
        self._now_s = t_s
        self._sample = sample

        self.heater.estimate.add_ri(sample.ri_ohm, dt)
        # A reading that is no number (a dead converter; diagnostics report it) must not poison the
        # filters for good: they hold their values until numbers come back.
        nernst_ok = -math.inf < nernst_v < math.inf
        conv = self.settings.conversion
        if -math.inf < pump_current_a < math.inf:
            # Lambda filter: slow at rest (the pump loop's current jitters with the Nernst noise), fast
            # for a while after the current moves by more than the noise can explain (the gas changed).
            change = pump_current_a - self._ip_filtered_a
            if change > conv.lambda_step_a or change < -conv.lambda_step_a:
                self._fast_until_s = t_s + conv.lambda_fast_hold_s
            tau = conv.lambda_fast_filter_s if t_s < self._fast_until_s else conv.lambda_filter_s
            self._ip_filtered_a += change * (dt / (tau + dt))
        if nernst_ok:
            self._nernst_error_v += (nernst_v - self.pump.target_v - self._nernst_error_v) * (dt / (0.02 + dt))
        sense_v = sample.sense_v
        if self.mode == "hc" and sense_v == sense_v and nernst_ok:
            # The measuring cell minus the control cell: the mixed-potential part alone.
            delta = sense_v - nernst_v
            if self._hc_delta_v != self._hc_delta_v:
                self._hc_delta_v = delta
            self._hc_delta_v += (delta - self._hc_delta_v) * (dt / (conv.lambda_filter_s + dt))
        if self._voltage_to_lambda is not None and nernst_ok:
            # Potentiometric: the cell voltage is the signal; filter it like the pump current.
            if self._cell_v_filtered != self._cell_v_filtered:
                self._cell_v_filtered = nernst_v
            self._cell_v_filtered += (nernst_v - self._cell_v_filtered) * (dt / (conv.lambda_filter_s * 0.2 + dt))

        pump = self.pump
        # The sample was measured under the command of the last tick: the open-line check compares
        # the current with that one, not with the one this tick is about to set.
        self._held_pump_a = self.command.pump_current_a
        if pump.enabled and nernst_ok:   # a NaN reading must not reach the command
            self.command.pump_current_a = pump.update(nernst_v, dt)

        if t_s >= self._next_analog_s:
            self._next_analog_s = t_s + self._analog_period_s
            self._update_analog()

        last_slow = self._last_slow_s
        # A front end may hand the same reading again (a bench rig's stream between two frames):
        # its time has not moved since the last slow tick, so no time passed for the slow loop.
        if t_s >= self._next_slow_s and (last_slow is None or t_s > last_slow):
            self._next_slow_s = max(self._next_slow_s + self._heater_period_s, t_s)
            self._last_slow_s = t_s
            # The time that really passed: a pump rate below the heater rate, or a late tick,
            # must not make the boost accounting or the integrals run slow.
            self._slow(t_s, t_s - last_slow if last_slow is not None else self._heater_period_s)
        return self.command

    _last_state = State.WAIT_SUPPLY
    _pump_since_s = 0.0
    _last_slow_s: float | None = None
    _heater_on_s = -math.inf   # when the heater was last driven

    def _slow(self, t_s: float, dt: float) -> None:
        s = self.settings
        sample = self._sample
        supply_v = sample.supply_v
        temp_c = self.heater.estimate.update(sample.heater_v, sample.heater_a)
        self.heater.track_rate(dt)
        if self._live_pressure:
            self._follow_pressure(sample.pressure_kpa, dt)
        if self.mode == "hc" and temp_c == temp_c:
            self.pump.target_v = self._hc_control_target_v(temp_c)
        state = self.state
        self._last_state = state
        # Overheat, in every state (rusEFI wideband heater_control.cpp: 100 °C above target for
        # 0.5 s): the cell far above target while the heater is off means the exhaust heats it.
        hot = temp_c > s.heater.target_temp_c + s.diagnostics.overheat_margin_c and self.command.heater_duty == 0.0
        self._warn("overheat", self._persist["overheat"].update(hot, t_s), t_s)

        if state in HEATING or state is State.WAIT_SUPPLY:
            self._diagnose(t_s, state, temp_c, sample)
            state = self.state
            self._last_state = state

        heater = self.heater
        if state is State.WAIT_SUPPLY:
            if self._supply_good.update(s.supply.on_v <= supply_v <= s.supply.max_v, t_s):
                self.trigger("supply_ok")
                state = self.state
        elif state is State.FAULT:
            self._maybe_retry(t_s, temp_c)
            return
        if state in (State.RAMP, State.CLOSED_LOOP) and not self.heater_allowed:
            self._record("heater_not_allowed")
            self._last_state = state
            self.trigger("disallowed")
            state = self.state
        if state is State.CONDENSATION:
            heater.condensation()
            if not self.heater_allowed:
                # rusEFI holds its preheat while the ECU says no: condensation and the warm-up's
                # timers start when the allow comes.
                self._state_since_s = self._warm_up_since_s = t_s
            elif t_s - self._state_since_s >= s.heater.condensation_s:
                self._last_state = state
                self.trigger("condensation_done")
                state = self.state
        if state is State.RAMP:
            heater.ramp(dt)
            if temp_c == temp_c and temp_c >= s.heater.target_temp_c - s.heater.closed_loop_margin_c:
                self._last_state = state
                self.trigger("heated")
                state = self.state
            elif t_s - self._warm_up_since_s > s.heater.heat_timeout_s:
                self._raise("did_not_heat")
                return
        if state is State.CLOSED_LOOP:
            heater.closed_loop(dt)

        if state in HEATING:
            duty = self.command.heater_duty = heater.duty_for(heater.voltage_v, supply_v)
            if duty > 0.0:
                self._heater_on_s = t_s
            # Without the ECU's allow the pump rests too (pump 0): the cell is left to cool.
            enable = (self.uses_pump and temp_c == temp_c and self.heater_allowed
                      and temp_c >= s.heater.target_temp_c - s.pump.enable_margin_c)
            if enable and not self.pump.enabled:
                self.pump.reset()
                self.pump.enabled = True
                self._pump_since_s = t_s
            elif not enable and self.pump.enabled:
                self.pump.enabled = False
                self.pump.reset()
                self.command.pump_current_a = 0.0
            if self.time_to_ready_s is None and self.lambda_valid:
                self.time_to_ready_s = t_s
        else:
            self.command.heater_duty = 0.0

    def _diagnose(self, t_s: float, state: State, temp_c: float, sample: Sample) -> None:
        s = self.settings
        nernst_v, pump_a, ri_ohm = sample.nernst_v, sample.pump_current_a, sample.ri_ohm
        heater_v, heater_a, supply_v = sample.heater_v, sample.heater_a, sample.supply_v
        d = s.diagnostics
        p = self._persist
        heating = state in HEATING
        # A front end that hands no numbers (a dead converter, a broken stream) must not leave the
        # firmware waiting for supply forever: it is a fault, in every state that looks.
        invalid = not (-math.inf < supply_v < math.inf and -math.inf < nernst_v < math.inf)
        if p["signal_invalid"].update(invalid, t_s):
            return self._raise("signal_invalid")
        # A supply reading that is no number counts as out of range too: that check is faster
        # (persist_s), so the heater stops first and signal_invalid follows with the cause.
        supply_bad = not (s.supply.off_v <= supply_v <= s.supply.max_v)
        if heating and p["supply"].update(supply_bad, t_s):
            p["supply"].reset()   # heating starts afresh once the supply is back (no fault state resets it)
            self._record("supply_out_of_range")
            self._last_state = state
            self.trigger("supply_lost")
            return
        if not heating:
            return
        driven = self.command.heater_duty >= d.heater_min_duty
        if p["heater_open"].update(driven and heater_a < d.heater_open_max_a, t_s):
            return self._raise("heater_open")
        if p["heater_short"].update(driven and heater_a > 0.05 and heater_v / heater_a < d.heater_short_max_ohm, t_s):
            return self._raise("heater_short")
        # The heater's own resistance is a second, independent thermometer: it catches an
        # overheating cell whose Ri cannot be read, and an open Nernst line during warm-up (a hot
        # heater with a cell that still reads open).
        target = s.heater.target_temp_c
        heater_hot_c = math.nan
        if driven and heater_a > 0.05 and heater_v == heater_v:
            heater_hot_c = self.heater.estimate.heater_temp_from_resistance(heater_v / heater_a)
        limit_c = target + s.heater.overtemp_margin_c + d.heater_temp_margin_c
        if p["heater_overtemp"].update(heater_hot_c > limit_c, t_s):
            return self._raise("overtemp", f"heater resistance says {heater_hot_c:.0f} °C")
        looks_open = nernst_v >= d.nernst_open_v or ri_ohm > d.nernst_open_ohm
        if p["nernst_open_warm"].update(looks_open and heater_hot_c > d.nernst_open_heater_c, t_s):
            return self._raise("nernst_open", "heater hot while the cell reads open")
        # Line checks first: an open line also corrupts the temperature reading.
        if self.pump.enabled or state is State.CLOSED_LOOP:
            if not self.uses_pump:
                if p["nernst_open"].update(looks_open, t_s):
                    return self._raise("nernst_open")
                if looks_open:
                    return
            open_nernst = looks_open
            if p["nernst_open"].update(open_nernst, t_s):
                return self._raise("nernst_open")
            command = self._held_pump_a
            # An open pump line: the driver sits at its rail with (almost) no current, or, where the
            # board does not measure its pump voltage, the current does not follow the command.
            at_rail = abs(sample.pump_v) >= d.pump_rail_v and abs(pump_a) < d.pump_mismatch_a
            not_following = abs(command) > d.pump_mismatch_a and abs(pump_a) < 0.25 * abs(command)
            # Before closed loop a cool cell legitimately cannot pass the current asked of it.
            if p["pump_open"].update((at_rail or not_following) and state is State.CLOSED_LOOP, t_s):
                return self._raise("pump_open")
            if open_nernst or p["nernst_open"].count_s > 0.0:
                # The temperature is unknown while the Nernst line looks open, and for as long as
                # the filtered Ri still carries an open spell (a chattering line); the open-line
                # check, not a temperature warning, is what this is.
                return
            self._warn("pump_saturated", p["pump_saturated"].update(self.pump.saturated != 0, t_s), t_s)
        if p["overtemp"].update(temp_c > target + s.heater.overtemp_margin_c, t_s):
            return self._raise("overtemp")
        if state is State.CLOSED_LOOP and self.uses_pump:
            far = abs(self._nernst_error_v) > d.nernst_range_v
            self._warn("nernst_out_of_range", p["nernst_out_of_range"].update(far, t_s), t_s)
        if state is State.CLOSED_LOOP:
            if p["undertemp"].update(temp_c < target - s.heater.undertemp_margin_c, t_s):
                self._record("undertemp")
                self._last_state = state
                self.trigger("cooled")

    def _warn(self, code: str, active: bool, t_s: float) -> None:
        if active and code not in self.warnings:
            self.warnings.add(code)
            self._record(code)
        elif not active and code in self.warnings:
            self.warnings.discard(code)

    def _record(self, code: str, detail: str = "") -> None:
        info = CODES[code]
        text = f"{info.text}: {detail}" if detail else info.text
        self.events.append(Event(self._now_s, code, info.severity, text))

    def _raise(self, code: str, detail: str = "") -> None:
        self._record(code, detail)
        self.fault_code = code
        for persist in self._persist.values():
            persist.reset()
        self._last_state = self.state
        if self.state is not State.FAULT and self.state is not State.STOPPED:
            self.trigger("fault")
        else:
            self.fault_since_s = self._now_s
            self._outputs_safe()

    def _maybe_retry(self, t_s: float, temp_c: float) -> None:
        s = self.settings
        code = self.fault_code
        if self.latched or code == "link_loss":
            return
        limit = CODES[code].retry_limit
        limit = s.diagnostics.max_retries if limit is None else limit
        if self.retries.get(code, 0) >= limit:
            if not self.latched:
                self.latched = True
            return
        if t_s - self.fault_since_s < s.diagnostics.retry_s:
            return
        if code == "overtemp" and not temp_c < s.heater.target_temp_c:
            return
        self.retries[code] = self.retries.get(code, 0) + 1
        self.fault_code = ""
        self._last_state = self.state
        self.trigger("retry")

    def _hc_control_target_v(self, temp_c: float) -> float:
        """Control-cell voltage that means the compartment holds hc.target_o2_pct, against air."""
        s = self.settings
        p_ratio = 101.325 / s.conversion.exhaust_pressure_kpa
        x_target = s.hc.target_o2_pct / 100.0
        nernst_v = 8.314462618 * (temp_c + 273.15) / (4.0 * 96485.332) * math.log(0.2095 * p_ratio / x_target)
        return nernst_v + s.hc.control_offset_mv / 1000.0

    def hc_ppm_from(self, delta_v: float, temp_c: float) -> float:
        """HC (ppm) from the measuring cell's mixed-potential voltage through the calibrated curve
        (controller/hc_curve.py); NaN without a calibration."""
        return hc_curve.hc_ppm(self.settings.hc, delta_v, temp_c)

    @property
    def hc_unavailable(self) -> str:
        """Why an HC element reports no HC ('' when it can)."""
        return hc_curve.UNCALIBRATED if self.mode == "hc" and not self.settings.hc.calibrated else ""

    # --- reporting ------------------------------------------------------------------------------

    @property
    def lambda_valid(self) -> bool:
        s = self.settings
        temp_c = self.heater.temp_c
        window = s.conversion.valid_nernst_window_v
        if not self.uses_pump:
            # Potentiometric: valid once the heater holds the cell near its target temperature.
            return (self.state is State.CLOSED_LOOP and temp_c >= s.heater.target_temp_c - s.conversion.valid_margin_c
                    and self._now_s - self._state_since_s >= s.conversion.valid_settle_s)
        # The filtered error says the loop holds; the latest reading guards against a line that
        # has just opened (the filter would take a few ticks to see it).
        return (self.pump.enabled and self.state is not State.FAULT
                and self._now_s - self._pump_since_s >= s.conversion.valid_settle_s
                and temp_c >= s.heater.target_temp_c - s.conversion.valid_margin_c
                and abs(self._nernst_error_v) <= window
                and abs(self._sample.nernst_v - self.pump.target_v) <= 2.0 * window)

    def _update_analog(self) -> None:
        """The analog outputs from the present reading through their curves; invalid_v while lambda
        is not valid."""
        cmd = self.command
        if self.lambda_valid:
            lam, _o2, afr = self._reading(self.heater.temp_c)
            out1, out2 = self._analog
            cmd.analog_out1_v = out1.volts(lam if out1.quantity == "lambda" else afr)
            cmd.analog_out2_v = out2.volts(lam if out2.quantity == "lambda" else afr)
        else:
            cmd.analog_out1_v = self._analog[0].invalid_v
            cmd.analog_out2_v = self._analog[1].invalid_v

    def _reading(self, temp_c: float) -> tuple[float, float, float]:
        """(lambda, O2 %, AFR) now; NaN while the firmware has none."""
        if self._voltage_to_lambda is not None and self.state is State.CLOSED_LOOP:
            lam = self._voltage_to_lambda(self._cell_v_filtered, temp_c + 273.15)
            x_o2 = self.conversion.o2_fraction_of_lambda(lam)
            o2_pct, afr = 100.0 * x_o2, lam * self.conversion.afr_stoich
        elif self.pump.enabled and self.mode == "wideband":
            lam, o2_pct, afr = self.conversion.convert(self._ip_filtered_a, temp_c)
        else:
            lam = o2_pct = afr = math.nan
        return lam, o2_pct, afr

    def status(self) -> Status:
        # Once per telemetry tick, inside the control loop: each value is read once (the state's
        # value through `_value_`, a plain attribute, not Enum's `value` descriptor).
        sample, heater, command = self._sample, self.heater, self.command
        estimate = heater.estimate
        temp_c = estimate.temp_c
        lam, o2_pct, afr = self._reading(temp_c)
        valid = self.lambda_valid
        hc_ppm = self.hc_ppm_from(self._hc_delta_v, temp_c) if valid and self.mode == "hc" else math.nan
        warnings = self.warnings
        fault = self.fault_code or (min(warnings) if warnings else "")   # the first warning by name
        return Status(self._now_s, self.state._value_, lam, o2_pct, afr, valid, sample.nernst_v,
                      sample.pump_current_a, estimate.ri_filtered, temp_c, heater.voltage_v, command.heater_duty,
                      sample.supply_v, fault, self.pump.saturated, hc_ppm, command.analog_out1_v,
                      command.analog_out2_v, self.heater_allowed)
