"""The analog front end between firmware and element: what a real interface board does to the
signals, so the firmware sees realistic numbers rather than the element's truth.

- Pump: a current DAC (range, resolution) driving the pump cell through a source with a compliance
  voltage; the current that actually flows is measured across a shunt by an ADC, with noise.
- Nernst: the DC terminal voltage through an input network (bias resistor to a bias voltage, so an
  open or cold cell reads the bias), an ADC with noise.
- Ri (ESR): a square wave injected through a resistor, demodulated from the Nernst node as real
  front ends do (ESR = R_inj / (V_inj / V_ac - 1)); the electrode arc partly charges within each
  half period (a bias), the bias resistor loads the node, ADC noise averages over the samples taken
  within one reading, and the result is quantised.
- Reference pumping: a current source (20 µA) with a compliance voltage into the Nernst cell.
- Heater: low-side PWM from the supply; RMS voltage V_s*sqrt(duty); current sensed with noise; an
  over-current limit; insulation leakage from the heater into the Nernst input.
Line faults (open pump, open Nernst, open or shorted heater, supply drop) act here, on the wiring.
Noise is seeded: the same seed gives the same run. Deviates come from a seeded table of standard
normals drawn once (two tables of coprime lengths, summed), which keeps the
per-sample cost to two indexes and a multiply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .element import ElementModel
from .world import NO_FAULTS, Faults, World


@dataclass(frozen=True)
class FrontEndSpec:
    pump_dac_min_a: float = -10e-3
    pump_dac_max_a: float = 10e-3
    pump_dac_bits: int = 16
    pump_compliance_v: float = 2.5
    pump_adc_range_a: float = 12e-3      # ± full scale of the shunt ADC (61.9 ohm, gain 2, 16 bit)
    pump_adc_bits: int = 16
    pump_noise_a: float = 1.5e-6         # rms per sample (ETAS: 30 µA pp raw, far less filtered)
    nernst_adc_min_v: float = -1.5
    nernst_adc_max_v: float = 2.0
    nernst_adc_bits: int = 16
    nernst_noise_v: float = 0.25e-3      # rms per sample
    nernst_bias_ohm: float = 1e6
    nernst_bias_v: float = 1.2
    ref_current_a: float = 20e-6
    ref_compliance_v: float = 3.0
    esr_inject_ohm: float = 22e3
    esr_inject_v: float = 3.3
    esr_frequency_hz: float = 2500.0
    esr_adc_noise_v: float = 0.5e-3      # rms per ADC sample of the AC demodulator
    esr_samples_per_s: float = 5000.0    # two ADC samples per excitation period
    heater_pwm_hz: float = 100.0
    heater_duty_bits: int = 12
    heater_current_limit_a: float = 8.0
    heater_short_ohm: float = 0.05
    heater_current_noise_a: float = 3e-3
    heater_voltage_noise_v: float = 5e-3
    supply_noise_v: float = 10e-3


@dataclass(slots=True)
class FrontEndReading:
    """One sample as the board reports it."""

    t_s: float
    nernst_v: float
    pump_current_a: float
    ri_ohm: float            # math.nan while the excitation is off
    heater_v: float          # RMS voltage on the heater terminals
    heater_a: float          # RMS heater current
    supply_v: float
    pump_v: float            # pump-driver output voltage (at the compliance rail when saturated)


# Two tables of coprime prime lengths, summed: the combined sequence repeats after ~4.3e9 draws.
NOISE_TABLE_LENGTHS = (65521, 65519)
SQRT_HALF = 0.7071067811865476


def _quantise(value: float, lo: float, hi: float, bits: int) -> float:
    """An ADC/DAC code: 2**bits steps over [lo, hi], with a code for exactly zero when lo < 0 < hi
    (a bipolar converter), clamped to the range."""
    if value <= lo:
        return lo
    if value >= hi:
        return hi
    lsb = (hi - lo) / (1 << bits)
    if lo < 0.0 < hi:
        return round(value / lsb) * lsb
    return lo + round((value - lo) / lsb) * lsb


class AnalogFrontEnd:
    def __init__(self, element: ElementModel, spec: FrontEndSpec | None = None, seed: int = 0):
        self.element = element
        self.spec = spec or FrontEndSpec()
        rng = np.random.default_rng(seed)
        self._noise_a = rng.standard_normal(NOISE_TABLE_LENGTHS[0]).tolist()
        self._noise_b = rng.standard_normal(NOISE_TABLE_LENGTHS[1]).tolist()
        self._noise_i = 0
        self._noise_j = 0
        self.pump_command_a = 0.0
        self.heater_duty = 0.0
        self.excitation_on = True
        self.faults: Faults = NO_FAULTS
        self.supply_v = 13.5
        self.pump_actual_a = 0.0
        self.pump_drive_v = 0.0
        self.ref_actual_a = 0.0
        self.heater_element_v = 0.0
        self.heater_terminal_v = 0.0
        self.heater_current_a = 0.0
        self.last_world: World | None = None

    # --- what the firmware sets ----------------------------------------------------------------

    def set_pump_current(self, amps: float) -> float:
        """Command the pump-current DAC; returns the quantised set-point."""
        s = self.spec
        self.pump_command_a = _quantise(amps, s.pump_dac_min_a, s.pump_dac_max_a, s.pump_dac_bits)
        return self.pump_command_a

    def set_heater_duty(self, duty: float) -> float:
        self.heater_duty = _quantise(duty, 0.0, 1.0, self.spec.heater_duty_bits)
        return self.heater_duty

    def set_excitation(self, on: bool) -> None:
        """ESR excitation and reference pumping (a front end switches both with the cell's bias)."""
        self.excitation_on = bool(on)

    def safe(self) -> None:
        self.set_pump_current(0.0)
        self.set_heater_duty(0.0)

    # --- physics of the wiring -----------------------------------------------------------------

    def advance(self, dt_s: float, world: World, supply_v: float, faults: Faults = NO_FAULTS) -> None:
        """Drive the element for dt_s with the present commands."""
        self.faults = faults
        self.supply_v = supply_v
        self.last_world = world
        element = self.element
        self._settle_pump(faults)
        self._settle_reference(faults)
        self._settle_heater(supply_v, faults)
        element.step(dt_s, world, self.pump_actual_a, self.ref_actual_a, self.heater_element_v)

    def _settle_pump(self, faults: Faults) -> None:
        element = self.element
        command = self.pump_command_a
        compliance = self.spec.pump_compliance_v
        if faults.pump_open:
            self.pump_actual_a = 0.0
            self.pump_drive_v = compliance if command > 0.0 else -compliance if command < 0.0 else 0.0
            return
        needed_v = element.pump_voltage(command)
        if -compliance <= needed_v <= compliance:
            self.pump_actual_a = command
            self.pump_drive_v = needed_v
            return
        # Saturated: the source sits at its rail and passes what the cell lets through. V(I) rises
        # monotonically (Nernst term + ohmic + asinh overvoltage): safeguarded Newton on [lo, hi],
        # started from the last current, so a steady saturation costs one or two evaluations.
        rail = compliance if needed_v > 0.0 else -compliance
        lo, hi = (0.0, command) if command > 0.0 else (command, 0.0)
        v_zero = element.pump_voltage(0.0)
        if (rail > 0.0 and v_zero >= rail) or (rail < 0.0 and v_zero <= rail):
            current = 0.0  # the cell's own EMF already exceeds the rail
        else:
            current = min(max(self.pump_actual_a, lo), hi)
            for _ in range(40):
                error = element.pump_voltage(current) - rail
                if error > 0.0:
                    hi = current
                else:
                    lo = current
                if abs(error) < 1e-7 or hi - lo < 1e-12:
                    break
                slope = element.pump_slope_ohm(current)
                guess = current - error / slope
                current = guess if lo < guess < hi else 0.5 * (lo + hi)
        self.pump_actual_a = current
        self.pump_drive_v = rail

    def _settle_reference(self, faults: Faults) -> None:
        if faults.nernst_open or not self.excitation_on or self.element.spec.reference.kind != "pumped":
            self.ref_actual_a = 0.0
            return
        element = self.element
        limit = self.spec.ref_compliance_v / (element.ri_ohm + element.arc_r_ohm)
        self.ref_actual_a = min(self.spec.ref_current_a, limit)

    def _settle_heater(self, supply_v: float, faults: Faults) -> None:
        s = self.spec
        duty = self.heater_duty
        v_rms = supply_v * math.sqrt(duty)
        self.heater_terminal_v = v_rms
        if faults.heater_open or duty <= 0.0:
            self.heater_element_v = 0.0
            self.heater_current_a = 0.0
        elif faults.heater_short:
            self.heater_element_v = 0.0
            self.heater_current_a = min(supply_v / s.heater_short_ohm, s.heater_current_limit_a) * math.sqrt(duty)
            self.heater_terminal_v = self.heater_current_a * s.heater_short_ohm
        else:
            r = self.element.heater_r_ohm
            on_current = supply_v / r
            if on_current > s.heater_current_limit_a:
                # Current limit: the driver ends each pulse early; the element sees less.
                on_current = s.heater_current_limit_a
                v_rms = on_current * r * math.sqrt(duty)
            self.heater_element_v = v_rms
            self.heater_current_a = on_current * math.sqrt(duty)

    # --- what the firmware reads ---------------------------------------------------------------

    def _gauss(self) -> float:
        i = self._noise_i + 1
        if i == NOISE_TABLE_LENGTHS[0]:
            i = 0
        j = self._noise_j + 1
        if j == NOISE_TABLE_LENGTHS[1]:
            j = 0
        self._noise_i = i
        self._noise_j = j
        return (self._noise_a[i] + self._noise_b[j]) * SQRT_HALF

    def sample(self, t_s: float, interval_s: float = 0.002) -> FrontEndReading:
        s = self.spec
        element = self.element
        gauss = self._gauss
        faults = self.faults

        # Nernst DC: terminal voltage, heater leakage, then the input network's bias divider.
        if faults.nernst_open:
            nernst = s.nernst_bias_v
        else:
            ri = element.ri_ohm
            leak_a = self.supply_v * self.heater_duty / element.spec.coupling.heater_leak_ohm
            terminal = element.nernst_terminal_v(self.pump_actual_a, self.ref_actual_a) + leak_a * ri
            z_dc = ri + element.arc_r_ohm
            nernst = terminal + (s.nernst_bias_v - terminal) * z_dc / (z_dc + s.nernst_bias_ohm)
        nernst_v = _quantise(nernst + s.nernst_noise_v * gauss(), s.nernst_adc_min_v, s.nernst_adc_max_v,
                             s.nernst_adc_bits)

        pump_range = s.pump_adc_range_a
        pump_a = _quantise(self.pump_actual_a + s.pump_noise_a * gauss(), -pump_range, pump_range,
                           s.pump_adc_bits)

        ri_ohm = self._measure_esr(interval_s) if self.excitation_on else math.nan

        heater_v = max(self.heater_terminal_v + s.heater_voltage_noise_v * gauss(), 0.0)
        heater_a = max(self.heater_current_a + s.heater_current_noise_a * gauss(), 0.0)
        supply_v = self.supply_v + s.supply_noise_v * gauss()
        return FrontEndReading(t_s, nernst_v, pump_a, ri_ohm, heater_v, heater_a, supply_v, self.pump_drive_v)

    def _measure_esr(self, interval_s: float) -> float:
        s = self.spec
        element = self.element
        if self.faults.nernst_open:
            z_node = s.nernst_bias_ohm
        else:
            # The electrode arc charges partly within each half period: a frequency-dependent bias.
            tau = element.arc_r_ohm * element.arc_c_f
            z = element.ri_ohm
            if tau > 0.0:
                z += element.arc_r_ohm * math.tanh(0.25 / (s.esr_frequency_hz * tau))
            z_node = z * s.nernst_bias_ohm / (z + s.nernst_bias_ohm)
        v_ac = s.esr_inject_v * z_node / (s.esr_inject_ohm + z_node)
        samples = s.esr_samples_per_s * interval_s
        if samples < 3.0:
            samples = 3.0
        v_ac = _quantise(v_ac + s.esr_adc_noise_v * math.sqrt(2.0 / samples) * self._gauss(), 0.0, s.esr_inject_v, 16)
        if v_ac <= 0.0:
            return 0.0
        if v_ac >= s.esr_inject_v * 0.999:
            return 1e9
        return s.esr_inject_ohm / (s.esr_inject_v / v_ac - 1.0)
