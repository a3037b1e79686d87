"""Does the live view slow the control loop? The controller's 500 Hz loop on the emulated bench rig
(`lambdarig serve rig`, its own process, a pseudo-terminal, pyserial), on the wall clock, three ways:

- `off`:    no live view (as `benchmarks/hil_serial.py`);
- `server`: the live view's feed in the loop and its server running, no page open;
- `page`:   the same with the page open in headless Chromium (the distribution's, driven by
            playwright in a separate process, as a browser is), redrawing its six charts.

    python benchmarks/live_load.py [--seconds 20] [--rounds 1] [--modes off,server,page]

For each: late ticks (wait_until found the deadline already past), overruns, loop latency (deadline
to the end of apply()) p50/p99/max; with a page also the updates the page received per second and
the rows it plotted. Also the cost of one call of the loop's sink (LiveFeed). Prints the figures and
writes benchmarks/results/live_load.json. The modes of one round run back to back, so a machine
busy with other work weighs on all of them alike; say how busy it was (the load average is
recorded) when quoting the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from _common import ROOT, child_env, percentile, print_table, stop_process, timed_run, write_result

from lambdarig.controller.core import Controller
from lambdarig.hal.registry import open_frontend

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# The page's side, in its own process (a browser is not part of the firmware's process).
PAGE_CLIENT = r"""
import json, sys, time
from playwright.sync_api import sync_playwright
url, chromium, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
with sync_playwright() as pw:
    browser = pw.chromium.launch(executable_path=chromium, headless=True)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(url)
    page.wait_for_function("document.body.dataset.connection === 'live'", timeout=60000)
    print("ready", flush=True)
    page.wait_for_function("Number(document.body.dataset.points) > 0", timeout=120000)
    COUNTS = "[Number(document.body.dataset.messages), Number(document.body.dataset.points)]"
    m0, p0 = page.evaluate(COUNTS)
    t0 = time.monotonic()
    time.sleep(seconds)
    m1, p1 = page.evaluate(COUNTS)
    t1 = time.monotonic()
    print(json.dumps({"updates_per_s": round((m1 - m0) / (t1 - t0), 1), "rows_per_s": round((p1 - p0) / (t1 - t0), 1),
                      "window_s": round(t1 - t0, 2)}), flush=True)
    browser.close()
"""


class Rig:
    """`lambdarig serve rig` in its own process; .path is its pty."""

    def __init__(self, flash: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "lambdarig", "serve", "rig", "--flash", flash],
                                     cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.path = self.proc.stdout.readline().strip()
        if not self.path.startswith("/dev/"):
            self.stop()
            raise RuntimeError(f"the rig printed no pty (got {self.path!r})")

    def stop(self) -> None:
        stop_process(self.proc)


def one_mode(mode: str, seconds: float) -> dict:
    from lambdarig.live import LiveFeed, LiveServer

    feed = server = client = None
    page: dict = {}
    with tempfile.TemporaryDirectory(prefix="lambdarig-live-") as tmp:
        rig = Rig(os.path.join(tmp, "flash.bin"))
        try:
            if mode != "off":
                feed = LiveFeed()
                server = LiveServer(feed, port=0, title=f"live_load {mode}").start()
            if mode == "page":
                assert server is not None
                client = subprocess.Popen([sys.executable, "-c", PAGE_CLIENT, server.url, CHROMIUM,
                                           str(max(1.0, seconds - 2.0))],
                                          stdout=subprocess.PIPE, text=True, env=child_env())
                assert client.stdout is not None
                if client.stdout.readline().strip() != "ready":
                    raise RuntimeError("the page client did not connect")
            fe = open_frontend(f"serial://{rig.path}", rate_hz=500)
            ctl = Controller()
            period_s = 1.0 / ctl.settings.rates.pump_hz
            result, times = timed_run(fe, ctl, seconds, clock_origin_s=fe._t0,
                                      sinks=[feed] if feed is not None else [])
            fe.close()
            if client is not None:
                assert client.stdout is not None
                line = client.stdout.readline().strip()
                page = json.loads(line) if line.startswith("{") else {"error": line or "no figures"}
                # The browser's CPU time: the client and the Chromium processes it reaped.
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                client.wait(timeout=60)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                page["browser_cpu_s"] = round(cpu_s, 2)
                page["browser_cpu_pct_of_one_core"] = round(100 * cpu_s / max(1e-9, result.wall_s), 1)
        finally:
            if client is not None and client.poll() is None:
                client.kill()
            if server is not None:
                server.stop()
            rig.stop()
    latency, compute, wake, overruns = times.latencies(period_s)
    ms = lambda x: round(x * 1e3, 3)  # noqa: E731
    out = {"mode": mode, "ticks": result.ticks, "late_ticks": result.late_ticks,
           "late_fraction": round(result.late_ticks / max(1, result.ticks), 5), "overruns": overruns,
           "latency_ms": {"p50": ms(percentile(latency, 0.5)), "p99": ms(percentile(latency, 0.99)),
                          "max": ms(max(latency))},
           "wake_late_ms_p99": ms(percentile(wake, 0.99)), "link_lost": result.link_lost,
           "time_to_ready_s": result.time_to_ready_s, "message": result.message}
    if page:
        out["page"] = page
    return out


def sink_cost_us(calls: int = 20000) -> float:
    """One call of LiveFeed in the loop, on a real controller status (microseconds)."""
    import lambdarig
    from lambdarig.live import LiveFeed

    statuses: list = []
    lambdarig.simulate(duration_s=5.0, sinks=[lambda status, truth: statuses.append((status, truth))],
                       keep_samples=False)
    feed = LiveFeed()
    start = time.perf_counter()
    for k in range(calls):
        status, truth = statuses[k % len(statuses)]
        feed(status, truth)
    return round((time.perf_counter() - start) / calls * 1e6, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="wall seconds per mode (default 20)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the modes this many times (default 1)")
    parser.add_argument("--modes", default="off,server,page", help="comma-separated: off, server, page")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    load_before = round(os.getloadavg()[0], 2)
    runs = [one_mode(mode, args.seconds) for _ in range(args.rounds) for mode in modes]
    cost = sink_cost_us()
    print(f"controller at 500 Hz on the emulated rig (own process), {args.seconds:g} s per mode; "
          f"load average before {load_before} on {os.cpu_count()} CPUs")
    rows = []
    for r in runs:
        page = r.get("page", {})
        rows.append([r["mode"], r["ticks"], r["late_ticks"], f"{r['late_fraction'] * 100:.2f} %", r["overruns"],
                     r["latency_ms"]["p50"], r["latency_ms"]["p99"], r["latency_ms"]["max"],
                     page.get("updates_per_s", "-"), page.get("rows_per_s", "-"),
                     page.get("browser_cpu_pct_of_one_core", "-"), "yes" if r["link_lost"] else "no"])
    print_table(["mode", "ticks", "late", "late %", "overruns", "p50 ms", "p99 ms", "max ms", "page upd/s",
                 "page rows/s", "browser cpu %", "link lost"], rows)
    for r in runs:
        if r["link_lost"]:
            print(f"{r['mode']}: {r['message']}")
    print(f"LiveFeed sink: {cost} us per telemetry tick (100 Hz) in the loop")
    write_result("live_load", {"seconds": args.seconds, "rounds": args.rounds, "runs": runs, "sink_us_per_call": cost,
                               "load_average_1min_before": load_before,
                               "load_average_1min_after": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()})


if __name__ == "__main__":
    main()
