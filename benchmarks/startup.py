"""Start-up of `lambdarig simulate`, timed from outside: the command for 0.1 simulated s (import, the
element model with its compiled kernel loaded from numba's on-disk cache, the first ticks) and for
120 simulated s (the realtime factor a user sees), with the compiled kernel and with
LAMBDARIG_NO_JIT=1. Also `python -X importtime`'s total for the command line, and, once, a start
with an empty numba cache (the kernels compiled afresh, as after an edit of the emulator's physics).

    python benchmarks/startup.py [--runs 5] [--long-runs 3]

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of the short command per variant")
    parser.add_argument("--long-runs", type=int, default=3, help="runs of the 120 s command per variant")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    base = dict(os.environ)
    base.pop("LAMBDARIG_NO_JIT", None)
    # As installed: bytecode cached (a harness that sets PYTHONDONTWRITEBYTECODE would otherwise add the
    # compilation of every lambdarig module to each start, ~0.3 s).
    base.pop("PYTHONDONTWRITEBYTECODE", None)
    variants = {"compiled (numba, cached kernel)": base,
                "Python (LAMBDARIG_NO_JIT=1)": dict(base, LAMBDARIG_NO_JIT="1")}

    # A start with an empty cache: the kernels compiled afresh, then kept in that cache directory.
    cold_dir = tempfile.mkdtemp(prefix="lambdarig-numba-")
    try:
        cold_s = timed(0.1, dict(base, NUMBA_CACHE_DIR=cold_dir))
    finally:
        shutil.rmtree(cold_dir, ignore_errors=True)
    timed(0.1, base)   # warms the cache the runs below use

    rows, results = [], {}
    for name, env in variants.items():
        # Interleaved would be fairer on a busy machine; each variant's runs are back to back here.
        short = [timed(0.1, env) for _ in range(args.runs)]
        short_cpu = CPU_S[-args.runs:]
        long = [timed(LONG_S, env) for _ in range(args.long_runs)]
        long_cpu = CPU_S[-args.long_runs:]
        imports = import_time_s(env)
        start, long_wall = statistics.median(short), statistics.median(long)
        results[name] = {"start_s": {"runs": [round(x, 3) for x in short], "median": round(start, 3),
                                     "cpu_median": round(statistics.median(short_cpu), 3)},
                         "run_120s_wall_s": {"runs": [round(x, 2) for x in long], "median": round(long_wall, 2),
                                             "cpu_median": round(statistics.median(long_cpu), 2)},
                         "realtime_factor_120s": round(LONG_S / long_wall, 1), "import_cli_s": round(imports, 3)}
        rows.append([name, f"{start:.2f} ({statistics.median(short_cpu):.2f})", f"{imports:.2f}",
                     f"{long_wall:.2f} ({statistics.median(long_cpu):.2f})", f"{LONG_S / long_wall:.0f}x"])
    print(f"`lambdarig simulate` timed from outside ({args.runs} short runs, {args.long_runs} of {LONG_S:g} s, "
          "medians)\n")
    print_table(["kernel", "start-up s (CPU s)", "import lambdarig.cli s", f"{LONG_S:g} sim s: wall s (CPU s)",
                 "realtime"], rows)
    print(f"\n   goals: start-up <= {GOAL_START_S:g} s; {LONG_S:g} s run >= {GOAL_LONG_X:g}x. First start after an "
          f"edit of the physics (empty numba cache, kernels compiled): {cold_s:.2f} s")
    print(f"   (1-min load average before the runs: {load_before:.2f} on {os.cpu_count()} CPUs)")
    write_result("startup", {"variants": results, "cold_cache_start_s": round(cold_s, 3),
                             "goal_start_s": GOAL_START_S, "goal_long_realtime_factor": GOAL_LONG_X,
                             "load_average_1min_before": round(load_before, 2), "cpus": os.cpu_count()})


if __name__ == "__main__":
    main()
