"""Hardware in the loop over VISA: the controller's runtime loop on the emulated instrument station
(emulator/instruments/: Keithley 2400 pump SMU, Rigol DP832 heater supply, Keithley 2450 Nernst
SMU) through real pyvisa + pyvisa-py over loopback TCP, on the wall clock.

    python benchmarks/hil_visa.py [--seconds 20] [--station process|thread] [--loop-hz 50]

--station process (default) runs the instruments as their own process (`python -m lambdarig serve
instruments`), as lab instruments are their own devices; --station thread runs them in this
process, sharing the GIL with the host (what the tests do). Reports:
- the loop rate achieved (goal >= 50 Hz) and the capability (back-to-back sample + apply, no sleep);
- the loop latency (from each tick's deadline to the end of apply(): wake-up + sample + controller
  tick + set-points written) and its compute part (wake-up to applied), p50/p99/max;
- the latency per query, by command (round trip through pyvisa-py), p50/p99/max and count;
- missed deadlines: late ticks (wait_until found the deadline already past) and overruns (apply()
  finished after the next deadline);
- time to closed loop; how long an instrument that stops answering takes to be declared lost (the
  query's timeout, one :SYST:ERR? probe, then safe() with an *OPC? sync point per role, each
  bounded by its timeout).
Prints the figures and writes benchmarks/results/hil_visa.json.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import _common  # noqa: F401  (puts the repository on sys.path)
from _common import ROOT, child_env, percentile, print_table, stop_process, timed_run, write_result

from lambdarig.controller.core import Controller
from lambdarig.controller.settings import Settings
from lambdarig.hal.types import Command, FrontEndError, LinkLost
from lambdarig.hal.visa_frontend import VisaFrontEnd

# Pump-loop gains stable at 50 Hz (the 500 Hz defaults are not); see docs/station.md.
STATION_SETTINGS = {"rates.heater_hz": 10.0, "rates.telemetry_hz": 10.0, "pump.kp_a_per_v": 0.003,
                    "pump.ki_a_per_v_s": 0.2}


def ms(x: float) -> float:
    return round(x * 1e3, 3)


def stats_ms(values: list[float]) -> dict:
    return {"p50": ms(percentile(values, 0.5)), "p99": ms(percentile(values, 0.99)),
            "max": ms(max(values)) if values else None, "n": len(values)}


class StationProcess:
    """`python -m lambdarig serve instruments` in its own process; .path is its station file."""

    def __init__(self, station_file: Path, loop_hz: float):
        self.path = station_file
        self.proc = subprocess.Popen([sys.executable, "-m", "lambdarig", "serve", "instruments", "--station-out",
                                      str(station_file), "--loop-hz", f"{loop_hz:g}"],
                                     cwd=ROOT, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        deadline = time.monotonic() + 20.0
        while not station_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read() if self.proc.poll() is not None else ""
                self.stop()
                raise RuntimeError(f"the instrument station did not start: {err.strip()}")
            time.sleep(0.05)

    def hang(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
            except OSError:
                pass
        stop_process(self.proc)


class StationThread:
    def __init__(self, station_file: Path, loop_hz: float):
        from lambdarig.emulator.instruments import InstrumentStation
        self.station = InstrumentStation("lsu49", "default", seed=0).start()
        self.path = self.station.write_station_file(station_file, loop_hz=loop_hz)

    def hang(self) -> None:
        self.station.silence("pump")

    def resume(self) -> None:
        self.station.silence("pump", False)

    def stop(self) -> None:
        self.station.stop()


def capability(fe: VisaFrontEnd, ticks: int = 500) -> dict:
    """Back-to-back sample + apply (no sleeping): the fastest loop the station allows."""
    command = Command(0.0, 0.0, True)
    start = time.perf_counter()
    for _ in range(ticks):
        fe.sample()
        fe.apply(command)
    elapsed = time.perf_counter() - start
    return {"ticks": ticks, "tick_ms": ms(elapsed / ticks), "max_rate_hz": round(ticks / elapsed, 1)}


def time_to_link_loss(fe: VisaFrontEnd, station, period_s: float) -> tuple[float, str]:
    """Drive the front end at the loop rate, hang the station (process: SIGSTOP) or the pump SMU
    (thread: silence) after 0.2 s; (seconds until LinkLost has propagated, outputs made safe, message)."""
    command = Command(0.0, 0.0, True)
    t0 = fe.now()
    fired = None
    try:
        for n in range(int(5.0 / period_s)):
            fe.wait_until(t0 + n * period_s)
            fe.sample()
            fe.apply(command)
            if n == round(0.2 / period_s):
                station.hang()
                fired = time.monotonic()
    except LinkLost as exc:
        return time.monotonic() - fired, str(exc)
    except FrontEndError as exc:
        return time.monotonic() - fired, f"(not LinkLost) {exc}"
    finally:
        station.resume()
    return float("nan"), "no link loss within 5 s"


def run(seconds: float, mode: str, loop_hz: float) -> dict:
    load_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="lambdarig-visa-") as tmp:
        station_file = Path(tmp) / "station.toml"
        station = StationProcess(station_file, loop_hz) if mode == "process" else StationThread(station_file, loop_hz)
        try:
            fe = VisaFrontEnd.from_url(f"visa:{station.path}")
            for driver in fe.drivers.values():
                driver.latencies = []
            ctl = Controller(Settings({"rates.pump_hz": loop_hz, **STATION_SETTINGS}))
            period_s = 1.0 / loop_hz
            result, times = timed_run(fe, ctl, seconds, clock_origin_s=fe._t0)   # its t = 0: the station opened
            queries: dict[str, list[float]] = defaultdict(list)
            for role, driver in fe.drivers.items():
                for command, dt in driver.latencies:
                    queries[f"{role} {command}"].append(dt)
                driver.latencies = None
            fe.apply(Command(0.0, 0.0, True))
            cap = capability(fe)
            loss_s, loss_msg = time_to_link_loss(fe, station, period_s)
            fe.close()
            timeouts = {role: cfg.timeout_ms for role, cfg in fe.station.roles().items()}
            options = {k: fe.info().details[k] for k in ("heater_every", "esr_every", "error_every")}
        finally:
            station.stop()
    latency, compute, _wake, overruns = times.latencies(period_s)
    done, n = times.done, len(latency)
    # ticks completed per second, from the first tick's set-points to the last one's
    rate = round((n - 1) / (done[n - 1] - done[0]), 2) if n > 1 and done[n - 1] > done[0] else 0.0
    return {
        "seconds": seconds, "station": mode, "loop_hz_target": loop_hz, "options": options,
        "ticks": result.ticks, "wall_s": round(result.wall_s, 3),
        "loop_rate_hz": rate,
        "goal_met": bool(rate >= 0.99 * loop_hz and result.late_ticks <= 0.01 * result.ticks),
        "latency_ms": stats_ms(latency), "compute_ms": stats_ms(compute),
        "query_latency_ms": {name: stats_ms(values) for name, values in sorted(queries.items())},
        "missed_deadlines": {"late_ticks": result.late_ticks, "overruns": overruns,
                             "late_fraction": round(result.late_ticks / max(1, result.ticks), 5)},
        "capability": cap,
        "link_loss": {"what": ("the station process stopped (SIGSTOP): every instrument hangs" if mode == "process"
                               else "the pump SMU silenced (station.silence)"),
                      "declared_lost_after_ms": ms(loss_s), "message": loss_msg, "timeout_ms": timeouts},
        "time_to_ready_s": result.time_to_ready_s, "final_state": result.final_state,
        "faults": [f["code"] for f in result.faults], "link_lost": result.link_lost, "message": result.message,
        "load_average_1min_before": load_before, "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="run length, wall seconds (default 20)")
    parser.add_argument("--station", choices=("process", "thread"), default="process",
                        help="the emulated instruments in their own process (default) or a thread of this one")
    parser.add_argument("--loop-hz", type=float, default=50.0, help="station loop rate, Hz (default 50)")
    args = parser.parse_args()
    r = run(args.seconds, args.station, args.loop_hz)
    print(f"controller at {r['loop_hz_target']:g} Hz on the emulated instrument station ({r['station']}), "
          f"{r['seconds']:g} s wall; loop rate {r['loop_rate_hz']} Hz over {r['ticks']} ticks "
          f"(goal >= {r['loop_hz_target']:g} Hz: {'met' if r['goal_met'] else 'NOT met'})")
    print_table(["ms", "p50", "p99", "max"],
                [[name, r[key]["p50"], r[key]["p99"], r[key]["max"]]
                 for name, key in (("loop latency (deadline -> applied)", "latency_ms"),
                                   ("compute (wake -> applied)", "compute_ms"))])
    print()
    print_table(["query (round trip, ms)", "n", "p50", "p99", "max"],
                [[name, q["n"], q["p50"], q["p99"], q["max"]] for name, q in r["query_latency_ms"].items()])
    m = r["missed_deadlines"]
    print(f"\nmissed deadlines: {m['late_ticks']} late ticks ({m['late_fraction'] * 100:.2f} %), "
          f"{m['overruns']} overruns")
    c = r["capability"]
    print(f"capability: {c['tick_ms']} ms per sample + apply back to back -> {c['max_rate_hz']} Hz at most")
    ll = r["link_loss"]
    print(f"{ll['what']}: declared lost after {ll['declared_lost_after_ms']} ms, outputs made safe "
          f"(timeouts {ll['timeout_ms']} ms):\n  {ll['message']}")
    print(f"closed loop after {r['time_to_ready_s']} s; final state {r['final_state']}; faults {r['faults']}; "
          f"link lost: {r['link_lost']} {r['message']}")
    print(f"load average before: {r['load_average_1min_before']} on {r['cpus']} CPUs")
    write_result("hil_visa", r)


if __name__ == "__main__":
    main()
