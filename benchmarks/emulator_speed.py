"""Emulator speed: element steps per second, and rig (element + front end + scenario) steps plus
samples per second, in one process on one core.

    python benchmarks/emulator_speed.py [--seconds 20]

Prints the figures and writes benchmarks/results/emulator_speed.json.
"""

from __future__ import annotations

import argparse
import time

import _common  # noqa: F401  (sets the import path)
from _common import print_table, write_result

from lambdarig.emulator.element import ElementModel
from lambdarig.emulator.element_spec import element_names, load_element
from lambdarig.emulator.fuels import NAMED_FUELS
from lambdarig.emulator.rig import EmulatedRig
from lambdarig.emulator.scenario import load_scenario
from lambdarig.emulator.world import World

STEP_S = 0.002  # the pump loop's period at the default 500 Hz


def element_rate(name: str, sim_seconds: float) -> float:
    world = World(lambda_value=1.3, gas_temp_c=350.0, flow_mps=10.0)
    model = ElementModel(load_element(name), NAMED_FUELS["gasoline"], world)
    model.cell_temp_k = model.heater_temp_k = 1053.15
    steps = int(sim_seconds / STEP_S)
    start = time.perf_counter()
    for k in range(steps):
        # Alternate the current so the node never settles (no shortcut from a quiet state).
        model.step(STEP_S, world, 0.4e-3 if k & 1 else 0.5e-3, 20e-6, 7.5)
    return steps / (time.perf_counter() - start)


def rig_rate(name: str, sim_seconds: float) -> float:
    rig = EmulatedRig(name, load_scenario("default"))
    rig.apply(heater_duty=0.3, pump_current_a=0.0)
    steps = int(sim_seconds / STEP_S)
    t = 0.0
    start = time.perf_counter()
    for k in range(steps):
        rig.sample(STEP_S)
        rig.apply(pump_current_a=0.1e-3 if k & 1 else 0.0)
        t += STEP_S
        rig.advance_to(t)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="simulated seconds per measurement")
    args = parser.parse_args()
    rows, results = [], {}
    for name in element_names():
        e_rate = element_rate(name, args.seconds)
        r_rate = rig_rate(name, args.seconds)
        results[name] = {"element_steps_per_s": round(e_rate), "rig_steps_per_s": round(r_rate),
                         "element_us_per_step": round(1e6 / e_rate, 2), "rig_us_per_step": round(1e6 / r_rate, 2),
                         "rig_realtime_factor_at_500hz": round(r_rate * STEP_S, 1)}
        rows.append([name, f"{e_rate:,.0f}", f"{1e6 / e_rate:.1f}", f"{r_rate:,.0f}", f"{1e6 / r_rate:.1f}",
                     f"{r_rate * STEP_S:.0f}x"])
    print(f"Emulator speed, {STEP_S * 1e3:g} ms steps, {args.seconds:g} simulated s each, one core\n")
    print_table(["element", "element steps/s", "µs/step", "rig steps/s", "µs/step", "rig vs real time"], rows)
    write_result("emulator_speed", {"step_s": STEP_S, "sim_seconds": args.seconds, "elements": results})


if __name__ == "__main__":
    main()
