"""The emulated board's converters and readings against a reference written here.

Every converter of the board (built by Cython, or as Python) is held to the reference converter
below, with Python's round() (half to even; the built board rounds with C's rint()), bit for bit, on
random board specs (bipolar and unipolar ranges, 8 to 16 bits) and random inputs (inside the
range, on code boundaries, beyond either end), and sample() is held to the readable composition of
the element's terminal voltages, the input network and the draws in their documented order
(Nernst, pump, ESR when excited, heater V, heater A, supply, and the measuring cell's last), with
the excitation on and off and the Nernst line open and closed.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from lambdarig.emulator.board import ESR_ADC_BITS, AnalogBoard, BoardSpec
from lambdarig.emulator.rig import EmulatedRig
from lambdarig.emulator.scenario import load_scenario
from lambdarig.emulator.world import NO_FAULTS, Faults

NERNST_OPEN = Faults(nernst_open=True)


def _quantise(value: float, lo: float, hi: float, bits: int) -> float:
    """The reference converter: 2**bits codes over [lo, hi], a code for exactly zero when lo < 0 < hi,
    clamped to the range."""
    if value <= lo:
        return lo
    if value >= hi:
        return hi
    lsb = (hi - lo) / (1 << bits)
    offset = 0.0 if lo < 0.0 < hi else lo
    return offset + round((value - offset) / lsb) * lsb


def random_spec(rng: np.random.Generator) -> BoardSpec:
    pump_max = float(rng.uniform(1e-3, 20e-3))
    nernst_min = float(rng.choice([0.0, rng.uniform(-2.0, -0.1)]))
    return BoardSpec(
        pump_dac_min_a=float(rng.choice([-pump_max, 0.0, -rng.uniform(1e-3, 20e-3)])),
        pump_dac_max_a=pump_max,
        pump_dac_bits=int(rng.integers(8, 17)),
        pump_adc_range_a=float(rng.uniform(1e-3, 20e-3)),
        pump_adc_bits=int(rng.integers(8, 17)),
        pump_noise_a=float(rng.choice([0.0, rng.uniform(0.0, 2e-3)])),
        nernst_adc_min_v=nernst_min,
        nernst_adc_max_v=float(rng.uniform(0.5, 2.5)),
        nernst_adc_bits=int(rng.integers(8, 17)),
        nernst_noise_v=float(rng.choice([0.0, rng.uniform(0.0, 0.3)])),
        nernst_bias_v=float(rng.uniform(-2.5, 3.0)),
        nernst_bias_ohm=float(10.0 ** rng.uniform(3.0, 8.0)),
        esr_inject_v=float(rng.uniform(1.0, 5.0)),
        esr_inject_ohm=float(10.0 ** rng.uniform(2.0, 6.0)),
        esr_adc_noise_v=float(rng.choice([0.0, rng.uniform(0.0, 3.0)])),
        heater_duty_bits=int(rng.integers(8, 17)),
        heater_voltage_noise_v=float(rng.uniform(0.0, 0.5)),
        heater_current_noise_a=float(rng.uniform(0.0, 0.5)),
        sense_noise_v=float(rng.choice([0.0, rng.uniform(0.0, 0.3)])),
    )


def converter_inputs(rng: np.random.Generator, lo: float, hi: float, bits: int) -> list[float]:
    """Values inside, on half-code boundaries, at and beyond both ends, and zero."""
    lsb = (hi - lo) / (1 << bits)
    offset = 0.0 if lo < 0.0 < hi else lo
    span = hi - lo
    inside = rng.uniform(lo, hi, 40).tolist()
    boundaries = [offset + (int(k) + 0.5) * lsb for k in rng.integers(0, 1 << bits, 20) + (lo - offset) / lsb]
    beyond = rng.uniform(lo - span, lo, 5).tolist() + rng.uniform(hi, hi + span, 5).tolist()
    return inside + boundaries + beyond + [lo, hi, 0.0, -0.0, lsb / 2, -lsb / 2, math.nextafter(hi, -math.inf)]


def test_setters_are_the_reference_converter_bit_for_bit():
    rng = np.random.default_rng(11)
    rig = EmulatedRig("lsu49", load_scenario("default"))
    clamped = Counter()
    for _ in range(60):
        spec = random_spec(rng)
        board = AnalogBoard(rig.element, spec)
        lo, hi, bits = spec.pump_dac_min_a, spec.pump_dac_max_a, spec.pump_dac_bits
        for amps in converter_inputs(rng, lo, hi, bits):
            expected = _quantise(amps, lo, hi, bits)
            assert board.set_pump_current(amps) == expected, (spec, amps)
            assert board.pump_command_a == expected
            clamped["pump lo" if amps <= lo else "pump hi" if amps >= hi else "pump inside"] += 1
        for duty in converter_inputs(rng, 0.0, 1.0, spec.heater_duty_bits):
            expected = _quantise(duty, 0.0, 1.0, spec.heater_duty_bits)
            assert board.set_heater_duty(duty) == expected, (spec, duty)
            assert board.heater_duty == expected
            clamped["duty lo" if duty <= 0.0 else "duty hi" if duty >= 1.0 else "duty inside"] += 1
    assert len(clamped) == 6, clamped


def input_network(board: AnalogBoard, terminal_v: float) -> float:
    """A cell's DC terminal voltage as its input sees it through the bias resistor."""
    s = board.spec
    z_dc = board.element.ri_ohm + board.element.arc_r_ohm
    return terminal_v + (s.nernst_bias_v - terminal_v) * z_dc / (z_dc + s.nernst_bias_ohm)


def nernst_input(board: AnalogBoard) -> float:
    if board.faults.nernst_open:
        return board.spec.nernst_bias_v
    element = board.element
    leak_a = board.supply_v * board.heater_duty / board._heater_leak_ohm
    terminal = element.nernst_terminal_v(board.pump_actual_a, board.ref_actual_a) + leak_a * element.ri_ohm
    return input_network(board, terminal)


def sense_input(board: AnalogBoard) -> float:
    if board.faults.nernst_open:
        return board.spec.nernst_bias_v
    element = board.element
    leak_a = board.supply_v * board.heater_duty / board._heater_leak_ohm
    terminal = element.nernst_emf_v + element.sense_dv_v + leak_a * element.ri_ohm
    if element._sense_kappa:
        terminal += board.pump_actual_a * element._sense_kappa * element.pump_r_ohm
    return input_network(board, terminal)


def esr_input(board: AnalogBoard) -> float:
    """The AC amplitude the injected square wave leaves at the Nernst node."""
    s = board.spec
    if board.faults.nernst_open:
        z_node = s.nernst_bias_ohm
    else:
        element = board.element
        tau = element.arc_r_ohm * element.arc_c_f
        arc_ohm = element.arc_r_ohm * math.tanh(0.25 / (s.esr_frequency_hz * tau)) if tau > 0.0 else 0.0
        z = element.ri_ohm + arc_ohm
        z_node = z * s.nernst_bias_ohm / (z + s.nernst_bias_ohm)
    return s.esr_inject_v * z_node / (s.esr_inject_ohm + z_node)


def demodulated_ri(spec: BoardSpec, v_ac: float) -> float:
    if v_ac <= 0.0:
        return 0.0
    if v_ac >= spec.esr_inject_v * 0.999:
        return 1e9
    return spec.esr_inject_ohm / (spec.esr_inject_v / v_ac - 1.0)


def where(value: float, lo: float, hi: float) -> str:
    return "lo" if value <= lo else "hi" if value >= hi else "inside"


@pytest.mark.parametrize("element", ["lsu49", "hc-mixed", "sealed-ref"])
def test_sample_is_quantise_of_the_readable_draws(element):
    rng = np.random.default_rng(sum(map(ord, element)))
    taken: Counter[str] = Counter()
    for trial in range(6):
        spec = random_spec(rng)
        rig = EmulatedRig(element, load_scenario("faults"), board=spec, seed=trial)
        board = rig.board
        # The same seed, read one deviate at a time through the readable draw.
        twin = AnalogBoard(rig.element, spec, seed=trial)
        for _ in range(700):
            rig.apply(float(rng.uniform(-2e-3, 2e-3)), float(rng.uniform(0.0, 1.0)))
            rig.advance_to(rig.t_s + float(rng.choice([0.002, 0.002, 0.03])))
            # Board state beyond what the physics reaches in a short run: every clamp of every channel.
            board.excitation_on = bool(rng.random() < 0.6)
            board.faults = NERNST_OPEN if rng.random() < 0.4 else NO_FAULTS
            board.pump_actual_a = float(rng.uniform(-1.5, 1.5) * spec.pump_adc_range_a)
            board.heater_terminal_v = float(rng.choice([0.0, rng.uniform(0.0, 14.0)]))
            board.heater_current_a = float(rng.choice([0.0, rng.uniform(0.0, 4.0)]))
            board.supply_v = float(rng.uniform(6.0, 16.0))
            interval_s = float(rng.choice([0.0002, 0.002, 0.02]))

            s = spec
            nernst_value = nernst_input(board) + s.nernst_noise_v * twin._gauss()
            pump_value = board.pump_actual_a + s.pump_noise_a * twin._gauss()
            if board.excitation_on:
                samples = max(s.esr_samples_per_s * interval_s, 3.0)
                esr_value = esr_input(board) + s.esr_adc_noise_v * math.sqrt(2.0 / samples) * twin._gauss()
                v_ac = _quantise(esr_value, 0.0, s.esr_inject_v, ESR_ADC_BITS)
                expected_ri = demodulated_ri(s, v_ac)
                taken[f"esr {where(esr_value, 0.0, s.esr_inject_v)}"] += 1
            else:
                expected_ri = math.nan
            heater_v = max(board.heater_terminal_v + s.heater_voltage_noise_v * twin._gauss(), 0.0)
            heater_a = max(board.heater_current_a + s.heater_current_noise_a * twin._gauss(), 0.0)
            supply_v = board.supply_v + s.supply_noise_v * twin._gauss()
            expected_sense = math.nan
            if board._has_sense:
                sense_value = sense_input(board) + s.sense_noise_v * twin._gauss()
                expected_sense = _quantise(sense_value, s.nernst_adc_min_v, s.nernst_adc_max_v, s.nernst_adc_bits)
                taken[f"sense {where(sense_value, s.nernst_adc_min_v, s.nernst_adc_max_v)}"] += 1

            reading = board.sample(rig.t_s, interval_s)

            assert reading.nernst_v == _quantise(nernst_value, s.nernst_adc_min_v, s.nernst_adc_max_v,
                                                 s.nernst_adc_bits)
            assert reading.pump_current_a == _quantise(pump_value, -s.pump_adc_range_a, s.pump_adc_range_a,
                                                       s.pump_adc_bits)
            assert reading.ri_ohm == expected_ri or (math.isnan(reading.ri_ohm) and math.isnan(expected_ri))
            assert (reading.heater_v, reading.heater_a, reading.supply_v) == (heater_v, heater_a, supply_v)
            assert reading.pump_v == board.pump_drive_v
            assert reading.sense_v == expected_sense or (math.isnan(reading.sense_v) and math.isnan(expected_sense))
            taken[f"nernst {where(nernst_value, s.nernst_adc_min_v, s.nernst_adc_max_v)}"] += 1
            taken[f"pump {where(pump_value, -s.pump_adc_range_a, s.pump_adc_range_a)}"] += 1
            taken["excitation on" if board.excitation_on else "excitation off"] += 1
            taken["nernst open" if board.faults.nernst_open else "nernst closed"] += 1
            taken["heater V at 0" if heater_v == 0.0 else "heater V above 0"] += 1
    expected = {f"{channel} {place}" for channel in ("nernst", "pump", "esr") for place in ("lo", "hi", "inside")}
    expected |= {"excitation on", "excitation off", "nernst open", "nernst closed", "heater V at 0", "heater V above 0"}
    if element == "hc-mixed":
        expected |= {f"sense {place}" for place in ("lo", "hi", "inside")}
    assert expected <= set(taken), f"branches never taken: {sorted(expected - set(taken))}"
