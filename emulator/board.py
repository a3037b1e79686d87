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

Built by Cython (board.pxd, lambdarig/aot.py), the converters and the board are extension types with
C-double fields, and these methods call each other and the element model as C functions: that is
what makes the readable form below fast enough for the 500 Hz loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

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
NOISE_BATCH = 4096       # deviates computed at a time (a reading takes 6 or 7)
ESR_ADC_BITS = 16


class Converter:
    """An ADC or DAC: 2**bits codes over [lo, hi], with a code for exactly zero when lo < 0 < hi (a
    bipolar converter), clamped to the range."""

    __slots__ = ("lo", "hi", "offset", "lsb")

    def __init__(self, lo: float, hi: float, bits: int):
        self.lo = lo
        self.hi = hi
        self.offset = 0.0 if lo < 0.0 < hi else lo
        self.lsb = (hi - lo) / (1 << bits)

    def code(self, value: float) -> float:
        """The value the converter outputs (a DAC) or reports (an ADC) for this input."""
        if value <= self.lo:
            return self.lo
        if value >= self.hi:
            return self.hi
        # round(): half to even, as the board's firmware rounds
        return self.offset + round((value - self.offset) / self.lsb) * self.lsb


class AnalogBoard:
    # Slots: fast attribute access in Python; built with Cython (board.pxd) the board is an
    # extension type with these as C fields.
    __slots__ = (
        "element", "spec", "pump_command_a", "heater_duty", "excitation_on", "faults", "supply_v",
        "pump_actual_a", "pump_drive_v", "ref_actual_a", "heater_element_v", "heater_terminal_v",
        "heater_current_a",
        "_noise_a", "_noise_b", "_noise_i", "_noise_j", "_deviates", "_deviate_pos",
        "_ref_pumped", "_has_pump", "_heater_leak_ohm", "_has_sense",
        "_draws_per_sample", "reading_type",
        "_pump_dac", "_duty_dac", "_nernst_adc", "_pump_adc", "_esr_adc",
    )

    def __init__(self, element: ElementModel, spec: BoardSpec | None = None, seed: int = 0,
                 reading_type: Callable[..., Any] = BoardReading):
        self.element = element
        # What sample() builds: the sim backend hands in the HAL's Sample, so the firmware gets the
        # seam's own type with no second object per tick (the emulator cannot import the HAL).
        self.reading_type = reading_type
        # (not `spec or BoardSpec()`: for that, with the field typed, Cython writes C that GCC >= 14 rejects)
        s = spec if spec is not None else BoardSpec()
        self.spec = s
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

        # What the element's spec says about the wiring.
        self._ref_pumped = element.spec.reference.kind == "pumped"
        self._has_pump = element.spec.pump_cell is not None
        self._heater_leak_ohm = element.spec.coupling.heater_leak_ohm
        # A measuring cell adds one deviate per reading, drawn last.
        self._has_sense = element.spec.measuring_cell is not None
        self._draws_per_sample = 7 if self._has_sense else 6
        self._pump_dac = Converter(s.pump_dac_min_a, s.pump_dac_max_a, s.pump_dac_bits)
        self._duty_dac = Converter(0.0, 1.0, s.heater_duty_bits)
        self._nernst_adc = Converter(s.nernst_adc_min_v, s.nernst_adc_max_v, s.nernst_adc_bits)
        self._pump_adc = Converter(-s.pump_adc_range_a, s.pump_adc_range_a, s.pump_adc_bits)
        self._esr_adc = Converter(0.0, s.esr_inject_v, ESR_ADC_BITS)

    # --- what the firmware sets ----------------------------------------------------------------

    def set_pump_current(self, amps: float) -> float:
        """Command the pump-current DAC; returns the quantised set-point."""
        self.pump_command_a = self._pump_dac.code(amps)
        return self.pump_command_a

    def set_heater_duty(self, duty: float) -> float:
        """Set the heater PWM duty; returns the quantised duty."""
        self.heater_duty = self._duty_dac.code(duty)
        return self.heater_duty

    def set_excitation(self, on: bool) -> None:
        """ESR excitation and reference pumping (a board switches both with the cell's bias)."""
        self.excitation_on = bool(on)

    def safe(self) -> None:
        self.set_pump_current(0.0)
        self.set_heater_duty(0.0)

    # --- physics of the wiring -----------------------------------------------------------------

    def advance(self, dt_s: float, world: World, supply_v: float, faults: Faults = NO_FAULTS) -> None:
        """Drive the element for dt_s with the present commands."""
        self.faults = faults
        self.supply_v = supply_v
        self._settle_pump(faults)
        self._settle_reference(faults)
        self._settle_heater(supply_v, faults)
        self.element.step(dt_s, world, self.pump_actual_a, self.ref_actual_a, self.heater_element_v)

    def _settle_pump(self, faults: Faults) -> None:
        """The pump current source: the commanded current while the cell takes it within the
        compliance voltage, else what the cell lets through at the rail."""
        command = self.pump_command_a
        compliance = self.spec.pump_compliance_v
        if faults.pump_open:
            self.pump_actual_a = 0.0
            self.pump_drive_v = compliance if command > 0.0 else -compliance if command < 0.0 else 0.0
            return
        needed_v = self.element.pump_voltage(command)
        if -compliance <= needed_v <= compliance:
            self.pump_actual_a = command
            self.pump_drive_v = needed_v
            return
        self._saturate_pump(command, needed_v, compliance)

    def _saturate_pump(self, command: float, needed_v: float, compliance: float) -> None:
        # Saturated: the source sits at its rail and passes what the cell lets through. V(I) rises
        # monotonically (Nernst term + ohmic + asinh overvoltage): safeguarded Newton on [lo, hi],
        # started from the last current, so a steady saturation costs one or two evaluations.
        element = self.element
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
                guess = current - error / element.pump_slope_ohm(current)
                current = guess if lo < guess < hi else 0.5 * (lo + hi)
        self.pump_actual_a = current
        self.pump_drive_v = rail

    def _settle_reference(self, faults: Faults) -> None:
        """The reference pump current source (20 µA), with its compliance into the cell."""
        element = self.element
        if self._ref_pumped and self.excitation_on and not faults.nernst_open:
            limit = self.spec.ref_compliance_v / (element.ri_ohm + element.arc_r_ohm)
            ref_a = self.spec.ref_current_a
            self.ref_actual_a = ref_a if ref_a <= limit else limit
        else:
            self.ref_actual_a = 0.0

    def _settle_heater(self, supply_v: float, faults: Faults) -> None:
        """Low-side PWM from the supply: RMS voltage supply * sqrt(duty), within the driver's
        current limit; an open or shorted heater."""
        s = self.spec
        duty = self.heater_duty
        sqrt_duty = math.sqrt(duty)
        v_rms = supply_v * sqrt_duty
        self.heater_terminal_v = v_rms
        if faults.heater_open or duty <= 0.0:
            self.heater_element_v = 0.0
            self.heater_current_a = 0.0
        elif faults.heater_short:
            self.heater_element_v = 0.0
            self.heater_current_a = min(supply_v / s.heater_short_ohm, s.heater_current_limit_a) * sqrt_duty
            self.heater_terminal_v = self.heater_current_a * s.heater_short_ohm
        else:
            r = self.element.heater_resistance_at(self.element.heater_temp_k)
            on_current = supply_v / r
            if on_current > s.heater_current_limit_a:
                # Current limit: the driver ends each pulse early; the element sees less.
                on_current = s.heater_current_limit_a
                v_rms = on_current * r * sqrt_duty
            self.heater_element_v = v_rms
            self.heater_current_a = on_current * sqrt_duty

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
        """The next standard normal deviate of the seeded sequence."""
        if self._deviate_pos >= len(self._deviates):
            self._more_deviates()
        pos = self._deviate_pos
        self._deviate_pos = pos + 1
        return self._deviates[pos]

    def sample(self, t_s: float, interval_s: float = 0.002) -> Any:
        """One reading, built by reading_type (a BoardReading unless the board was given another
        type with the same fields). The noise is drawn in this order: Nernst, pump, ESR when excited,
        heater V, heater A, supply, and the measuring cell's when the element has one."""
        s = self.spec
        nernst_input_v = self._cell_input(self._nernst_terminal_v())
        nernst_v = self._nernst_adc.code(nernst_input_v + s.nernst_noise_v * self._gauss())
        pump_a = self._pump_adc.code(self.pump_actual_a + s.pump_noise_a * self._gauss())
        ri_ohm = self._esr_reading(interval_s) if self.excitation_on else math.nan
        heater_v = self.heater_terminal_v + s.heater_voltage_noise_v * self._gauss()
        if heater_v < 0.0:   # an RMS converter reads no negative
            heater_v = 0.0
        heater_a = self.heater_current_a + s.heater_current_noise_a * self._gauss()
        if heater_a < 0.0:
            heater_a = 0.0
        supply_v = self.supply_v + s.supply_noise_v * self._gauss()
        if self._has_sense:
            sense_input_v = self._cell_input(self._sense_terminal_v())
            sense_v = self._nernst_adc.code(sense_input_v + s.sense_noise_v * self._gauss())
        if self.faults.readings_invalid:
            # A dead converter reference: the board still answers, with no number in it.
            nan = math.nan
            return self.reading_type(t_s, nan, nan, nan, nan, nan, nan, nan, nan)
        if self._has_sense:
            return self.reading_type(t_s, nernst_v, pump_a, ri_ohm, heater_v, heater_a, supply_v, self.pump_drive_v,
                                     sense_v)
        # (the reading type's sense_v: NaN)
        return self.reading_type(t_s, nernst_v, pump_a, ri_ohm, heater_v, heater_a, supply_v, self.pump_drive_v)

    def _heater_leak_a(self) -> float:
        """The heater's insulation leakage into the Nernst layer."""
        return self.supply_v * self.heater_duty / self._heater_leak_ohm

    def _nernst_terminal_v(self) -> float:
        """The Nernst cell's DC terminal voltage, with the heater's leakage through the cell."""
        element = self.element
        return element.nernst_terminal_v(self.pump_actual_a, self.ref_actual_a) + self._heater_leak_a() * element.ri_ohm

    def _sense_terminal_v(self) -> float:
        """The measuring cell's DC terminal voltage: its EMF, the heater leakage (it reaches the
        measuring cell as it reaches the Nernst cell: same layer) and its share of the pump cell's
        electrolyte drop."""
        element = self.element
        terminal = element.nernst_emf_v + element.sense_dv_v + self._heater_leak_a() * element.ri_ohm
        if element._sense_kappa:
            terminal += self.pump_actual_a * element._sense_kappa * element._pump_r_ohm
        return terminal

    def _cell_input(self, terminal_v: float) -> float:
        """A cell's DC terminal voltage through the input network: the bias resistor to the bias
        voltage (an open line reads the bias)."""
        s = self.spec
        if self.faults.nernst_open:
            return s.nernst_bias_v
        z_dc = self.element.ri_ohm + self.element.arc_r_ohm
        return terminal_v + (s.nernst_bias_v - terminal_v) * z_dc / (z_dc + s.nernst_bias_ohm)

    def _esr_reading(self, interval_s: float) -> float:
        """The ESR the demodulator reports: the AC amplitude the injected square wave leaves at the
        Nernst node, with the ADC noise averaged over the samples within one reading, converted, and
        inverted (ESR = R_inj / (V_inj / V_ac - 1))."""
        s = self.spec
        element = self.element
        if self.faults.nernst_open:
            z_node = s.nernst_bias_ohm
        else:
            # The electrode arc charges partly within each half period: a frequency-dependent bias.
            tau = element.arc_r_ohm * element.arc_c_f
            arc_ohm = element.arc_r_ohm * math.tanh(0.25 / (s.esr_frequency_hz * tau)) if tau > 0.0 else 0.0
            z = element.ri_ohm + arc_ohm
            z_node = z * s.nernst_bias_ohm / (z + s.nernst_bias_ohm)
        inject_v = s.esr_inject_v
        samples = s.esr_samples_per_s * interval_s
        if samples < 3.0:
            samples = 3.0
        v_ac = self._esr_adc.code(inject_v * z_node / (s.esr_inject_ohm + z_node)
                                  + s.esr_adc_noise_v * math.sqrt(2.0 / samples) * self._gauss())
        if v_ac <= 0.0:
            return 0.0
        if v_ac >= inject_v * 0.999:
            return 1e9
        return s.esr_inject_ohm / (inject_v / v_ac - 1.0)
