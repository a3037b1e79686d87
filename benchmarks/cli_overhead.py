"""What `lambdarig simulate --json` adds on top of the bare closed loop (benchmarks/sim_speed.py), per tick
and at start-up.

    python benchmarks/cli_overhead.py [--runs 5] [--duration 60]

Per tick (CPU seconds of Runtime.run / ticks, one process, default scenario, the runs interleaved so
that a busy machine weighs on all alike; best and median):
- bare: the Runtime with no sinks (nothing is emitted: sim_speed.py's loop);
- + status(): a sink that does nothing, the front end's truth not asked for (Controller.status()
  at every telemetry tick, 100 Hz);
- + truth(): the same sink with the emulator's truth asked for too;
- as the CLI: the sinks `simulate --json` runs with (the session's last reading and lambda accuracy,
  lambdarig.session_sinks.attach_sinks, and the console's progress line off a terminal).
Start-up (subprocesses, CPU seconds, medians, bytecode cached): the interpreter alone, the modules the
loop needs (controller, emulator, sim front end), the whole `lambdarig.cli.cmd_simulate`, and the
command `simulate --duration 0.1 --json --quiet`. Prints the figures and writes
benchmarks/results/cli_overhead.json.

Timing the command from outside in a shell that sets PYTHONDONTWRITEBYTECODE=1 (some CI and agent
harnesses do) measures the compilation of every lambdarig module at each start as well wherever no
.pyc has been written for them: 0.30 against 0.19 CPU s for the 0.1 s command, measured by hand on
2026-12-08. An editable install byte-compiles the package (setup.py), so this only happens for the
files edited since; this script and benchmarks/startup.py unset the variable anyway.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import _common  # noqa: F401  (sets the import path)
from _common import print_table, write_result

from lambdarig.controller.core import Controller
from lambdarig.controller.runtime import Runtime
from lambdarig.hal.registry import open_frontend
from lambdarig.progress import Progress
from lambdarig.session_sinks import attach_sinks

SCENARIO = "default"
SEED = 0
CORE = ("lambdarig.controller.runtime", "lambdarig.hal.sim", "lambdarig.hal.registry", "lambdarig.emulator.rig",
        "lambdarig.emulator.steady")


def nothing(status, truth) -> None:
    """A sink that reads nothing: what is left is the cost of building what it is handed."""


def loop_us_per_tick(duration_s: float, setup: Callable[[Runtime], None]) -> float:
    fe = open_frontend("sim:lsu49", scenario=SCENARIO, seed=SEED)
    try:
        runtime = Runtime(fe, Controller())
        setup(runtime)
        start = time.process_time()
        result = runtime.run(duration_s)
        return (time.process_time() - start) / result.ticks * 1e6
    finally:
        fe.close()


def bare(runtime: Runtime) -> None:
    pass


def status_only(runtime: Runtime) -> None:
    runtime.sinks.append(nothing)
    runtime.has_truth = False


def status_and_truth(runtime: Runtime) -> None:
    runtime.sinks.append(nothing)


def as_the_cli(duration_s: float) -> Callable[[Runtime], None]:
    def setup(runtime: Runtime) -> None:
        fe = runtime.frontend
        attach_sinks(runtime, runtime.controller, fe.info(), t0_s=fe.now(), duration_s=duration_s,
                     keep_samples=False, plot=False, extra=[Progress(io.StringIO(), duration_s, tty=False)])
    return setup


def cpu_of(argv: list[str], env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--duration", type=float, default=60.0, help="simulated s per loop run")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]

    variants = {"bare (no sinks)": bare, "+ status()": status_only, "+ status() + truth()": status_and_truth,
                "as the CLI (--json)": as_the_cli(args.duration)}
    per_tick: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.runs):
        for name, setup in variants.items():
            per_tick[name].append(loop_us_per_tick(args.duration, setup))
    base = statistics.median(per_tick["bare (no sinks)"])
    rows, loop = [], {}
    for name, runs in per_tick.items():
        median = statistics.median(runs)
        loop[name] = {"us_per_tick_runs": [round(r, 3) for r in runs], "best": round(min(runs), 3),
                      "median": round(median, 3), "over_bare_median": round(median - base, 3)}
        rows.append([name, f"{min(runs):.2f}", f"{median:.2f}", f"{median - base:+.2f}"])
    print(f"closed loop, {args.duration:g} simulated s, {args.runs} runs, CPU µs per 500 Hz tick "
          f"(telemetry every 5th tick):")
    print_table(["variant", "best", "median", "median over bare"], rows)

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)   # as installed: bytecode cached (see the note below)
    starts = {"interpreter": [sys.executable, "-c", "pass"],
              "import the loop's modules": [sys.executable, "-c", "import " + ", ".join(CORE)],
              "import lambdarig.cli.cmd_simulate": [sys.executable, "-c", "import lambdarig.cli.cmd_simulate"],
              "simulate --duration 0.1 --json": [sys.executable, "-m", "lambdarig.cli", "simulate", "--duration",
                                                 "0.1", "--json", "--quiet"]}
    for argv in starts.values():   # writes the bytecode where it is missing
        cpu_of(argv, env)
    cpu: dict[str, list[float]] = {name: [] for name in starts}
    for _ in range(args.runs):
        for name, argv in starts.items():
            cpu[name].append(cpu_of(argv, env))
    start = {name: {"cpu_s_runs": [round(r, 3) for r in runs], "median": round(statistics.median(runs), 3)}
             for name, runs in cpu.items()}
    print("\nstart-up, CPU s (user + system), median:")
    print_table(["what", "median"], [[name, f"{s['median']:.3f}"] for name, s in start.items()])
    print("(bytecode cached, as an install leaves it; a module edited since, where PYTHONDONTWRITEBYTECODE=1 is "
          "set, is compiled at every start: all of them cost 0.30 against 0.19 CPU s, 2026-12-08)")
    write_result("cli_overhead", {"load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
                                  "duration_s": args.duration, "runs": args.runs, "loop_cpu": loop,
                                  "start_cpu": start})


if __name__ == "__main__":
    main()
