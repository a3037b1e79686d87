"""The LSU 4.9 in time: warm-up, the 450 mV pump loop, lambda steps, determinism and line faults.

Everything runs on an EmulatedRig in virtual time, driven by the small test-local controllers in
helpers_loop.py. The loops only see the front end's readings (rig.sample()); the emulator's truth is
read by the tests to judge the result.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from helpers_loop import CONDENSATION_V, Controller, bosch_warmup_v, duty_for, mean, percentile, scenario

from lambdarig.emulator.element_spec import load_element
from lambdarig.emulator.fuels import NAMED_FUELS
from lambdarig.emulator.rig import EmulatedRig
from lambdarig.emulator.steady import steady_state

GASOLINE = NAMED_FUELS["gasoline"]
CONDENSATION_S = 3.0
# A running engine: hot, flowing exhaust (the protection tube is flushed).
EXHAUST = {"gas_temp_c": 350.0, "flow_mps": 10.0}


@pytest.fixture(scope="module")
def lsu49():
    return load_element("lsu49")


def _steady_ip(spec, lambda_value: float) -> float:
    return steady_state(spec, GASOLINE, lambda_value).pump_current_a


def _lambda_key(lambda_value: float):
    return "air" if math.isinf(lambda_value) else lambda_value


# --- warm-up --------------------------------------------------------------------------------------

def test_bosch_warmup_reaches_740c_in_10_to_13_s():
    sc = scenario(duration_s=30.0, ambient_c=20.0, gas_temp_c=20.0, flow_mps=0.0, supply_v=13.5,
                  **{"lambda": "air"})
    rig = EmulatedRig("lsu49", sc, seed=1)
    truth = rig.truth()
    assert truth.temp_c == pytest.approx(20.0) and truth.heater_r_ohm == pytest.approx(3.2, abs=0.1)
    dt = 0.002
    t = 0.0
    reached_s = None
    first_current_a = None
    while t < 20.0:
        volts = bosch_warmup_v(t, CONDENSATION_S)
        rig.apply(heater_duty=duty_for(volts, 13.5))
        t = round(t + dt, 9)
        rig.advance_to(t)
        reading = rig.sample()
        if first_current_a is None:
            first_current_a = reading.heater_a
        if rig.truth().temp_c >= 740.0:
            reached_s = t - CONDENSATION_S
            break
        if t <= CONDENSATION_S:
            # Condensation phase: <= 2 V effective, and the element must stay cool (no thermal shock).
            assert reading.heater_v == pytest.approx(CONDENSATION_V, abs=0.05)
            assert rig.truth().temp_c < 100.0
    print(f"\nBosch warm-up: 740 °C reached {reached_s} s after the ramp started")
    # 2 V on a cold 3.2 Ω heater
    assert first_current_a == pytest.approx(CONDENSATION_V / 3.2, rel=0.05)
    assert reached_s is not None, "740 °C not reached within 17 s of ramp"
    assert 10.0 <= reached_s <= 13.0


def test_still_air_heater_power_at_operating_point(lsu49):
    """The Ri loop holds 300 Ω in still 20 °C air with ~7.5 W at the heater terminals (Bosch heater data)."""
    sc = scenario(duration_s=40.0, gas_temp_c=20.0, flow_mps=0.0, **{"lambda": "air"})
    rig = EmulatedRig(lsu49, sc, seed=2)
    controller = Controller(rig, CONDENSATION_S)
    power = []
    temps = []

    def observe(t, reading, _):
        if t >= 32.0:
            power.append(reading.heater_v * reading.heater_a)
            temps.append(rig.truth().temp_c)

    controller.run_until(35.0, observer=observe)
    assert mean(temps) == pytest.approx(780.0, abs=5.0)
    assert mean(power) == pytest.approx(7.5, abs=0.3)
    assert mean(power) == pytest.approx(steady_state(lsu49, GASOLINE, math.inf).heater_power_w, rel=0.03)


# --- closed pump loop -----------------------------------------------------------------------------

LOOP_LAMBDAS = [0.8, 1.0, 1.5, math.inf]


@pytest.mark.parametrize("lambda_value", LOOP_LAMBDAS, ids=[str(_lambda_key(v)) for v in LOOP_LAMBDAS])
def test_closed_loop_converges_to_steady_state(lsu49, lambda_value):
    sc = scenario(duration_s=30.0, **EXHAUST, **{"lambda": 1.0},
                  at=[{"t_s": 16.0, "lambda": _lambda_key(lambda_value)}])
    rig = EmulatedRig(lsu49, sc, seed=11)
    controller = Controller(rig, CONDENSATION_S)
    record = controller.run_until(24.0, record_from_s=20.0)
    assert controller.heater_closed and controller.pump_on
    expected = _steady_ip(lsu49, lambda_value)
    last = record.window(23.5)
    measured = mean(last.pump_current_a)
    tolerance = max(0.015 * abs(expected), 15e-6)
    assert abs(measured - expected) <= tolerance, \
        f"Ip {measured * 1e3:.4f} mA vs steady state {expected * 1e3:.4f} mA"
    assert mean(last.temp_c) == pytest.approx(780.0, abs=10.0)
    errors = [abs(v - 0.45) for v in record.nernst_v]
    p99 = percentile(errors, 99.0)
    print(f"\nlambda {_lambda_key(lambda_value)}: Ip {measured * 1e3:.4f} mA (steady {expected * 1e3:.4f}), "
          f"p99 |Un - 450 mV| = {p99 * 1e3:.2f} mV")
    assert p99 < 5e-3


# --- lambda steps ---------------------------------------------------------------------------------

def _crossing_s(record, t_step: float, start: float, end: float, fraction: float) -> float | None:
    threshold = start + fraction * (end - start)
    sign = 1.0 if end > start else -1.0
    for t, value in zip(record.t_s, record.pump_current_a):
        if t >= t_step and sign * (value - threshold) >= 0.0:
            return t - t_step
    return None


def _step_times(spec, before: float, after: float, flow_mps: float = EXHAUST["flow_mps"]):
    t_step = 20.0
    sc = scenario(duration_s=30.0, gas_temp_c=EXHAUST["gas_temp_c"], flow_mps=flow_mps,
                  **{"lambda": before}, at=[{"t_s": t_step, "lambda": after}])
    rig = EmulatedRig(spec, sc, seed=5)
    record = Controller(rig, CONDENSATION_S).run_until(t_step + 3.0, record_from_s=t_step - 0.5)
    start = mean(record.window(t_step - 0.5, t_step).pump_current_a)
    end = mean(record.window(t_step + 2.5).pump_current_a)
    return (start, end, _crossing_s(record, t_step, start, end, 0.63), _crossing_s(record, t_step, start, end, 0.98))


@pytest.mark.parametrize("before,after", [(1.0, 1.5), (0.8, 1.2)])
def test_lambda_step_response(lsu49, before, after):
    start, end, t63, t98 = _step_times(lsu49, before, after)
    print(f"\nstep {before} -> {after}: Ip {start * 1e3:.4f} -> {end * 1e3:.4f} mA, "
          f"t63 = {t63 * 1e3 if t63 is not None else None} ms, t98 = {t98 * 1e3 if t98 is not None else None} ms")
    assert start == pytest.approx(_steady_ip(lsu49, before), abs=max(0.015 * abs(_steady_ip(lsu49, before)), 15e-6))
    assert end == pytest.approx(_steady_ip(lsu49, after), rel=0.015)
    assert t63 is not None and t98 is not None
    assert 0.010 < t63 <= 0.3
    assert t98 <= 1.0


def test_slow_flow_slows_the_response(lsu49):
    """The lag is physical (protection-tube exchange goes with flow): less flow, slower step."""
    _, _, t63_fast, _ = _step_times(lsu49, 1.0, 1.5, flow_mps=10.0)
    _, _, t63_slow, _ = _step_times(lsu49, 1.0, 1.5, flow_mps=1.0)
    print(f"\nt63 at 10 m/s {t63_fast * 1e3:.0f} ms, at 1 m/s {t63_slow * 1e3:.0f} ms")
    assert t63_slow > 2.0 * t63_fast


# --- determinism ----------------------------------------------------------------------------------

def _run_samples(seed: int) -> list[tuple]:
    sc = scenario(duration_s=30.0, **EXHAUST, **{"lambda": 1.0}, at=[{"t_s": 15.0, "lambda": 0.9}])
    rig = EmulatedRig("lsu49", sc, seed=seed)
    samples: list[tuple] = []
    Controller(rig, CONDENSATION_S).run_until(16.0, observer=lambda t, r, c: samples.append(dataclasses.astuple(r)))
    return samples


def test_same_seed_same_run_different_seed_different_run():
    first = _run_samples(7)
    second = _run_samples(7)
    other = _run_samples(8)
    assert len(first) == len(second) == len(other) == 8000
    assert first == second
    assert first != other
    differing = sum(1 for a, b in zip(first, other) if a != b)
    assert differing > 0.9 * len(first)  # noise differs sample by sample, not only at the end


# --- line faults ----------------------------------------------------------------------------------

FAULTS = [
    {"t_s": 20.0, "kind": "heater_open", "clear_s": 23.0},
    {"t_s": 27.0, "kind": "heater_short", "clear_s": 30.0},
    {"t_s": 34.0, "kind": "pump_open", "clear_s": 36.0},
    {"t_s": 39.0, "kind": "supply_drop", "value_v": 7.0, "clear_s": 41.0},
    {"t_s": 44.0, "kind": "nernst_open", "clear_s": 46.0},
]
WINDOWS = {f["kind"]: (f["t_s"], f["clear_s"]) for f in FAULTS}


@dataclasses.dataclass
class Tick:
    t_s: float
    reading: object
    duty: float
    temp_c: float
    pump_command_a: float


@pytest.fixture(scope="module")
def fault_run():
    sc = scenario(duration_s=48.0, **EXHAUST, **{"lambda": 1.2}, fault=FAULTS)
    rig = EmulatedRig("lsu49", sc, seed=3)
    ticks: list[Tick] = []

    def observe(t, reading, controller):
        ticks.append(Tick(t, reading, rig.board.heater_duty, rig.truth().temp_c, controller.pump_command_a))

    Controller(rig, CONDENSATION_S).run_until(48.0, observer=observe)
    return ticks


def _during(ticks, kind: str) -> list[Tick]:
    on_s, off_s = WINDOWS[kind]
    # A sample at t reports the wiring of the last step (t - 2 ms): skip the edge itself.
    return [tick for tick in ticks if on_s + 0.01 <= tick.t_s <= off_s]


def _at(ticks, t_s: float) -> Tick:
    return min(ticks, key=lambda tick: abs(tick.t_s - t_s))


def test_fault_free_operation_before_faults(fault_run):
    before = [tick for tick in fault_run if 18.0 <= tick.t_s < 20.0]
    assert mean([t.temp_c for t in before]) == pytest.approx(780.0, abs=10.0)
    assert max(abs(t.reading.nernst_v - 0.45) for t in before) < 0.01
    assert all(t.reading.heater_a > 0.5 for t in before)


def test_pump_open_fault(fault_run):
    ticks = _during(fault_run, "pump_open")
    assert max(abs(t.pump_command_a) for t in ticks) > 5e-3  # the loop winds up and asks for a lot ...
    assert all(abs(t.reading.pump_current_a) < 20e-6 for t in ticks)  # ... and nothing flows
    # before and after, the measured current is the lean current again
    expected = _steady_ip(load_element("lsu49"), 1.2)
    after = [t.reading.pump_current_a for t in fault_run if 37.5 <= t.t_s < 39.0]
    assert mean(after) == pytest.approx(expected, rel=0.05)


def test_pump_open_passes_no_current_either_way():
    sc = scenario(duration_s=30.0, **EXHAUST, **{"lambda": 1.2}, fault=[{"t_s": 16.0, "kind": "pump_open"}])
    rig = EmulatedRig("lsu49", sc, seed=4)
    controller = Controller(rig, CONDENSATION_S)
    controller.run_until(15.9)
    hot = rig.sample()
    assert abs(hot.pump_current_a) > 0.2e-3  # hot and pumping before the fault
    rig.advance_to(16.1)
    for command in (-9e-3, -2e-3, 2e-3, 6e-3):
        rig.apply(pump_current_a=command)
        rig.advance_to(rig.t_s + 0.05)
        reading = rig.sample()
        assert abs(reading.pump_current_a) < 20e-6, command
        assert abs(rig.truth().pump_current_a) < 1e-9


def test_nernst_open_fault(fault_run):
    ticks = _during(fault_run, "nernst_open")
    assert all(t.reading.nernst_v >= 1.0 for t in ticks)
    assert all(t.reading.ri_ohm > 10e3 for t in ticks)


def test_heater_open_fault(fault_run):
    ticks = _during(fault_run, "heater_open")
    assert all(t.duty > 0.0 for t in ticks)
    assert max(t.duty for t in ticks) > 0.5  # the heater loop asks for more and more
    assert all(t.reading.heater_a < 0.05 for t in ticks)
    on_s, off_s = WINDOWS["heater_open"]
    assert _at(fault_run, off_s).temp_c < _at(fault_run, on_s).temp_c - 30.0


def test_heater_short_fault(fault_run):
    ticks = _during(fault_run, "heater_short")
    assert all(t.duty > 0.0 for t in ticks)
    assert all(t.reading.heater_a > 3.0 * math.sqrt(t.duty) for t in ticks)
    on_s, off_s = WINDOWS["heater_short"]
    assert _at(fault_run, off_s).temp_c < _at(fault_run, on_s).temp_c - 30.0


def test_supply_drop_fault(fault_run):
    ticks = _during(fault_run, "supply_drop")
    assert all(t.reading.supply_v == pytest.approx(7.0, abs=0.2) for t in ticks)
    assert all(t.reading.heater_v <= 7.2 for t in ticks)
    normal = [t.reading.supply_v for t in fault_run if 37.0 <= t.t_s < 39.0]
    assert mean(normal) == pytest.approx(13.5, abs=0.05)
