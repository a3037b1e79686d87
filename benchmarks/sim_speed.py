"""Closed-loop simulation speed: our controller driving the sim front end (emulated LSU 4.9) through the
runtime loop, default rates (pump 500 Hz, heater 20 Hz, telemetry 100 Hz, no sinks), default scenario.

    python benchmarks/sim_speed.py [--runs 3]

Reports the realtime factor (simulated s per wall s) and µs per tick, best and median of the runs,
and where the time goes, from the same ticks replayed part by part (best of 5 replays each):
- the firmware alone: Controller.tick on the recorded samples (the floor of the firmware side);
- the emulator alone: the rig (scenario, board, element) on the recorded commands, without the HAL
  (the floor of the emulator side), and within it the element's step alone on its recorded inputs;
- the sim front end: the same through hal.sim (wait_until + sample + apply);
- the runtime loop and the rest: the whole loop less the firmware and the front end.
How the emulator ran is printed with the figures: built ahead of time (Cython, at install: the
modules lambdarig/aot.py lists), its element step kernel compiled by numba (LAMBDARIG_NO_JIT=0), or
as Python (LAMBDARIG_NO_JIT=1). One process, one core. Prints the figures and writes
benchmarks/results/sim_speed.json.
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
from lambdarig.emulator import jit
from lambdarig.hal.registry import open_frontend
from lambdarig.hal.types import Command

SCENARIO = "default"
SEED = 0
GOAL_X = 200.0
PERIOD_S = 1.0 / 500.0


CPU_S: list[float] = []   # the CPU seconds (time.process_time) of each full_loop run: steadier on a busy machine


def full_loop() -> tuple[float, float, int]:
    """(sim s, wall s, ticks) of one Runtime run over the whole scenario (its CPU s appended to CPU_S)."""
    fe = open_frontend("sim:lsu49", scenario=SCENARIO, seed=SEED)
    ctl = Controller()
    runtime = Runtime(fe, ctl)
    start = time.process_time()
    result = runtime.run(fe.scenario.duration_s)
    CPU_S.append(time.process_time() - start)
    return result.sim_s, result.wall_s, result.ticks


def record() -> tuple[list, list, list]:
    """Samples, commands and the element's step inputs of one run (not timed), for the split below.
    The step inputs are read off the rig after each wait: at 500 Hz every wait is one integration
    step, whose inputs the board keeps until the next one (the element model, an extension type when
    built, cannot be wrapped)."""
    fe = open_frontend("sim:lsu49", scenario=SCENARIO, seed=SEED)
    ctl = Controller()
    rig, board = fe.rig, fe.rig.board
    samples, commands, steps = [], [], []
    raw_sample, raw_apply, raw_wait = fe.sample, fe.apply, fe.wait_until

    def wait_until(t_s):
        before = rig.t_s
        waited = raw_wait(t_s)
        if rig.t_s > before:
            assert rig.t_s - before <= rig.max_step_s * (1 + 1e-9), "one integration step per tick"
            steps.append((rig.t_s - before, rig.world, board.pump_actual_a, board.ref_actual_a,
                          board.heater_element_v))
        return waited

    def sample():
        s = raw_sample()
        samples.append(s)   # a fresh Sample per tick: kept as it is
        return s

    def apply(command):
        commands.append((command.pump_current_a, command.heater_duty, command.excitation))
        raw_apply(command)

    fe.sample, fe.apply, fe.wait_until = sample, apply, wait_until
    Runtime(fe, ctl).run(fe.scenario.duration_s)
    return samples, commands, steps


def controller_only(samples: list) -> float:
    ctl = Controller()
    tick = ctl.tick
    start = time.perf_counter()
    for s in samples:
        tick(s)
    return time.perf_counter() - start


def frontend_only(commands: list) -> float:
    fe = open_frontend("sim:lsu49", scenario=SCENARIO, seed=SEED)
    command = Command()
    start = time.perf_counter()
    for n, (pump_a, duty, excitation) in enumerate(commands):
        fe.wait_until(n * PERIOD_S)
        fe.sample()
        command.pump_current_a, command.heater_duty, command.excitation = pump_a, duty, excitation
        fe.apply(command)
    return time.perf_counter() - start


def emulator_only(commands: list) -> float:
    """The rig under the sim front end (scenario, board, element) on the same commands, without the HAL."""
    rig = open_frontend("sim:lsu49", scenario=SCENARIO, seed=SEED).rig
    board = rig.board
    advance_to, sample = rig.advance_to, board.sample
    set_pump, set_duty, set_excitation = board.set_pump_current, board.set_heater_duty, board.set_excitation
    start = time.perf_counter()
    for n, (pump_a, duty, excitation) in enumerate(commands):
        t = n * PERIOD_S
        advance_to(t)
        sample(t, PERIOD_S)
        set_pump(pump_a)
        set_duty(duty)
        if excitation is not None:   # as hal.sim's apply: None leaves the excitation as it is
            set_excitation(excitation)
    return time.perf_counter() - start


def element_only(steps: list) -> float:
    """The element's step alone, on its recorded inputs (the same trajectory: the model is deterministic)."""
    element = open_frontend("sim:lsu49", scenario=SCENARIO, seed=SEED).rig.element
    step = element.step
    start = time.perf_counter()
    for args in steps:
        step(*args)
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
    cpu_us_tick = [cpu / ticks * 1e6 for cpu in CPU_S]

    samples, commands, steps = record()
    ctl_s = min(controller_only(samples) for _ in range(5))
    fe_s = min(frontend_only(commands) for _ in range(5))
    emu_s = min(emulator_only(commands) for _ in range(5))
    el_s = min(element_only(steps) for _ in range(5))
    loop_wall = min(wall for _, wall, _ in runs)
    other_s = max(loop_wall - ctl_s - fe_s, 0.0)
    kernel = ("the emulator built ahead of time (Cython)" if jit.is_built_ahead()
              else f"the element step kernel compiled (numba {jit.numba_version()})" if jit.is_compiled()
              else "the emulator as Python (no build, no numba, or LAMBDARIG_NO_JIT=1)")

    print(f"Closed loop: our controller + sim:lsu49, scenario {SCENARIO!r} ({sim_s:g} simulated s, {ticks} ticks "
          f"at 500 Hz), {args.runs} runs, one core; {kernel}\n")
    rows = [["realtime factor (sim s / wall s)", f"{best:.1f}x", f"{median:.1f}x", f">= {GOAL_X:g}x",
             "PASS" if median >= GOAL_X else "FAIL"],
            ["µs per tick", f"{min(us_tick):.1f}", f"{statistics.median(us_tick):.1f}",
             f"<= {1e6 / 500 / GOAL_X:.0f}", "PASS" if statistics.median(us_tick) <= 1e6 / 500 / GOAL_X else "FAIL"],
            ["CPU µs per tick (process_time: steadier on a busy machine)", f"{min(cpu_us_tick):.1f}",
             f"{statistics.median(cpu_us_tick):.1f}", f"<= {1e6 / 500 / GOAL_X:.0f}",
             "PASS" if statistics.median(cpu_us_tick) <= 1e6 / 500 / GOAL_X else "FAIL"]]
    print_table(["figure", "best", "median", "goal", ""], rows)
    print(f"   (1-min load average before the runs: {load_before:.2f} on {os.cpu_count()} CPUs; other busy "
          "processes lower the figures)")
    print("\nWhere the time goes (each part: best of 5 replays of the same ticks)\n")

    def row(part: str, wall: float) -> list[str]:
        return [part, f"{wall:.3f}", f"{wall / ticks * 1e6:.2f}", f"{100 * wall / loop_wall:.0f} %"]

    split = [row("firmware: Controller.tick on the recorded samples (its floor)", ctl_s),
             row("sim front end: wait_until + sample + apply", fe_s),
             row("  of which the emulator alone: rig + board, no HAL (its floor)", emu_s),
             row("    of which the element's step alone", el_s),
             row("    board, scenario and rig: the rest of the emulator", max(emu_s - el_s, 0.0)),
             row("  of which hal.sim's own calls", max(fe_s - emu_s, 0.0)),
             row("runtime loop and the rest", other_s),
             row("whole loop (best run)", loop_wall)]
    print_table(["part", "wall s", "µs/tick", "share"], split)
    write_result("sim_speed", {
        "scenario": SCENARIO, "seed": SEED, "sim_s": sim_s, "ticks": ticks, "pump_hz": 500.0,
        "realtime_factor": {"runs": [round(f, 1) for f in factors], "best": round(best, 1), "median": round(median, 1)},
        "us_per_tick": {"runs": [round(u, 2) for u in us_tick], "best": round(min(us_tick), 2),
                        "median": round(statistics.median(us_tick), 2)},
        "cpu_us_per_tick": {"runs": [round(u, 2) for u in cpu_us_tick], "best": round(min(cpu_us_tick), 2),
                            "median": round(statistics.median(cpu_us_tick), 2)},
        "load_average_1min_before": round(load_before, 2), "cpus": os.cpu_count(),
        "goal_realtime_factor": GOAL_X, "pass": median >= GOAL_X,
        "kernel": "built" if jit.is_built_ahead() else "numba" if jit.is_compiled() else "python",
        "split_s": {"controller": round(ctl_s, 4), "frontend": round(fe_s, 4), "emulator": round(emu_s, 4),
                    "element_step": round(el_s, 4), "runtime_rest": round(other_s, 4),
                    "whole_loop_best": round(loop_wall, 4)},
        "split_us_per_tick": {name: round(wall / ticks * 1e6, 2) for name, wall in (
            ("controller", ctl_s), ("frontend", fe_s), ("emulator", emu_s), ("element_step", el_s),
            ("runtime_rest", other_s))},
    })


if __name__ == "__main__":
    main()
