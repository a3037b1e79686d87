"""ElementModel.step (the step kernel: compiled by numba when it is installed, else the same code as
Python) against ElementModel.step_by_parts (the same step composed of the readable per-part methods,
always Python): bit for bit, over random states along random trajectories, on every built-in element
and every branch of the step (heating and cooling, lean, rich and free air, pump and reference
currents on and off, thermal substeps, cache refreshes, pressure changes, the solver's cold start, a
node pumped full of O2, each kind of reference and node). Run with LAMBDARIG_NO_JIT=1 it holds the
Python kernel to the parts; tests/test_jit_fallback.py holds the compiled and the Python kernel to
each other over whole runs.
"""

from __future__ import annotations

import copy
import math
import zlib
from collections import Counter

import numpy as np
import pytest

from lambdarig.emulator.element import ElementModel
from lambdarig.emulator.element_physics import MAX_THERMAL_STEP_S, REFRESH_K
from lambdarig.emulator.element_spec import element_names, load_element
from lambdarig.emulator.equilibrium import PO2_FLOOR_BAR
from lambdarig.emulator.exhaust import Gas
from lambdarig.emulator.fuels import NAMED_FUELS
from lambdarig.emulator.world import World

STEPS_PER_ELEMENT = 3000
# A catalytic node without an oxygen store: the kernel's solver with its store terms at zero.
NO_STORE = ("lsu49-no-store", "lsu49", ["measuring_node.oxygen_storage_mol=0"])
CASES = [(name, name, []) for name in element_names()] + [NO_STORE]


def same(a, b) -> bool:
    """Equal to the last bit (NaN equals NaN; 0.0 and -0.0 differ)."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, Gas) and isinstance(b, Gas):
        return same(tuple(a.as_dict().values()), tuple(b.as_dict().values()))
    return a is b or a == b


def state_of(model: ElementModel) -> dict:
    """Every slot; the kernel's parameter vector (an array when compiled) as a list of floats."""
    state = {name: getattr(model, name) for name in ElementModel.__slots__ if hasattr(model, name)}
    state["_k"] = [float(x) for x in state["_k"]]
    return state


def random_world(rng: np.random.Generator) -> World:
    kind = rng.integers(4)
    if kind == 0:
        lambda_value = math.inf
    elif kind == 1:
        lambda_value = float(rng.uniform(0.7, 0.999))     # rich
    elif kind == 2:
        lambda_value = float(rng.uniform(1.001, 3.0))     # lean
    else:
        lambda_value = 1.0 + float(rng.normal(0.0, 1e-3))  # near stoichiometric
    return World(lambda_value=lambda_value,
                 pressure_kpa=float(rng.choice([101.325, rng.uniform(60.0, 250.0)])),
                 gas_temp_c=float(rng.uniform(20.0, 700.0)),
                 flow_mps=float(rng.choice([0.0, rng.uniform(0.0, 40.0)])),
                 hc_ppm=float(rng.choice([0.0, rng.uniform(0.0, 800.0)])) if lambda_value < 5.0 else 0.0)


def perturb(model: ElementModel, rng: np.random.Generator) -> None:
    """Jump the state to places a smooth trajectory reaches rarely."""
    what = rng.integers(6)
    if what == 0:
        model.cell_temp_k = float(rng.uniform(290.0, 1300.0))
        model.heater_temp_k = model.cell_temp_k + float(rng.uniform(0.0, 150.0))
    elif what == 1 and model._node_volume_m3:
        model.node_po2_bar = PO2_FLOOR_BAR  # the solver's cold start
    elif what == 2 and model._node_volume_m3:
        model.node_po2_bar = model._p_bar * float(rng.uniform(0.999, 1.0))  # pumped full of O2
    elif what == 3 and model._node_volume_m3 and not model._mixed:
        model.node_po2_bar = float(10.0 ** rng.uniform(-40.0, -0.7))
    elif what == 4:
        model.ref_fraction = float(rng.choice([rng.uniform(0.0, 1e-3), rng.uniform(0.9, 1.0)]))


def branches_of(model: ElementModel, world: World, dt_s: float, pump_a: float, ref_a: float) -> set[str]:
    """The branches of step() this call takes, read off the state before it."""
    taken = {f"reference {model._ref_kind}", "thermal substeps" if dt_s > MAX_THERMAL_STEP_S else "one thermal step",
             "pump on" if pump_a else "pump off", "reference current on" if ref_a else "reference current off"}
    if not model._surface_settled or world.lambda_value != model._lambda or world.hc_ppm != model._hc_ppm:
        taken.add("surface moving")
    if world.pressure_kpa != model._pressure_kpa:
        taken.add("pressure change")
    if not model._node_volume_m3:
        taken.add("no node")
    elif model._mixed:
        taken.add("mixed node")
    elif model.node_po2_bar <= PO2_FLOOR_BAR:
        taken.add("solver cold start")
    else:
        taken.add("catalytic node")
        if model.node_po2_bar / model._p_bar >= 0.999:
            taken.add("node full of O2")
        if model._storage == 0.0:
            taken.add("node without a store")
    if world.lambda_value < 1.0:
        taken.add("rich")
    elif math.isinf(world.lambda_value):
        taken.add("air")
    else:
        taken.add("lean")
    return taken


@pytest.mark.parametrize("case, element, overrides", CASES, ids=[c[0] for c in CASES])
def test_step_is_step_by_parts_to_the_last_bit(case, element, overrides):
    rng = np.random.default_rng(zlib.crc32(case.encode()))  # seeded per case, deterministic
    spec = load_element(element, overrides)
    world = random_world(rng)
    model = ElementModel(spec, NAMED_FUELS["gasoline"], world)
    taken: Counter[str] = Counter()
    refreshed = 0
    heater_v = 12.0
    for n in range(STEPS_PER_ELEMENT):
        if rng.random() < 0.02:
            world = random_world(rng)
        if rng.random() < 0.03:
            perturb(model, rng)
        if rng.random() < 0.05:
            heater_v = float(rng.choice([0.0, rng.uniform(0.0, 14.0)]))
        dt_s = float(rng.choice([0.002, 0.002, 0.002, 0.0005, 0.005, 0.0125, 0.04]))
        pump_a = float(rng.choice([0.0, rng.uniform(-6e-3, 6e-3), rng.normal(0.0, 2e-4)]))
        ref_a = float(rng.choice([0.0, 20e-6, rng.uniform(0.0, 40e-6)]))
        taken.update(branches_of(model, world, dt_s, pump_a, ref_a))
        cache_before = model._cache_temp_k
        twin = copy.copy(model)
        model.step(dt_s, world, pump_a, ref_a, heater_v)
        twin.step_by_parts(dt_s, world, pump_a, ref_a, heater_v)
        refreshed += model._cache_temp_k != cache_before
        kernel, parts = state_of(model), state_of(twin)
        differ = [name for name in kernel if not same(kernel[name], parts.get(name))]
        assert not differ, (f"step {n}: step() and step_by_parts() differ in {differ}: "
                            f"{[(kernel[k], parts.get(k)) for k in differ]}")
    # The trajectory must have gone through every branch this element has.
    expected = {"thermal substeps", "one thermal step", "pump on", "pump off", "reference current on",
                "reference current off", "surface moving", "pressure change", "rich", "lean", "air",
                f"reference {spec.reference.kind}"}
    node = spec.measuring_node
    if node is None:
        expected.add("no node")
    elif not node.catalytic:
        expected.add("mixed node")
    else:
        expected |= {"solver cold start", "catalytic node", "node full of O2"}
        if not node.oxygen_storage_mol:
            expected.add("node without a store")
    assert expected <= set(taken), f"branches never taken: {sorted(expected - set(taken))}"
    assert refreshed > 50, f"the per-temperature cache (every {REFRESH_K} K) refreshed only {refreshed} times"
