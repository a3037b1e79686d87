"""The emulated analog board between firmware and element (the "front end" in the electronics
sense; the HAL's FrontEnd is the software seam): what a real interface board does to the
signals, so the firmware sees realistic numbers rather than the element's truth.

- Pump: a current DAC (range, resolution) driving the pump cell through a source with a compliance
  voltage; the current that actually flows is measured across a shunt by an ADC, with noise.
- Nernst: the DC terminal voltage through an input network (bias resistor to a bias voltage, so an
  open or cold cell reads the bias), an ADC with noise.
- Sense (elements with a mixed-potential measuring cell only): the measuring cell's DC terminal
  voltage through the same kind of input network and ADC, with its own noise. Its deviate is drawn
  after all the others and only for such elements, so every other element's noise sequence is the
  same as without the channel. The Nernst-open fault opens the reference lead both cells share.
- Ri (ESR): a square wave injected through a resistor, demodulated from the Nernst node as real
  front ends do (ESR = R_inj / (V_inj / V_ac - 1)); the electrode arc partly charges within each
  half period (a bias), the bias resistor loads the node, ADC noise averages over the samples taken
  within one reading, and the result is quantised.
- Reference pumping: a current source (20 µA) with a compliance voltage into the Nernst cell.
- Heater: low-side PWM from the supply; RMS voltage V_s*sqrt(duty); current sensed with noise; an
  over-current limit; insulation leakage from the heater into the Nernst input.
Line faults (open pump, open Nernst, open or shorted heater, supply drop) act here, on the wiring.
Noise is seeded: the same seed gives the same run. Deviates come from a seeded table of standard
normals drawn once (two tables of coprime lengths, summed), combined a few thousand at a time, which
keeps the per-sample cost to one index per deviate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .constants import ZERO_C_IN_K
from .element import ElementModel
from .world import NO_FAULTS, Faults, World


@dataclass(frozen=True)
class BoardSpec:
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
    sense_noise_v: float = 0.25e-3       # rms per sample of the measuring-cell input (as the Nernst input)


@dataclass(slots=True)
class BoardReading:
    """One sample as the board reports it (the default reading type; see AnalogBoard.reading_type).

    The board builds readings positionally in this field order; a reading type given to the board
    (the HAL's Sample, by the sim backend) takes the same fields in the same order.
    """

    t_s: float
    nernst_v: float
    pump_current_a: float
    ri_ohm: float            # math.nan while the excitation is off
    heater_v: float          # RMS voltage on the heater terminals
    heater_a: float          # RMS heater current
    supply_v: float
    pump_v: float            # pump-driver output voltage (at the compliance rail when saturated)
    sense_v: float = math.nan  # measuring-cell voltage (mixed-potential elements; NaN for the others)
    pressure_kpa: float = math.nan  # exhaust-pressure input: the board has none (the sim front end adds one)


# Two tables of coprime prime lengths, summed: the combined sequence repeats after ~4.3e9 draws.
NOISE_TABLE_LENGTHS = (65521, 65519)
SQRT_HALF = 0.7071067811865476
NOISE_BATCH = 4096       # deviates computed at a time (a reading takes 5 or 6)
ESR_ADC_BITS = 16


def _converter(lo: float, hi: float, bits: int) -> tuple[float, float, float, float]:
    """(lo, hi, offset, lsb) of a converter, for _quantise written out: lo or hi outside the range,
    else offset + round((value - offset) / lsb) * lsb, the offset being 0 for a bipolar converter
    (exactly _quantise's round(value / lsb) * lsb) and lo otherwise."""
    return lo, hi, (0.0 if lo < 0.0 < hi else lo), (hi - lo) / (1 << bits)


def _quantise(value: float, lo: float, hi: float, bits: int) -> float:
    """An ADC/DAC code: 2**bits steps over [lo, hi], with a code for exactly zero when lo < 0 < hi
    (a bipolar converter), clamped to the range.

    The readable converter. The board's per-tick paths (set_pump_current, set_heater_duty, sample,
    _sense_reading) write it out with a _converter tuple, because five calls per tick would cost
    about 1.5 % of the simulation's speed; tests/test_hotpath_board.py holds every written-out
    copy to this function, bit for bit."""
    if value <= lo:
        return lo
    if value >= hi:
        return hi
    lsb = (hi - lo) / (1 << bits)
    if lo < 0.0 < hi:
        return round(value / lsb) * lsb
    return lo + round((value - lo) / lsb) * lsb


class AnalogBoard:
    # Slots: fast attribute access on the per-step and per-sample paths (more than ~30 instance
    # attributes would otherwise put them in a plain dict).
    __slots__ = (
        "element", "spec", "pump_command_a", "heater_duty", "excitation_on", "faults", "supply_v",
        "pump_actual_a", "pump_drive_v", "ref_actual_a", "heater_element_v", "heater_terminal_v",
        "heater_current_a",
        "_noise_a", "_noise_b", "_noise_i", "_noise_j", "_deviates", "_deviate_pos",
        "_ref_pumped", "_has_pump", "_heater_leak_ohm", "_sqrt_duty_of", "_sqrt_duty", "_has_sense",
        "_draws_per_sample", "reading_type",
        "_pump_dac", "_duty_dac", "_nernst_adc", "_pump_adc", "_esr_adc", "_esr_arc_r", "_esr_arc_ohm",
    )

    def __init__(self, element: ElementModel, spec: BoardSpec | None = None, seed: int = 0,
                 reading_type: Callable[..., Any] = BoardReading):
        self.element = element
        # What sample() builds: the sim backend hands in the HAL's Sample, so the firmware gets the
        # seam's own type with no second object per tick (the emulator cannot import the HAL).
        self.reading_type = reading_type
        self.spec = s = spec or BoardSpec()
        rng = np.random.default_rng(seed)
        self._noise_a = rng.standard_normal(NOISE_TABLE_LENGTHS[0])
        self._noise_b = rng.standard_normal(NOISE_TABLE_LENGTHS[1])
        # Table positions of the last deviate taken into _deviates, the next ones to read from
        # (from _deviate_pos on): filled NOISE_BATCH at a time by _more_deviates.
        self._noise_i = 0
        self._noise_j = 0
        self._deviates: list[float] = []
        self._deviate_pos = 0
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

        # Constants of the spec and the element for the per-step and per-sample paths.
        self._ref_pumped = element.spec.reference.kind == "pumped"
        self._has_pump = element.spec.pump_cell is not None
        self._heater_leak_ohm = element.spec.coupling.heater_leak_ohm
        # A measuring cell adds one deviate per reading, drawn last.
        self._has_sense = element.spec.measuring_cell is not None
        self._draws_per_sample = 7 if self._has_sense else 6
        self._sqrt_duty_of = 0.0      # sqrt(heater_duty), cached for the duty it was taken of
        self._sqrt_duty = 0.0
        # The converters, for _quantise written out (see _converter).
        self._pump_dac = _converter(s.pump_dac_min_a, s.pump_dac_max_a, s.pump_dac_bits)
        self._duty_dac = _converter(0.0, 1.0, s.heater_duty_bits)
        self._nernst_adc = _converter(s.nernst_adc_min_v, s.nernst_adc_max_v, s.nernst_adc_bits)
        self._pump_adc = _converter(-s.pump_adc_range_a, s.pump_adc_range_a, s.pump_adc_bits)
        self._esr_adc = _converter(0.0, s.esr_inject_v, ESR_ADC_BITS)
        self._esr_arc_r = math.nan        # the arc resistance _esr_arc_ohm was computed for
        self._esr_arc_ohm = 0.0

    # --- what the firmware sets ----------------------------------------------------------------

    def set_pump_current(self, amps: float) -> float:
        """Command the pump-current DAC; returns the quantised set-point (_quantise written out)."""
        lo, hi, offset, lsb = self._pump_dac
        if amps <= lo:
            amps = lo
        elif amps >= hi:
            amps = hi
        else:
            amps = offset + round((amps - offset) / lsb) * lsb
        self.pump_command_a = amps
        return amps

    def set_heater_duty(self, duty: float) -> float:
        """Set the heater PWM duty; returns the quantised duty (_quantise written out)."""
        lo, hi, offset, lsb = self._duty_dac
        if duty <= lo:
            duty = lo
        elif duty >= hi:
            duty = hi
        else:
            duty = offset + round((duty - offset) / lsb) * lsb
        self.heater_duty = duty
        return duty

    def set_excitation(self, on: bool) -> None:
        """ESR excitation and reference pumping (a board switches both with the cell's bias)."""
        self.excitation_on = bool(on)

    def safe(self) -> None:
        self.set_pump_current(0.0)
        self.set_heater_duty(0.0)

    # --- physics of the wiring -----------------------------------------------------------------

    def advance(self, dt_s: float, world: World, supply_v: float, faults: Faults = NO_FAULTS) -> None:
        """Drive the element for dt_s with the present commands.

        This runs once per emulator step, so the common cases are written out here: the pump source
        within its compliance (else _saturate_pump; a pump-open fault or no pump cell: _settle_pump)
        and the heater without a fault (else _settle_heater). tests/test_hotpath_board_drive.py
        holds them to _settle_pump and _settle_heater, bit for bit.
        """
        self.faults = faults
        self.supply_v = supply_v
        element = self.element

        # Pump current source: element.pump_voltage(command) written out (Nernst term of outer vs
        # node + ohmic drop + Butler-Volmer overvoltage).
        command = self.pump_command_a
        if self._has_pump and not faults.pump_open:
            rt_4f = element._rt_4f
            needed_v = (rt_4f * math.log(element.outer_po2_bar / element.node_po2_bar)
                        + command * element._pump_r_ohm
                        + 8.0 * rt_4f * math.asinh(command / element._two_i0))
            compliance = self.spec.pump_compliance_v
            if -compliance <= needed_v <= compliance:
                self.pump_actual_a = command
                self.pump_drive_v = needed_v
            else:
                self._saturate_pump(command, needed_v, compliance)
        else:
            self._settle_pump(faults)

        # Reference pump current source (with its compliance into the cell).
        if self._ref_pumped and self.excitation_on and not faults.nernst_open:
            spec = self.spec
            limit = spec.ref_compliance_v / (element.ri_ohm + element.arc_r_ohm)
            ref_a = spec.ref_current_a
            self.ref_actual_a = ref_a if ref_a <= limit else limit
        else:
            self.ref_actual_a = 0.0

        # Heater PWM (faults and duty 0: _settle_heater).
        duty = self.heater_duty
        if faults.heater_open or faults.heater_short or duty <= 0.0:
            self._settle_heater(supply_v, faults)
        else:
            if duty != self._sqrt_duty_of:
                self._sqrt_duty_of = duty
                self._sqrt_duty = math.sqrt(duty)
            sqrt_duty = self._sqrt_duty
            v_rms = supply_v * sqrt_duty
            self.heater_terminal_v = v_rms
            # element.heater_r_ohm
            r = element._r_lead + element._r_heat_cold * (
                1.0 + element._alpha * (element.heater_temp_k - ZERO_C_IN_K - 20.0))
            on_current = supply_v / r
            limit_a = self.spec.heater_current_limit_a
            if on_current > limit_a:
                # Current limit: the driver ends each pulse early; the element sees less.
                on_current = limit_a
                v_rms = on_current * r * sqrt_duty
            self.heater_element_v = v_rms
            self.heater_current_a = on_current * sqrt_duty

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
        self._saturate_pump(command, needed_v, compliance)

    def _saturate_pump(self, command: float, needed_v: float, compliance: float) -> None:
        # Saturated: the source sits at its rail and passes what the cell lets through. V(I) rises
        # monotonically (Nernst term + ohmic + asinh overvoltage): safeguarded Newton on [lo, hi],
        # started from the last current, so a steady saturation costs one or two evaluations.
        # element.pump_voltage(I) and element.pump_slope_ohm(I) are written out, with the terms
        # that do not depend on I taken out of the loop.
        element = self.element
        rt_4f = element._rt_4f
        nernst_v = rt_4f * math.log(element.outer_po2_bar / element.node_po2_bar)
        pump_r = element._pump_r_ohm
        two_i0 = element._two_i0
        eight_rt_4f = 8.0 * rt_4f
        rail = compliance if needed_v > 0.0 else -compliance
        lo, hi = (0.0, command) if command > 0.0 else (command, 0.0)
        v_zero = nernst_v + 0.0 * pump_r + eight_rt_4f * math.asinh(0.0 / two_i0)
        if (rail > 0.0 and v_zero >= rail) or (rail < 0.0 and v_zero <= rail):
            current = 0.0  # the cell's own EMF already exceeds the rail
        else:
            current = min(max(self.pump_actual_a, lo), hi)
            two_i0_sq = two_i0 * two_i0
            for _ in range(40):
                error = nernst_v + current * pump_r + eight_rt_4f * math.asinh(current / two_i0) - rail
                if error > 0.0:
                    hi = current
                else:
                    lo = current
                if abs(error) < 1e-7 or hi - lo < 1e-12:
                    break
                slope = pump_r + eight_rt_4f / math.sqrt(current * current + two_i0_sq)
                guess = current - error / slope
                current = guess if lo < guess < hi else 0.5 * (lo + hi)
        self.pump_actual_a = current
        self.pump_drive_v = rail

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

    def _more_deviates(self) -> None:
        """Append the next NOISE_BATCH deviates of the sequence to the unread ones. Deviate k is
        (a[i+k] + b[j+k]) / sqrt(2), indexes modulo the table lengths (numpy's float64 add and
        multiply round exactly like Python's floats, so the values do not depend on the batching)."""
        len_a, len_b = NOISE_TABLE_LENGTHS
        i, j = self._noise_i, self._noise_j
        k = np.arange(1, NOISE_BATCH + 1)
        fresh = ((self._noise_a[(i + k) % len_a] + self._noise_b[(j + k) % len_b]) * SQRT_HALF).tolist()
        self._deviates = self._deviates[self._deviate_pos:] + fresh
        self._deviate_pos = 0
        self._noise_i = (i + NOISE_BATCH) % len_a
        self._noise_j = (j + NOISE_BATCH) % len_b

    def _gauss(self) -> float:
        """The next standard normal deviate of the seeded sequence: the readable form of the draws
        sample() reads inline (tests/test_hotpath_board.py holds sample() to it)."""
        if self._deviate_pos >= len(self._deviates):
            self._more_deviates()
        pos = self._deviate_pos
        self._deviate_pos = pos + 1
        return self._deviates[pos]

    def sample(self, t_s: float, interval_s: float = 0.002) -> Any:
        """One reading, built by reading_type (a BoardReading unless the board was given another
        type with the same fields). This runs once per firmware tick, so the converters (_quantise) and the noise
        draws (_gauss, in this order: Nernst, pump, ESR when excited, heater V, heater A, supply, and
        the measuring cell's when the element has one) are written out, with the same arithmetic."""
        s = self.spec
        element = self.element
        faults = self.faults
        # Deviates (_gauss) at p: Nernst, pump, [ESR when excited,] heater V, heater A, supply.
        deviates = self._deviates
        p = self._deviate_pos
        if p + self._draws_per_sample > len(deviates):
            self._more_deviates()
            deviates = self._deviates
            p = 0

        # Nernst DC: terminal voltage, heater leakage, then the input network's bias divider.
        if faults.nernst_open:
            nernst = s.nernst_bias_v
        else:
            ri = element.ri_ohm
            leak_a = self.supply_v * self.heater_duty / self._heater_leak_ohm
            # element.nernst_terminal_v(pump, ref) with the step's coupling resistance
            terminal = (element.nernst_emf_v + self.ref_actual_a * ri + self.pump_actual_a * element._coupling_r_ohm
                        + leak_a * ri)
            z_dc = ri + element.arc_r_ohm
            nernst = terminal + (s.nernst_bias_v - terminal) * z_dc / (z_dc + s.nernst_bias_ohm)
        value = nernst + s.nernst_noise_v * deviates[p]
        lo, hi, offset, lsb = self._nernst_adc
        if value <= lo:
            nernst_v = lo
        elif value >= hi:
            nernst_v = hi
        else:
            nernst_v = offset + round((value - offset) / lsb) * lsb

        value = self.pump_actual_a + s.pump_noise_a * deviates[p + 1]
        lo, hi, offset, lsb = self._pump_adc
        if value <= lo:
            pump_a = lo
        elif value >= hi:
            pump_a = hi
        else:
            pump_a = offset + round((value - offset) / lsb) * lsb

        if self.excitation_on:
            # ESR: the AC amplitude the injected square wave leaves at the Nernst node, its ADC, and
            # the demodulator's inverse.
            if faults.nernst_open:
                z_node = s.nernst_bias_ohm
            else:
                # The electrode arc charges partly within each half period: a frequency-dependent
                # bias (it only changes when the element refreshes its arc).
                if element.arc_r_ohm != self._esr_arc_r:
                    self._set_esr_arc()
                z = element.ri_ohm + self._esr_arc_ohm
                z_node = z * s.nernst_bias_ohm / (z + s.nernst_bias_ohm)
            inject_v = s.esr_inject_v
            value = inject_v * z_node / (s.esr_inject_ohm + z_node)
            # ADC noise of the demodulator: it averages over the samples taken within one reading.
            samples = s.esr_samples_per_s * interval_s
            if samples < 3.0:
                samples = 3.0
            value = value + s.esr_adc_noise_v * math.sqrt(2.0 / samples) * deviates[p + 2]
            lo, hi, offset, lsb = self._esr_adc
            if value <= lo:
                v_ac = lo
            elif value >= hi:
                v_ac = hi
            else:
                v_ac = offset + round((value - offset) / lsb) * lsb
            if v_ac <= 0.0:
                ri_ohm = 0.0
            elif v_ac >= inject_v * 0.999:
                ri_ohm = 1e9
            else:
                ri_ohm = s.esr_inject_ohm / (inject_v / v_ac - 1.0)
            k = 3
        else:
            ri_ohm = math.nan
            k = 2

        heater_v = self.heater_terminal_v + s.heater_voltage_noise_v * deviates[p + k]
        if heater_v < 0.0:
            heater_v = 0.0
        heater_a = self.heater_current_a + s.heater_current_noise_a * deviates[p + k + 1]
        if heater_a < 0.0:
            heater_a = 0.0
        supply_v = self.supply_v + s.supply_noise_v * deviates[p + k + 2]

        if faults.readings_invalid:
            # A dead converter reference: the board still answers, with no number in it.
            self._deviate_pos = p + k + (4 if self._has_sense else 3)
            nan = math.nan
            if self._has_sense:
                return self.reading_type(t_s, nan, nan, nan, nan, nan, nan, nan, nan)
            return self.reading_type(t_s, nan, nan, nan, nan, nan, nan, nan)
        if self._has_sense:
            self._deviate_pos = p + k + 4
            return self.reading_type(t_s, nernst_v, pump_a, ri_ohm, heater_v, heater_a, supply_v, self.pump_drive_v,
                                     self._sense_reading(deviates[p + k + 3]))
        self._deviate_pos = p + k + 3
        return self.reading_type(t_s, nernst_v, pump_a, ri_ohm, heater_v, heater_a, supply_v, self.pump_drive_v)

    def _sense_reading(self, deviate: float) -> float:
        """The measuring cell through its input network (bias divider, as the Nernst input), its noise
        and the ADC. The heater leakage reaches it as it reaches the Nernst input (same layer)."""
        s = self.spec
        element = self.element
        if self.faults.nernst_open:
            sense = s.nernst_bias_v
        else:
            ri = element.ri_ohm
            leak_a = self.supply_v * self.heater_duty / self._heater_leak_ohm
            terminal = element.nernst_emf_v + element.sense_dv_v + leak_a * ri
            if element._sense_kappa:
                terminal += self.pump_actual_a * element._sense_kappa * element._pump_r_ohm
            z_dc = ri + element.arc_r_ohm
            sense = terminal + (s.nernst_bias_v - terminal) * z_dc / (z_dc + s.nernst_bias_ohm)
        value = sense + s.sense_noise_v * deviate
        lo, hi, offset, lsb = self._nernst_adc
        if value <= lo:
            return lo
        if value >= hi:
            return hi
        return offset + round((value - offset) / lsb) * lsb

    def _set_esr_arc(self) -> None:
        """The arc's share of the demodulated impedance, for the element's present arc."""
        element = self.element
        arc_r = self._esr_arc_r = element.arc_r_ohm
        tau = arc_r * element.arc_c_f
        # (0.0 without an arc: ri + 0.0 is ri)
        self._esr_arc_ohm = arc_r * math.tanh(0.25 / (self.spec.esr_frequency_hz * tau)) if tau > 0.0 else 0.0
