"""Closed-loop simulation speed: our controller driving the sim front end (emulated LSU 4.9) through the
runtime loop, default rates (pump 500 Hz, heater 20 Hz, telemetry 100 Hz, no sinks), default scenario.

    python benchmarks/sim_speed.py [--runs 3]

Reports the realtime factor (simulated s per wall s) and µs per tick, best and median of the runs,
and where the time goes: the same ticks replayed through the controller alone (recorded samples) and
through the front end alone (recorded commands); the rest is the runtime loop itself. One process,
one core. Prints the figures and writes benchmarks/results/sim_speed.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import _common  # noqa: F401  (sets the import path)
from _common import print_table, write_result

from lambdarig.controller.core import Controller
from lambdarig.controller.runtime import Runtime
from lambdarig.hal.registry import open_frontend
from lambdarig.hal.types import Command

SCENARIO = "default"
SEED = 0
GOAL_X = 100.0


def full_loop() -> tuple[float, float, int]:
    """(sim s, wall s, ticks) of one Runtime run over the whole scenario."""
    fe = open_frontend("sim:lsu49", scenario=SCENARIO, seed=SEED)
    ctl = Controller()
    result = Runtime(fe, ctl).run(fe.scenario.duration_s)
    return result.sim_s, result.wall_s, result.ticks


def record() -> tuple[list, list]:
    """Samples and commands of one run (not timed), for the split below."""
    fe = open_frontend("sim:lsu49", scenario=SCENARIO, seed=SEED)
    ctl = Controller()
    samples, commands = [], []
    raw_sample, raw_apply = fe.sample, fe.apply

    def sample():
        s = raw_sample()
        samples.append(s)   # a fresh Sample per tick: kept as it is
        return s

    def apply(command):
        commands.append((command.pump_current_a, command.heater_duty, command.excitation))
        raw_apply(command)

    fe.sample, fe.apply = sample, apply
    Runtime(fe, ctl).run(fe.scenario.duration_s)
    return samples, commands


def controller_only(samples: list) -> float:
    ctl = Controller()
    tick = ctl.tick
    start = time.perf_counter()
    for s in samples:
        tick(s)
    return time.perf_counter() - start


def frontend_only(commands: list) -> float:
    fe = open_frontend("sim:lsu49", scenario=SCENARIO, seed=SEED)
    period = 1.0 / 500.0
    command = Command()
    start = time.perf_counter()
    for n, (pump_a, duty, excitation) in enumerate(commands):
        fe.wait_until(n * period)
        fe.sample()
        command.pump_current_a, command.heater_duty, command.excitation = pump_a, duty, excitation
        fe.apply(command)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs of the whole loop")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    runs = [full_loop() for _ in range(args.runs)]
    factors = [sim / wall for sim, wall, _ in runs]
    us_tick = [wall / ticks * 1e6 for _, wall, ticks in runs]
    sim_s, _, ticks = runs[0]
    best, median = max(factors), statistics.median(factors)

    samples, commands = record()
    ctl_s = min(controller_only(samples) for _ in range(2))
    fe_s = min(frontend_only(commands) for _ in range(2))
    loop_wall = min(wall for _, wall, _ in runs)
    other_s = max(loop_wall - ctl_s - fe_s, 0.0)

    print(f"Closed loop: our controller + sim:lsu49, scenario {SCENARIO!r} ({sim_s:g} simulated s, {ticks} ticks "
          f"at 500 Hz), {args.runs} runs, one core\n")
    rows = [["realtime factor (sim s / wall s)", f"{best:.1f}x", f"{median:.1f}x", f">= {GOAL_X:g}x",
             "PASS" if median >= GOAL_X else "FAIL"],
            ["µs per tick", f"{min(us_tick):.1f}", f"{statistics.median(us_tick):.1f}",
             f"<= {1e6 / 500 / GOAL_X:.0f}", "PASS" if statistics.median(us_tick) <= 1e6 / 500 / GOAL_X else "FAIL"]]
    print_table(["figure", "best", "median", "goal", ""], rows)
    print(f"   (1-min load average before the runs: {load_before:.2f} on {os.cpu_count()} CPUs; other busy "
          "processes lower the figures)")
    print("\nWhere the time goes (best of 2 replays of the same ticks)\n")
    split = [["controller.tick (recorded samples)", f"{ctl_s:.3f}", f"{ctl_s / ticks * 1e6:.1f}",
              f"{100 * ctl_s / loop_wall:.0f} %"],
             ["sim front end: wait_until + sample + apply", f"{fe_s:.3f}", f"{fe_s / ticks * 1e6:.1f}",
              f"{100 * fe_s / loop_wall:.0f} %"],
             ["runtime loop and the rest", f"{other_s:.3f}", f"{other_s / ticks * 1e6:.1f}",
              f"{100 * other_s / loop_wall:.0f} %"],
             ["whole loop (best run)", f"{loop_wall:.3f}", f"{loop_wall / ticks * 1e6:.1f}", "100 %"]]
    print_table(["part", "wall s", "µs/tick", "share"], split)
    write_result("sim_speed", {
        "scenario": SCENARIO, "seed": SEED, "sim_s": sim_s, "ticks": ticks, "pump_hz": 500.0,
        "realtime_factor": {"runs": [round(f, 1) for f in factors], "best": round(best, 1), "median": round(median, 1)},
        "us_per_tick": {"runs": [round(u, 2) for u in us_tick], "best": round(min(us_tick), 2),
                        "median": round(statistics.median(us_tick), 2)},
        "load_average_1min_before": round(load_before, 2), "cpus": os.cpu_count(),
        "goal_realtime_factor": GOAL_X, "pass": median >= GOAL_X,
        "split_s": {"controller": round(ctl_s, 4), "frontend": round(fe_s, 4), "runtime_rest": round(other_s, 4),
                    "whole_loop_best": round(loop_wall, 4)},
        "split_us_per_tick": {"controller": round(ctl_s / ticks * 1e6, 2), "frontend": round(fe_s / ticks * 1e6, 2),
                              "runtime_rest": round(other_s / ticks * 1e6, 2)},
    })


if __name__ == "__main__":
    main()
