"""HC accuracy of the firmware's calibrated curve on units it was not calibrated on.

The firmware's HC curve (controller/hc_curve.py) is the literature's log-linear form with
coefficients from a gas-bench calibration (`calibrate_hc`, the `lambdarig calibrate hc-mixed` flow).
An accuracy figure measured on the unit that was calibrated says little about a sensor off the same
line, so: calibrate on unit A, then run the firmware closed loop on unit A and on units B.. drawn from
the element's production spread ([tolerance] in emulator/elements/hc-mixed.toml) and report the HC
error per plateau (lambda 1.3, 1.6, 2.0 x HC 50..2000 ppm; the calibrated range is 100..2000 ppm).

    python benchmarks/hc_units.py [--units N]     # prints the table, writes results/hc_units.json
"""

from __future__ import annotations

import argparse
import statistics
import time

import _common  # noqa: F401  (sets the import path)
from _common import print_table, write_result
from control_quality import SEED_HC_LAMBDAS, SEED_HC_PLATEAU_S, hc_plateaus, hc_scenario

from lambdarig.cli.calibrate import calibrate_hc
from lambdarig.controller.core import Controller
from lambdarig.controller.profiles import load_profile, settings_for_element
from lambdarig.controller.runtime import Runtime
from lambdarig.hal.registry import open_frontend

CALIBRATION_UNIT = 0
AVERAGE_S = 1.5
SEED = 0


def measure(unit: int | None, settings) -> list[dict]:
    """The firmware's mean HC reading over the end of every plateau on one unit (the plateaus of
    control_quality.py section 7: lambda 1.3, 1.6, 2.0 x HC 50..2000 ppm, 3 s each after 14 s)."""
    steps = hc_plateaus()
    scenario = hc_scenario()
    address = "sim:hc-mixed" if unit is None else f"sim:hc-mixed?unit={unit}"
    rows: list[tuple[float, float]] = []
    Runtime(open_frontend(address, scenario=scenario), Controller(settings, load_profile("hc-mixed")),
            [lambda st, _t: rows.append((st.t_s, st.hc_ppm))]).run(scenario.duration_s)
    out = []
    for t0, lam, ppm in steps:
        end = t0 + SEED_HC_PLATEAU_S
        read = statistics.fmean(hc for t, hc in rows if end - AVERAGE_S <= t < end)
        out.append({"lambda": lam, "hc_ppm": ppm, "read_ppm": round(read, 1),
                    "error_pct": round(100.0 * (read - ppm) / ppm, 2)})
    return out


def worst(points: list[dict], lo: float, hi: float) -> float:
    return max(abs(p["error_pct"]) for p in points if lo <= p["hc_ppm"] <= hi)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=12, help="units B.. to measure on (default 12)")
    args = parser.parse_args()
    started = time.perf_counter()
    values = calibrate_hc("hc-mixed", SEED, unit=CALIBRATION_UNIT)
    settings = settings_for_element("hc-mixed", values)
    lo, hi = settings.hc.min_ppm, settings.hc.max_ppm
    units: list[int | None] = [CALIBRATION_UNIT, None, *range(CALIBRATION_UNIT + 1, CALIBRATION_UNIT + 1 + args.units)]
    results = {}
    rows = []
    for unit in units:
        points = measure(unit, settings)
        name = "nominal" if unit is None else f"unit {unit}"
        results[name] = points
        at_50 = [p["error_pct"] for p in points if p["hc_ppm"] == 50.0]
        rows.append([name + (" (calibrated on)" if unit == CALIBRATION_UNIT else ""),
                     f"{worst(points, lo, hi):.1f}", f"{min(at_50):+.0f}..{max(at_50):+.0f}"])
    others = [worst(results[n], lo, hi) for n in results if n not in (f"unit {CALIBRATION_UNIT}",)]
    print(f"HC curve calibrated on unit {CALIBRATION_UNIT}: " + ", ".join(f"{k} = {v}" for k, v in values.items()))
    print(f"\nHC error (reported - true) / true, mean over the last {AVERAGE_S:g} s of each {SEED_HC_PLATEAU_S:g} s "
          f"plateau, lambda {', '.join(f'{x:g}' for x in SEED_HC_LAMBDAS)}; calibrated range {lo:g}-{hi:g} ppm\n")
    print_table(["unit", f"worst |error| {lo:g}-{hi:g} ppm, %", "error at 50 ppm, %"], rows)
    summary = {"calibrated_on": CALIBRATION_UNIT, "calibration": values,
               "self_worst_pct": worst(results[f"unit {CALIBRATION_UNIT}"], lo, hi),
               "other_units_worst_pct": {"median": round(statistics.median(others), 2),
                                         "max": round(max(others), 2)},
               "units": results, "wall_s": round(time.perf_counter() - started, 1)}
    print(f"\nother units: worst |error| in range, median {summary['other_units_worst_pct']['median']:.1f} %, "
          f"max {summary['other_units_worst_pct']['max']:.1f} %")
    print(f"wrote {write_result('hc_units', summary)}")


if __name__ == "__main__":
    main()
