"""The mixed-potential HC element `hc-mixed` (seed claim set 003; docs/hc-sensor.md).

A measuring gas compartment behind a gas access hole, held at a constant O2 (5 %, lambda >= 1.3
equivalent) by a pumping cell whose inner electrode is only partly catalytic; a Pt-Au measuring
electrode in the compartment shows a mixed potential that falls (in the sense_v convention) with the
oxidisable gases; a catalytic Pt reference in air. physics.md §8 (mixed potential), §3 (diffusion).
"""

from __future__ import annotations

import copy
import json
import math

import pytest
from helpers_loop import Controller, HeaterPI, PumpPI, mean, scenario

from lambdarig.emulator.board import AnalogBoard
from lambdarig.emulator.constants import F_C_PER_MOL, O2_IN_DRY_AIR, R_J_PER_MOL_K, ZERO_C_IN_K
from lambdarig.emulator.element import ElementModel
from lambdarig.emulator.element_spec import load_element, load_element_toml, parse_element
from lambdarig.emulator.errors import EmulatorInputError
from lambdarig.emulator.fuels import NAMED_FUELS
from lambdarig.emulator.rig import EmulatedRig
from lambdarig.emulator.scenario import load_scenario
from lambdarig.emulator.steady import steady_state
from lambdarig.emulator.world import World

GASOLINE = NAMED_FUELS["gasoline"]
HC_STEPS_PPM = (50, 100, 200, 500, 1000, 2000)


@pytest.fixture(scope="module")
def spec():
    return load_element("hc-mixed")


def _dv_mv(state) -> float:
    """Mixed-potential shift: measuring-cell EMF minus control-cell EMF, mV."""
    return 1e3 * (state.sense_emf_v - state.nernst_emf_v)


def _steady(spec, lambda_value=1.5, **kw):
    return steady_state(spec, GASOLINE, lambda_value, **kw)


# --- the file -------------------------------------------------------------------------------------

def test_element_loads_as_claimed(spec):
    assert spec.family == "hc"
    assert spec.measuring_node is not None and spec.measuring_node.catalytic is False
    assert spec.reference.kind == "air"                      # catalytic Pt reference (claims 9-10)
    assert spec.pump_cell is not None
    assert spec.partial_catalysis is not None and spec.measuring_cell is not None
    # The target is the control voltage for 5 % O2 in the compartment at the operating temperature.
    temp_k = spec.operating_temp_c + ZERO_C_IN_K
    target = R_J_PER_MOL_K * temp_k / (4.0 * F_C_PER_MOL) * math.log(O2_IN_DRY_AIR / 0.05)
    assert spec.nernst_target_v == pytest.approx(target, abs=5e-5)
    # Same YSZ law as the LSU 4.9 (the firmware's ESR table applies): ~933 ohm at 650 °C.
    assert _steady(spec).ri_ohm == pytest.approx(933.0, rel=0.01)


def _raw(name: str) -> dict:
    return copy.deepcopy(load_element_toml(name))


def test_loader_refuses_inconsistent_node_and_cells():
    data = _raw("hc-mixed")
    data["measuring_node"]["catalytic"] = True
    with pytest.raises(EmulatorInputError, match="measuring_node.catalytic"):
        parse_element(data, "test")
    data = _raw("lsu49")
    data["measuring_node"]["catalytic"] = False
    with pytest.raises(EmulatorInputError, match="measuring_node.catalytic"):
        parse_element(data, "test")
    data = _raw("hc-mixed")
    del data["partial_catalysis"]
    with pytest.raises(EmulatorInputError, match="partial_catalysis"):
        parse_element(data, "test")
    data = _raw("hc-mixed")
    del data["measuring_cell"]
    with pytest.raises(EmulatorInputError, match="measuring_cell"):
        parse_element(data, "test")
    data = _raw("lsu49")
    data["measuring_cell"] = _raw("hc-mixed")["measuring_cell"]
    with pytest.raises(EmulatorInputError, match="measuring_cell"):
        parse_element(data, "test")
    data = _raw("hc-mixed")
    data["measuring_cell"]["s_mv_per_decade"] = 0.0
    with pytest.raises(EmulatorInputError, match="measuring_cell.s_mv_per_decade"):
        parse_element(data, "test")


def test_what_if_overrides_work(spec):
    hot = load_element("hc-mixed", ["partial_catalysis.hc_per_s=50.0"])
    assert _steady(hot, hc_ppm=500).node_hc_ppm < 0.5 * _steady(spec, hc_ppm=500).node_hc_ppm


# --- steady states --------------------------------------------------------------------------------

def test_compartment_o2_held_while_lambda_moves(spec):
    lambdas = (1.3, 1.45, 1.6, 1.8, 2.0)
    states = [_steady(spec, lam, hc_ppm=500) for lam in lambdas]
    o2 = [s.node_o2_pct for s in states]
    currents = [s.pump_current_a for s in states]
    print("\nlambda " + " ".join(f"{lam:6.2f}" for lam in lambdas))
    print("O2 %   " + " ".join(f"{x:6.3f}" for x in o2))
    print("Ip mA  " + " ".join(f"{i * 1e3:6.3f}" for i in currents))
    for s in states:
        assert s.nernst_v == pytest.approx(spec.nernst_target_v, abs=1e-9)
        assert s.node_o2_pct == pytest.approx(5.0, rel=0.02)
    assert max(o2) - min(o2) < 0.02 * 5.0
    # the pump current does the work: it rises by well over a milliampere
    assert all(b > a for a, b in zip(currents, currents[1:]))
    assert currents[-1] - currents[0] > 1.2e-3
    # and the measuring cell barely notices the lambda change (< 0.5 mV at 500 ppm)
    dvs = [_dv_mv(s) for s in states]
    assert max(dvs) - min(dvs) < 0.5


def test_pump_current_signs(spec):
    assert _steady(spec, 1.0).pump_current_a < -0.8e-3       # stoichiometric: O2 pumped in
    assert abs(_steady(spec, 1.3).pump_current_a) < 0.3e-3   # lambda 1.3 carries ~5 % O2 already
    assert _steady(spec, math.inf).pump_current_a > 3e-3      # air: pumped out


def test_sense_falls_monotonically_with_hc(spec):
    zero = _steady(spec, hc_ppm=0.0)
    assert abs(_dv_mv(zero)) < 0.5
    states = [_steady(spec, hc_ppm=ppm) for ppm in HC_STEPS_PPM]
    senses = [s.sense_v for s in states]
    dvs = [_dv_mv(s) for s in states]
    print("\nppm " + " ".join(f"{p:7d}" for p in HC_STEPS_PPM))
    print("dV  " + " ".join(f"{v:7.2f}" for v in dvs))
    assert all(b < a for a, b in zip([zero.sense_v] + senses, senses))
    assert all(s.sense_v < s.nernst_v for s in states)        # more HC: lower than the control cell
    # roughly logarithmic at high ppm: equal steps per doubling, near S(650 °C) = 55 mV/decade
    d1 = dvs[4] - dvs[3]   # 500 -> 1000
    d2 = dvs[5] - dvs[4]   # 1000 -> 2000
    assert d2 == pytest.approx(d1, rel=0.15)
    per_decade = -d2 / math.log10(2.0)
    assert 45.0 < per_decade < 56.0
    # linear-ish at low concentration: 50 -> 100 ppm is a larger step than a doubling at 1000 ppm
    # would be in proportion, but far from the doubling a linear law gives
    assert 1.3 < dvs[1] / dvs[0] < 2.0
    # sensitive enough for +-10 % at 50 ppm: > 0.1 mV per ppm of exhaust HC
    low = _steady(spec, hc_ppm=55.0)
    assert (_dv_mv(states[0]) - _dv_mv(low)) / 5.0 > 0.1


def test_hc_partly_burnt_in_compartment(spec):
    state = _steady(spec, hc_ppm=1000.0)
    burnt = 1.0 - state.node_hc_ppm / 1000.0
    print(f"\nHC burnt in the compartment at 650 °C: {burnt * 100:.1f} %")
    assert 0.15 < burnt < 0.35
    # hotter: the inner pumping electrode burns more
    hot = steady_state(spec, GASOLINE, 1.5, hc_ppm=1000.0, temp_c=700.0)
    assert hot.node_hc_ppm < state.node_hc_ppm


def test_sensitivity_falls_with_temperature(spec):
    slopes = []
    for temp_c in (600.0, 650.0, 700.0):
        lo = steady_state(spec, GASOLINE, 1.5, hc_ppm=200.0, temp_c=temp_c)
        hi = steady_state(spec, GASOLINE, 1.5, hc_ppm=2000.0, temp_c=temp_c)
        slopes.append(_dv_mv(lo) - _dv_mv(hi))   # mV per decade of exhaust HC (positive)
    print("\nmV/decade 200->2000 ppm at 600/650/700 °C: " + " / ".join(f"{s:.1f}" for s in slopes))
    assert slopes[0] > slopes[1] > slopes[2] > 20.0


def test_cross_sensitivity_to_co_and_h2(spec):
    hc = _dv_mv(_steady(spec, hc_ppm=1000.0))
    co = _dv_mv(_steady(spec, co_ppm=1000.0))
    h2 = _dv_mv(_steady(spec, h2_ppm=1000.0))
    print(f"\ndV at 1000 ppm: HC {hc:.1f}, CO {co:.1f}, H2 {h2:.1f} mV")
    assert hc < co < h2 < -20.0                 # all oxidisable gases give a signal; HC most
    both = _dv_mv(_steady(spec, hc_ppm=500.0, co_ppm=500.0))
    assert _dv_mv(_steady(spec, hc_ppm=500.0)) > both > hc
    # rich exhaust: CO and H2 reach the compartment (pumped O2 burns only part of them)
    rich = _steady(spec, 0.95)
    assert rich.node_o2_pct == pytest.approx(5.0, rel=0.03)
    assert rich.node_co_ppm > 1000.0 and rich.node_h2_ppm > 100.0
    assert _dv_mv(rich) < -50.0


def test_pressure_changes_the_held_o2_fraction_not_the_pressure(spec):
    low = _steady(spec, pressure_kpa=80.0, hc_ppm=500.0)
    high = _steady(spec, pressure_kpa=150.0, hc_ppm=500.0)
    # the control cell reads pO2: a fixed voltage holds the partial pressure
    assert low.node_po2_bar == pytest.approx(high.node_po2_bar, rel=0.01)
    assert low.node_o2_pct > high.node_o2_pct


def test_other_elements_have_no_measuring_cell():
    for name in ("lsu49", "sealed-ref"):
        element = load_element(name)
        state = steady_state(element, GASOLINE, 1.0)
        assert math.isnan(state.sense_emf_v) and not state.has_measuring_cell
        assert "sense_v" not in state.as_dict()
        model = ElementModel(element, GASOLINE, World(lambda_value=1.0))
        assert math.isnan(model.sense_emf_v)
        frontend = AnalogBoard(model)
        assert frontend._draws_per_sample == 6
        assert math.isnan(frontend.sample(0.0).sense_v)


# --- dynamics -------------------------------------------------------------------------------------

class HcController(Controller):
    """The test-local loops at the HC element's 650 °C (933 ohm): the heater loop closes below
    1400 ohm (~615 °C), the pump loop starts below 1800 ohm (~590 °C)."""

    HEATER_CLOSE_OHM = 1400.0
    PUMP_ENABLE_OHM = 1800.0


def _hc_controller(rig, spec):
    # Plant: ~0.4 V/s per mA at 5 % O2 (the compartment holds ~2.6 nmol), 15 mV/mA static.
    return HcController(rig, pump=PumpPI(kp=0.05, ki=10.0, target_v=spec.nernst_target_v),
                        heater=HeaterPI(target_ohm=933.0, feed_forward_v=6.0))


def test_dynamic_model_converges_to_steady_state(spec):
    sc = scenario(duration_s=40.0, gas_temp_c=400.0, flow_mps=10.0, hc_ppm=500.0, **{"lambda": 1.3},
                  at=[{"t_s": 22.0, "lambda": 2.0}])
    rig = EmulatedRig(spec, sc, seed=5)
    controller = _hc_controller(rig, spec)
    senses = []
    record = controller.run_until(21.0, record_from_s=19.0,
                                  observer=lambda t, r, c: senses.append(r.sense_v - r.nernst_v) if t >= 19.0 else None)
    assert controller.pump_on and controller.heater_closed
    first = rig.truth()
    assert abs(mean(record.nernst_v) - spec.nernst_target_v) < 0.1e-3
    element = rig.element
    ip = mean(record.pump_current_a)
    # the steady state at the EMF the loop really holds (the front end's bias network and heater
    # leakage shift the reading by a few mV at 650 °C)
    steady = steady_state(spec, GASOLINE, 1.3, hc_ppm=500.0, temp_c=element.temp_c, gas_temp_c=400.0,
                          nernst_target_v=first.nernst_emf_v + ip * element.coupling_r_ohm)
    print(f"\nlambda 1.3: Ip {ip * 1e3:.4f} mA (steady {steady.pump_current_a * 1e3:.4f}), O2 "
          f"{first.node_o2_pct:.3f} % ({steady.node_o2_pct:.3f}), HC {first.node_hc_ppm:.1f} ppm "
          f"({steady.node_hc_ppm:.1f}), dV read {mean(senses) * 1e3:.2f} mV (true "
          f"{(first.sense_emf_v - first.nernst_emf_v) * 1e3:.2f})")
    assert ip == pytest.approx(steady.pump_current_a, abs=15e-6)
    assert first.node_o2_pct == pytest.approx(steady.node_o2_pct, rel=2e-3)
    assert first.node_hc_ppm == pytest.approx(steady.node_hc_ppm, rel=2e-3)
    assert first.sense_emf_v == pytest.approx(steady.sense_emf_v, abs=0.1e-3)
    # the board's difference reading is the mixed-potential shift (offsets cancel)
    assert mean(senses) == pytest.approx(first.sense_emf_v - first.nernst_emf_v, abs=0.3e-3)

    # lambda 1.3 -> 2.0: the pump current moves by > 1 mA, the compartment O2 stays put
    record = controller.run_until(26.0, record_from_s=25.0).window(25.0)
    second = rig.truth()
    assert mean(record.pump_current_a) - ip > 1.2e-3
    assert second.node_o2_pct == pytest.approx(first.node_o2_pct, rel=0.02)
    assert second.node_hc_ppm == pytest.approx(first.node_hc_ppm, rel=0.01)


def test_hc_step_response_is_fast(spec):
    sc = scenario(duration_s=30.0, gas_temp_c=400.0, flow_mps=10.0, hc_ppm=0.0, **{"lambda": 1.5},
                  at=[{"t_s": 20.0, "hc_ppm": 1000.0}])
    rig = EmulatedRig(spec, sc, seed=6)
    controller = _hc_controller(rig, spec)
    controller.run_until(20.0)
    trace = []
    controller.run_until(21.0, observer=lambda t, r, c: trace.append((t, rig.truth().sense_emf_v
                                                                       - rig.truth().nernst_emf_v)))
    final = trace[-1][1]
    t90 = next(t for t, dv in trace if dv <= 0.9 * final) - 20.0
    print(f"\nHC step 0 -> 1000 ppm at 10 m/s: dV {final * 1e3:.1f} mV, t90 {t90 * 1e3:.0f} ms")
    assert final < -0.05
    assert 0.02 < t90 < 0.3      # protection tube (~24 ms) + compartment (~50 ms for HC)


def test_integrator_is_stable_for_any_step(spec):
    world = World(lambda_value=1.6, hc_ppm=1000.0, gas_temp_c=650.0)
    steady = steady_state(spec, GASOLINE, 1.6, hc_ppm=1000.0)
    for dt in (1e-4, 2e-3, 0.05, 1.0, 30.0):
        model = ElementModel(spec, GASOLINE, world)
        model.cell_temp_k = model.heater_temp_k = spec.operating_temp_c + ZERO_C_IN_K
        model._refresh(model.cell_temp_k, world.pressure_kpa)
        for _ in range(int(max(3.0 / dt, 40))):
            model._step_mixed(dt, steady.pump_current_a)
            assert 0.0 <= model.n_o2 < 1.0 and model.n_hc >= 0.0
        assert 100.0 * model.n_o2 == pytest.approx(steady.node_o2_pct, rel=0.01), dt
        assert model.node_hc_ppm == pytest.approx(steady.node_hc_ppm, rel=0.01), dt


def test_pumping_beyond_the_limit_goes_rich_without_breaking(spec):
    sc = scenario(duration_s=10.0, gas_temp_c=400.0, flow_mps=10.0, hc_ppm=500.0, **{"lambda": 1.3})
    rig = EmulatedRig(spec, sc, seed=7)
    element = rig.element
    element.cell_temp_k = element.heater_temp_k = spec.operating_temp_c + ZERO_C_IN_K
    rig.apply(pump_current_a=5e-3, heater_duty=0.2)   # far beyond what diffuses in
    t = 0.0
    while t < 2.0:
        t = round(t + 0.002, 9)
        rig.advance_to(t)
        reading = rig.sample()
        assert not math.isnan(reading.nernst_v) and not math.isnan(reading.sense_v)
        assert min(element.n_o2, element.n_h2, element.n_co, element.n_hc) >= 0.0
    # O2 gone, H2O/CO2 electrolysed: the control cell reads rich, as a wideband cell beyond its limit
    assert element.n_o2 < 1e-6 and element.n_co + element.n_h2 > 1e-3
    assert reading.nernst_v > 0.5


def test_truth_and_readings_carry_the_compartment(spec):
    sc = scenario(duration_s=5.0, hc_ppm=300.0, **{"lambda": 1.5})
    rig = EmulatedRig(spec, sc, seed=8)
    assert rig.board._draws_per_sample == 7
    element = rig.element
    element.cell_temp_k = element.heater_temp_k = spec.operating_temp_c + ZERO_C_IN_K  # hot, loop off
    rig.advance_to(0.5)
    truth = rig.truth()
    assert truth.hc_ppm == 300.0
    assert truth.node_o2_pct > 0.0 and truth.node_hc_ppm > 0.0
    reading = rig.sample()
    assert reading.sense_v < reading.nernst_v


# --- scenario and command line --------------------------------------------------------------------

def test_hc_steps_scenario():
    sc = load_scenario("hc-steps")
    assert sc.duration_s <= 120.0
    seen = {}
    t = 0.0
    while t < sc.duration_s:
        world = sc.world_at(t)
        assert world.flow_mps == 10.0 and 350.0 <= world.gas_temp_c <= 450.0
        seen.setdefault(world.lambda_value, set()).add(world.hc_ppm)
        t += 0.5
    for lam in (1.3, 1.6, 2.0):
        assert set(HC_STEPS_PPM) <= seen[lam], lam
    assert sc.world_at(10.0).hc_ppm == 0.0      # warm-up without HC


def test_cli_element_prints_the_compartment(capsys):
    from lambdarig.cli import main
    assert main(["element", "hc-mixed", "--lambda", "1.5", "--hc-ppm", "500", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["sense_v"] < data["nernst_v"]
    assert data["node_o2_pct"] == pytest.approx(5.0, rel=0.02)
    assert 300.0 < data["node_hc_ppm"] < 450.0
    assert main(["element", "hc-mixed", "--lambda", "1.5", "--hc-ppm", "500"]) == 0
    text = capsys.readouterr().out
    assert "compartment HC" in text and "measuring-cell voltage" in text
    assert main(["element", "lsu49", "--json"]) == 0
    assert "sense_v" not in json.loads(capsys.readouterr().out)
