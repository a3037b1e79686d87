"""Sweep throughput: simulated seconds per wall second per core of `lambdarig sweep` on a Dask
LocalCluster with 1 and 2 worker processes, against the single-process simulate speed on the same
machine (the same cases, one after the other, through `lambdarig.simulate` in this process).

    python benchmarks/sweep_speed.py [--cases 48] [--duration 30] [--runs 1]

Figures (each the median of --runs):
  single     sim s / wall s of lambdarig.simulate(keep_samples=False), one process
  runner     the same cases through the sweep's runner in this process (adds the metrics sink and
             the per-process caches, no Dask): what a worker does
  N workers  sim s / wall s / N of a sweep (batches, Dask, Parquet parts), from the first submit to
             the last stored row; the cluster's start-up is reported apart
  efficiency per core = (N workers figure) / single; scaling = 2-worker total / 1-worker total.
  2 plain    the single-process figure with 2 processes at once (no Dask, half the cases each): what
             the machine's two cores give right now (shared or loaded cores give less than 2x); the
             2-worker efficiency is also reported against it
  start-up   wall ms per case of 0.1 s simulated cases: what a case costs besides simulating, through
             lambdarig.simulate (loads the scenario each time) and through the runner (cached)
The goal is >= 90 % efficiency per core. Two cores loaded by other work give lower figures: say so.
Prints the figures and writes benchmarks/results/sweep_speed.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import _common  # noqa: F401  (sets the import path)
from _common import print_table, write_result

import lambdarig
from lambdarig.sweep.cases import code_id, expand
from lambdarig.sweep.engine import run_sweep
from lambdarig.sweep.runner import run_batch
from lambdarig.sweep.spec import sweep_from_dict
from lambdarig.sweep.store import read_results

GOAL_EFFICIENCY = 0.90
SCENARIO = "default"


def spec_for(cases: int, duration_s: float):
    return sweep_from_dict({"name": "speed", "duration_s": duration_s,
                            "axes": {"scenario": [SCENARIO], "seed": {"from": 0, "to": cases - 1}}}, "speed")


def single(cases: int, duration_s: float) -> float:
    start = time.perf_counter()
    sim_s = 0.0
    for seed in range(cases):
        result = lambdarig.simulate("lsu49", scenario=SCENARIO, duration_s=duration_s, seed=seed,
                                    keep_samples=False, progress=lambda text: None)
        sim_s += result.summary["sim_s"]
    return sim_s / (time.perf_counter() - start)


def _half(args: tuple[int, int, float]) -> float:
    first, count, duration_s = args
    for seed in range(first, first + count):
        lambdarig.simulate("lsu49", scenario=SCENARIO, duration_s=duration_s, seed=seed, keep_samples=False,
                           progress=lambda text: None)
    return count * duration_s


def plain_two(cases: int, duration_s: float) -> float:
    """sim s / wall s per process of two plain processes at once, half the cases each."""
    from concurrent.futures import ProcessPoolExecutor

    half = cases // 2
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_half, [(0, 1, 0.1), (1, 1, 0.1)]))   # both processes have imported the firmware
        start = time.perf_counter()
        sim_s = sum(pool.map(_half, [(0, half, duration_s), (half, cases - half, duration_s)]))
    return sim_s / (time.perf_counter() - start) / 2


def runner(cases: int, duration_s: float) -> float:
    todo = expand(spec_for(cases, duration_s))
    start = time.perf_counter()
    rows = run_batch(todo, code_id())
    return sum(r["sim_s"] for r in rows) / (time.perf_counter() - start)


def startup_ms(cases: int = 50) -> tuple[float, float]:
    """(ms per case through lambdarig.simulate, ms per case through the sweep runner) of 0.1 s cases."""
    start = time.perf_counter()
    for seed in range(cases):
        lambdarig.simulate("lsu49", scenario=SCENARIO, duration_s=0.1, seed=seed, keep_samples=False,
                           progress=lambda text: None)
    single_ms = (time.perf_counter() - start) / cases * 1000.0
    todo = expand(spec_for(cases, 0.1))
    run_batch(todo[:2], code_id())   # the caches warm, as in a worker after its first case
    start = time.perf_counter()
    run_batch(todo, code_id())
    return single_ms, (time.perf_counter() - start) / cases * 1000.0


def swept(workers: int, cases: int, duration_s: float) -> tuple[float, float, float]:
    """(sim s per wall s per worker, cluster start-up s, busy share: the cases' own wall time over
    workers x elapsed; near 1 means Dask keeps the workers fed, and a low per-core figure then comes
    from the cores themselves, e.g. other load on the machine)."""
    from dask.distributed import Client, LocalCluster

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=40)
    client = Client(cluster)
    client.run(lambda: __import__("lambdarig.sweep.runner"))   # workers import the firmware before the clock
    startup_s = time.perf_counter() - start
    try:
        with tempfile.TemporaryDirectory() as out:
            spec = spec_for(cases, duration_s)
            t0 = time.perf_counter()
            run_sweep(spec, out, client=client, stream=open(os.devnull, "w"))
            wall_s = time.perf_counter() - t0
            busy = float(read_results(out)["wall_s"].sum()) / (workers * wall_s)
    finally:
        client.close()
        cluster.close()
    return cases * duration_s / wall_s / workers, startup_s, busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=48)
    parser.add_argument("--duration", type=float, default=30.0, help="simulated seconds per case")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    load = os.getloadavg()
    figures: dict[str, list[float]] = {"single": [], "runner": [], "w1": [], "w2": [], "start1": [], "start2": [],
                                     "busy1": [], "busy2": [], "plain2": []}
    for _ in range(args.runs):
        figures["single"].append(single(args.cases, args.duration))
        figures["runner"].append(runner(args.cases, args.duration))
        figures["plain2"].append(plain_two(args.cases, args.duration))
        for n in (1, 2):
            rate, startup, busy = swept(n, args.cases, args.duration)
            figures[f"w{n}"].append(rate)
            figures[f"busy{n}"].append(busy)
            figures[f"start{n}"].append(startup)
    med = {k: statistics.median(v) for k, v in figures.items()}
    simulate_ms, runner_ms = startup_ms()
    rows = [["single process (lambdarig.simulate)", f"{med['single']:.1f}", "1.00", "-", "-"],
            ["sweep runner, in process", f"{med['runner']:.1f}", f"{med['runner'] / med['single']:.2f}", "-", "-"],
            ["2 plain processes at once (no Dask)", f"{med['plain2']:.1f}", f"{med['plain2'] / med['single']:.2f}",
             "-", "-"]]
    for n in (1, 2):
        rows.append([f"sweep, {n} worker{'s' if n > 1 else ''}", f"{med[f'w{n}']:.1f}",
                     f"{med[f'w{n}'] / med['single']:.2f}", f"{med[f'start{n}']:.1f} s", f"{med[f'busy{n}']:.2f}"])
    print(f"{args.cases} cases x {args.duration:g} s simulated, scenario {SCENARIO}, {args.runs} run(s); "
          f"{os.cpu_count()} cores, load average before {load[0]:.2f}")
    print_table(["", "sim s / wall s per core", "efficiency", "cluster start-up", "workers busy"], rows)
    scaling = 2 * med["w2"] / med["w1"]
    print(f"\nper-case start-up (0.1 s cases): {simulate_ms:.1f} ms through lambdarig.simulate, "
          f"{runner_ms:.1f} ms through the sweep runner")
    print(f"2 workers against 2 plain processes: {med['w2'] / med['plain2']:.2f}")
    print(f"\nscaling 1 -> 2 workers: {scaling:.2f}x (ideal 2); goal >= {GOAL_EFFICIENCY:.0%} efficiency per core")
    write_result("sweep_speed", {
        "cases": args.cases, "duration_s": args.duration, "runs": args.runs, "cores": os.cpu_count(),
        "load_average_before": round(load[0], 2),
        "single_sim_s_per_wall_s": round(med["single"], 1), "runner_sim_s_per_wall_s": round(med["runner"], 1),
        "workers_1_sim_s_per_wall_s_per_core": round(med["w1"], 1),
        "workers_2_sim_s_per_wall_s_per_core": round(med["w2"], 1),
        "efficiency_1": round(med["w1"] / med["single"], 3), "efficiency_2": round(med["w2"] / med["single"], 3),
        "scaling_1_to_2": round(scaling, 2), "plain_2_processes_sim_s_per_wall_s_per_core": round(med["plain2"], 1),
        "efficiency_2_vs_plain_2": round(med["w2"] / med["plain2"], 3),
        "workers_busy": {"1": round(med["busy1"], 3), "2": round(med["busy2"], 3)},
        "cluster_startup_s": {"1": round(med["start1"], 1), "2": round(med["start2"], 1)},
        "goal_efficiency": GOAL_EFFICIENCY,
        "startup_ms_per_case": {"simulate": round(simulate_ms, 1), "runner": round(runner_ms, 1)},
    })


if __name__ == "__main__":
    main()
