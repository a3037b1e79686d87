"""Heater control: condensation, ramp and closed loop on cell temperature, as an effective (RMS)
heater voltage, turned into a PWM duty from the measured supply (duty = (V_eff / V_supply)^2).

The warm-up rules are enforced here and bounded by the settings schema: condensation <= 2 V, ramp
start <= 8.5 V, <= 0.4 V/s, at most 13 V and only for boost_max_s in all, <= 12 V otherwise.
Closed loop: feed-forward + PI on temperature (from the filtered Ri through the profile's ESR
table, optionally fused with the heater's own resistance), anti-windup by clamping and by
stopping integration while the output is saturated.
"""

from __future__ import annotations

import math

from .profiles import SensorProfile
from .settings import Settings


class TemperatureEstimate:
    """Cell temperature from Ri (filtered), optionally fused with heater resistance.

    Heater resistance follows the heater track, which runs hotter than the cell by a load-dependent
    amount; the fusion learns that offset while Ri is good and holds on heater resistance alone
    when Ri is missing (excitation off, Ri not measured by the front end).

    The heater's cold resistance varies from sensor to sensor (Bosch gives 3.2 Ω typical, at least
    1.8 Ω at -40 °C): the first time the heater is driven while the cell reads cold, its resistance is
    taken as this sensor's cold resistance (at an assumed 20 °C), so the heater thermometer (and the
    over-temperature check that uses it) does not read a high-resistance unit as overheated."""

    __slots__ = ("profile", "tau_s", "use_heater", "ri_filtered", "temp_c", "offset_c", "heater_temp_c",
                 "r_cold_ohm", "r_cold_learned")

    COLD_CELL_C = 100.0          # the cell reads below this: the heater track is near ambient
    # Ri this many times the ESR table's coldest entry also means a cold cell. A table that ends
    # high (LSU ADV: 528 °C at 6 kΩ) extrapolates a cold cell's Ri to a few hundred °C, which is no
    # temperature at all. With zirconia's ~1 eV activation energy (an assumption of the usual YSZ
    # range, not fitted to anything), 100x the coldest entry is >= 150 K below the table's floor.
    COLD_RI_BEYOND_TABLE = 100.0
    R_COLD_PLAUSIBLE = (0.5, 1.6)   # learned / data-sheet value outside this: a line fault, not a unit

    def __init__(self, profile: SensorProfile, tau_s: float, use_heater: bool):
        self.profile = profile
        self.tau_s = tau_s
        self.use_heater = use_heater
        self.r_cold_ohm = profile.heater_r_cold_ohm
        self.r_cold_learned = False
        self.reset()

    def heater_temp_from_resistance(self, resistance_ohm: float) -> float:
        """Heater-track temperature from its terminal resistance (linear TCR, this unit's cold value)."""
        return 20.0 + (resistance_ohm / self.r_cold_ohm - 1.0) / self.profile.heater_alpha_per_k

    def _cell_reads_cold(self, t_ri: float) -> bool:
        return (t_ri != t_ri or t_ri < self.COLD_CELL_C
                or self.ri_filtered >= self.COLD_RI_BEYOND_TABLE * self.profile.esr_ohm[-1])

    def _learn_cold_resistance(self, resistance_ohm: float, t_ri: float) -> None:
        if self.r_cold_learned or not self._cell_reads_cold(t_ri):
            return
        self.r_cold_learned = True
        lo, hi = self.R_COLD_PLAUSIBLE
        if lo <= resistance_ohm / self.profile.heater_r_cold_ohm <= hi:
            self.r_cold_ohm = resistance_ohm

    def reset(self) -> None:
        self.ri_filtered = math.nan
        self.temp_c = math.nan
        self.offset_c = 0.0
        self.heater_temp_c = math.nan

    def add_ri(self, ri_ohm: float, dt_s: float) -> None:
        if not ri_ohm > 0.0 or ri_ohm == math.inf:
            return
        if self.ri_filtered != self.ri_filtered:  # first value
            self.ri_filtered = ri_ohm
        else:
            alpha = dt_s / (self.tau_s + dt_s)
            self.ri_filtered += alpha * (ri_ohm - self.ri_filtered)

    def update(self, heater_v: float, heater_a: float) -> float:
        t_ri = self.profile.temp_from_esr(self.ri_filtered) if self.ri_filtered == self.ri_filtered else math.nan
        t_heater = math.nan
        if heater_a > 0.05 and heater_v == heater_v:
            self._learn_cold_resistance(heater_v / heater_a, t_ri)
            t_heater = self.heater_temp_from_resistance(heater_v / heater_a)
        self.heater_temp_c = t_heater
        if t_ri == t_ri:
            if t_heater == t_heater:
                self.offset_c += 0.05 * ((t_heater - t_ri) - self.offset_c)
            self.temp_c = t_ri
        elif self.use_heater and t_heater == t_heater:
            self.temp_c = t_heater - self.offset_c
        return self.temp_c


class HeaterControl:
    def __init__(self, settings: Settings, profile: SensorProfile):
        h = settings.heater
        self.h = h
        self.estimate = TemperatureEstimate(profile, h.temp_filter_s, h.temp_source == "ri+heater")
        self.voltage_v = 0.0
        self.integral_v = 0.0
        self.boost_used_s = 0.0
        self.ramp_v = h.ramp_start_v
        self._last_temp_c = math.nan
        self._rate_k_per_s = 0.0

    @property
    def temp_c(self) -> float:
        return self.estimate.temp_c

    def new_warm_up(self, heater_off_s: float) -> None:
        """A warm-up begins. The boost allowance (time above continuous_max_v) starts afresh only
        after the heater has rested `boost_rest_s`: retries must not each get a new 30 s at 13 V."""
        if heater_off_s >= self.h.boost_rest_s:
            self.boost_used_s = 0.0

    def off(self) -> float:
        self.voltage_v = 0.0
        return 0.0

    def condensation(self) -> float:
        self.voltage_v = self.h.condensation_v
        return self.voltage_v

    def start_ramp(self) -> None:
        self.ramp_v = min(self.h.ramp_start_v, self.cap_v())

    def cap_v(self) -> float:
        h = self.h
        return h.boost_max_v if self.boost_used_s < h.boost_max_s else h.continuous_max_v

    def _account_boost(self, dt_s: float) -> None:
        if self.voltage_v > self.h.continuous_max_v:
            self.boost_used_s += dt_s

    def ramp(self, dt_s: float) -> float:
        """The ramp's voltage now; the first call gives the start voltage itself."""
        self._account_boost(dt_s)
        self.voltage_v = min(self.ramp_v, self.cap_v())
        self.ramp_v = self.voltage_v + self.h.ramp_rate_v_per_s * dt_s
        return self.voltage_v

    def start_closed_loop(self) -> None:
        """Hand over from the ramp with the integral empty: the feed-forward carries the steady
        state and the P term the remaining error. Keeping the ramp's voltage (bumpless transfer)
        would overshoot, because the heater track runs tens of kelvin above the cell during the
        ramp and that stored heat still flows into the cell."""
        self.integral_v = 0.0

    def track_rate(self, dt_s: float) -> None:
        """Filtered dT/dt for the derivative term (on the measurement, so set-point changes do not kick)."""
        temp_c = self.temp_c
        last = self._last_temp_c
        self._last_temp_c = temp_c
        if temp_c == temp_c and last == last:
            rate = (temp_c - last) / dt_s
            self._rate_k_per_s += 0.5 * (rate - self._rate_k_per_s)

    def closed_loop(self, dt_s: float) -> float:
        h = self.h
        self._account_boost(dt_s)
        error = h.target_temp_c - self.temp_c
        if error != error:
            return self.voltage_v
        integral = self.integral_v + h.ki_v_per_k_s * error * dt_s
        if integral > h.integral_limit_v:
            integral = h.integral_limit_v
        elif integral < -h.integral_limit_v:
            integral = -h.integral_limit_v
        output = h.feedforward_v + h.kp_v_per_k * error + integral - h.kd_v_s_per_k * self._rate_k_per_s
        cap = h.continuous_max_v
        if output > cap:
            output = cap
            integral = min(integral, self.integral_v)  # do not wind further up
        elif output < 0.0:
            output = 0.0
            integral = max(integral, self.integral_v)
        self.integral_v = integral
        self.voltage_v = output
        return output

    @staticmethod
    def duty_for(voltage_v: float, supply_v: float) -> float:
        """PWM duty that gives this RMS voltage from the supply."""
        if not supply_v > 1.0 or voltage_v <= 0.0:
            return 0.0
        duty = (voltage_v / supply_v) ** 2
        return duty if duty < 1.0 else 1.0
