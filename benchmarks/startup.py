"""Start-up of `lambdarig simulate`, timed from outside: the command for 0.1 simulated s (import, the
element model with its kernel, the first ticks) and for 120 simulated s (the realtime factor a user
sees): as installed (the step kernel built ahead of time by Cython when the install had a C compiler,
lambdarig/aot.py; else Python below 150 simulated s, numba above), with numba's kernel forced
(LAMBDARIG_NO_JIT=0: numba imported, the kernel loaded from its on-disk cache) and with Python
forced (LAMBDARIG_NO_JIT=1). Also `python -X
importtime`'s total for the command line, and, once, a start with an empty numba cache (the kernels
compiled afresh, as after an edit of the emulator's physics).

Beside them, the floors of a start (CPU seconds, medians): the interpreter alone, `import numpy`,
`import numpy, numba`, and numba loading a trivial one-line kernel from its cache, so that numba's
own share of a start (its import and its cache load, whatever the kernel) is measured apart from ours.
The variants run interleaved (one run of each in turn), so that a busy machine weighs on all alike;
the CPU seconds (user + system of the child) are the steadier figure on a shared machine.

    python benchmarks/startup.py [--runs 5] [--long-runs 5]

Prints the figures (medians of the runs) and writes benchmarks/results/startup.json.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import _common  # noqa: F401  (sets the import path)
from _common import print_table, write_result

GOAL_START_S = 1.0
GOAL_LONG_X = 150.0
LONG_S = 120.0


def command(duration_s: float) -> list[str]:
    return [sys.executable, "-m", "lambdarig.cli", "simulate", "--duration", f"{duration_s:g}", "--quiet", "--json"]


CPU_S: list[float] = []   # the CPU seconds (user + system) of each timed command, in order


def timed(duration_s: float, env: dict) -> float:
    """Wall seconds of the command (its CPU seconds appended to CPU_S: steadier on a busy machine)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command(duration_s), env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_S.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


def import_time_s(env: dict) -> float:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import lambdarig.cli"], env=env,
                         capture_output=True, text=True, check=True).stderr
    total = [int(m.group(1)) for m in re.finditer(r"\|\s*(\d+) \| lambdarig\.cli$", out, re.M)]
    return total[-1] / 1e6 if total else float("nan")


FLOOR_KERNEL = """import numba, numpy

@numba.njit(cache=True)
def kernel(k, x):
    return k[0] + x

kernel.compile("(float64[::1], float64)")
kernel(numpy.zeros(1), 1.0)
"""
BUILT_PROBE = ("from lambdarig import aot; import lambdarig.emulator.element_physics as m; "
               "print(aot.is_compiled(m))")
FLOORS = {"interpreter alone (python -c pass)": "pass",
          "import numpy": "import numpy",
          "import numpy, numba": "import numpy, numba",
          "numba + a trivial kernel from its cache, first call": "import floor_kernel"}


def floor_cpu_s(code: str, env: dict) -> float:
    """CPU seconds of `python -c code` (the floors of a start)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], env=env, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of the short command per variant")
    parser.add_argument("--long-runs", type=int, default=5, help="runs of the 120 s command per variant")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    base = dict(os.environ)
    base.pop("LAMBDARIG_NO_JIT", None)
    # As installed: bytecode cached (a harness that sets PYTHONDONTWRITEBYTECODE would otherwise add the
    # compilation of every lambdarig module to each start, ~0.3 s).
    base.pop("PYTHONDONTWRITEBYTECODE", None)
    compiled = dict(base, LAMBDARIG_NO_JIT="0")   # set (to 0): the compiled kernel whatever the run's length
    built = subprocess.run([sys.executable, "-c", BUILT_PROBE], env=base, capture_output=True, text=True,
                           check=True).stdout.strip() == "True"
    shipped = "as installed: " + ("kernel built ahead (Cython)" if built else "not built (Python / numba)")
    variants = {shipped: base,
                "numba (LAMBDARIG_NO_JIT=0)": compiled,
                "Python (LAMBDARIG_NO_JIT=1)": dict(base, LAMBDARIG_NO_JIT="1")}

    # A start with an empty cache: the kernels compiled afresh, then kept in that cache directory.
    cold_dir = tempfile.mkdtemp(prefix="lambdarig-numba-")
    floor_dir = tempfile.mkdtemp(prefix="lambdarig-floor-")
    try:
        cold_s = timed(0.1, dict(compiled, NUMBA_CACHE_DIR=cold_dir))
        timed(0.1, compiled)   # warms the cache the runs below use
        with open(os.path.join(floor_dir, "floor_kernel.py"), "w", encoding="utf-8") as f:
            f.write(FLOOR_KERNEL)
        floor_env = dict(base, PYTHONPATH=floor_dir, NUMBA_CACHE_DIR=os.path.join(floor_dir, "cache"))
        floor_cpu_s(FLOORS["numba + a trivial kernel from its cache, first call"], floor_env)   # compiles, caches

        short: dict[str, list[float]] = {name: [] for name in variants}
        short_cpu: dict[str, list[float]] = {name: [] for name in variants}
        floors: dict[str, list[float]] = {name: [] for name in FLOORS}
        for _ in range(args.runs):     # interleaved: each round runs every variant and floor once
            for name, env in variants.items():
                short[name].append(timed(0.1, env))
                short_cpu[name].append(CPU_S[-1])
            for name, code in FLOORS.items():
                floors[name].append(floor_cpu_s(code, floor_env))
        long: dict[str, list[float]] = {name: [] for name in variants}
        long_cpu: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.long_runs):
            for name, env in variants.items():
                long[name].append(timed(LONG_S, env))
                long_cpu[name].append(CPU_S[-1])
    finally:
        shutil.rmtree(cold_dir, ignore_errors=True)
        shutil.rmtree(floor_dir, ignore_errors=True)

    rows, results = [], {}
    for name, env in variants.items():
        imports = import_time_s(env)
        start, long_wall = statistics.median(short[name]), statistics.median(long[name])
        start_cpu, run_cpu = statistics.median(short_cpu[name]), statistics.median(long_cpu[name])
        results[name] = {"start_s": {"runs": [round(x, 3) for x in short[name]], "median": round(start, 3),
                                     "cpu_runs": [round(x, 3) for x in short_cpu[name]],
                                     "cpu_median": round(start_cpu, 3)},
                         "run_120s_wall_s": {"runs": [round(x, 2) for x in long[name]], "median": round(long_wall, 2),
                                             "cpu_runs": [round(x, 2) for x in long_cpu[name]],
                                             "cpu_median": round(run_cpu, 2)},
                         "realtime_factor_120s": round(LONG_S / long_wall, 1),
                         "realtime_factor_120s_cpu": round(LONG_S / run_cpu, 1), "import_cli_s": round(imports, 3)}
        rows.append([name, f"{start:.2f} ({start_cpu:.2f})", f"{imports:.2f}",
                     f"{long_wall:.2f} ({run_cpu:.2f})", f"{LONG_S / long_wall:.0f}x ({LONG_S / run_cpu:.0f}x)",
                     "PASS" if LONG_S / long_wall >= GOAL_LONG_X else "FAIL"])
    print(f"`lambdarig simulate` timed from outside ({args.runs} short runs, {args.long_runs} of {LONG_S:g} s, "
          "interleaved, medians)\n")
    print_table(["kernel", "start-up s (CPU s)", "import lambdarig.cli s", f"{LONG_S:g} sim s: wall s (CPU s)",
                 "realtime (by CPU)", f">= {GOAL_LONG_X:g}x"], rows)
    print(f"\n   goals: start-up <= {GOAL_START_S:g} s; {LONG_S:g} s run >= {GOAL_LONG_X:g}x. First start after an "
          f"edit of the physics (empty numba cache, kernels compiled): {cold_s:.2f} s")
    floor = {name: statistics.median(values) for name, values in floors.items()}
    numba_share = floor["numba + a trivial kernel from its cache, first call"] - floor["import numpy"]
    print("\nFloors of a start (CPU s, medians; numba's share does not depend on our kernel)\n")
    print_table(["part", "CPU s"], [[name, f"{value:.3f}"] for name, value in floor.items()]
                + [["numba's share: trivial kernel loaded less `import numpy`", f"{numba_share:.3f}"]])
    print(f"\n   (1-min load average before the runs: {load_before:.2f} on {os.cpu_count()} CPUs)")
    write_result("startup", {"variants": results, "built_ahead": built, "cold_cache_start_s": round(cold_s, 3),
                             "floors_cpu_s": {name: {"runs": [round(x, 3) for x in floors[name]],
                                                     "median": round(value, 3)} for name, value in floor.items()},
                             "numba_share_cpu_s": round(numba_share, 3),
                             "goal_start_s": GOAL_START_S, "goal_long_realtime_factor": GOAL_LONG_X,
                             "load_average_1min_before": round(load_before, 2), "cpus": os.cpu_count()})


if __name__ == "__main__":
    main()
