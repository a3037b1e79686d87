"""Units off the line and ageing, on the emulator alone: how far 200 units read from the data-sheet
characteristic (the nominal element) at the Bosch tolerance points, untrimmed and with the trim law
Ip·R_t/(R_t + 61.9 Ω) applied, fresh and aged; and the raw-exhaust shift at lambda 1.

    python benchmarks/unit_spread.py

An ideal reader: each unit's steady pump current is turned into lambda through the nominal element's
own curve, so the figures are the sensors' errors, not a controller's. 780 °C (the element's
operating temperature), 101.325 kPa, gasoline.
"""

from __future__ import annotations

from dataclasses import replace

import _common  # noqa: F401  (import path)
import numpy as np
from _common import print_table, write_result

from lambdarig.emulator.ageing import individual_spec
from lambdarig.emulator.element_spec import load_element
from lambdarig.emulator.fuels import NAMED_FUELS
from lambdarig.emulator.production import corrected_gain
from lambdarig.emulator.steady import steady_state

FUEL = NAMED_FUELS["gasoline"]
TOLERANCE = {0.8: 0.01, 1.016: 0.007, 1.7: 0.05}   # Bosch MS 4.9 (reference/lsu49.md §3)
UNITS = range(200)
AGES_H = (0.0, 500.0, 1000.0, 2000.0)


def curves(spec):
    out = {}
    for lam in TOLERANCE:
        grid = np.linspace(0.7 * lam, 1.6 * lam, 181)
        out[lam] = (np.array([steady_state(spec, FUEL, float(x)).pump_current_a for x in grid]), grid)
    return out


def worst(name: str, age_h: float) -> dict:
    nominal = load_element(name)
    curve = curves(nominal)
    raw_worst = {lam: 0.0 for lam in TOLERANCE}
    trim_worst = {lam: 0.0 for lam in TOLERANCE}
    raw_out = trim_out = 0
    for unit in UNITS:
        spec = individual_spec(nominal, unit, age_h)
        factor = 1.0 if spec.trim_ohm is None else corrected_gain(1.0, spec.trim_ohm, 61.9)
        raw_bad = trim_bad = False
        for lam, tol in TOLERANCE.items():
            ip = steady_state(spec, FUEL, lam).pump_current_a
            ips, grid = curve[lam]
            raw = abs(float(np.interp(ip, ips, grid)) - lam) / tol
            trimmed = abs(float(np.interp(ip * factor, ips, grid)) - lam) / tol
            raw_worst[lam] = max(raw_worst[lam], raw)
            trim_worst[lam] = max(trim_worst[lam], trimmed)
            raw_bad |= raw > 1.0
            trim_bad |= trimmed > 1.0
        raw_out += raw_bad
        trim_out += trim_bad
    return {"element": name, "age_h": age_h, "units": len(UNITS), "untrimmed_outside": raw_out,
            "trimmed_outside": trim_out, "untrimmed_worst": raw_worst, "trimmed_worst": trim_worst}


def raw_exhaust_shift(name: str) -> dict[float, float]:
    spec = load_element(name)
    grid = np.linspace(0.95, 1.05, 201)
    ips = [steady_state(spec, FUEL, float(x)).pump_current_a for x in grid]
    out = {}
    for co_pct in (0.3, 0.6, 1.0):
        ip = steady_state(spec, replace(FUEL, raw_co_pct=co_pct), 1.0).pump_current_a
        out[co_pct] = float(np.interp(ip, ips, grid)) - 1.0
    return out


def main() -> None:
    rows, results = [], []
    for name in ("lsu49", "lsu42", "lsu-adv"):
        for age_h in AGES_H:
            r = worst(name, age_h)
            results.append(r)
            rows.append([name, f"{age_h:g}", f"{r['untrimmed_outside']}/{len(UNITS)}",
                         " ".join(f"{r['untrimmed_worst'][lam]:.2f}" for lam in TOLERANCE),
                         f"{r['trimmed_outside']}/{len(UNITS)}",
                         " ".join(f"{r['trimmed_worst'][lam]:.2f}" for lam in TOLERANCE)])
    print("Worst error / Bosch tolerance at lambda 0.8 1.016 1.7 (trim law: Ip·R_t/(R_t + 61.9 ohm))")
    print_table(["element", "age h", "untrimmed out", "untrimmed worst", "trimmed out", "trimmed worst"], rows)
    shifts = {name: raw_exhaust_shift(name) for name in ("lsu49", "lsu42", "lsu-adv")}
    print("\nRaw exhaust: lambda-1 reading shift vs unburnt CO (wet %)")
    print_table(["element", "0.3 %", "0.6 %", "1.0 %"],
                [[name, *(f"{v:+.4f}" for v in s.values())] for name, s in shifts.items()])
    write_result("unit_spread", {"populations": [
        {**r, "untrimmed_worst": {str(k): v for k, v in r["untrimmed_worst"].items()},
         "trimmed_worst": {str(k): v for k, v in r["trimmed_worst"].items()}} for r in results],
        "raw_exhaust_shift": {n: {str(k): v for k, v in s.items()} for n, s in shifts.items()}})


if __name__ == "__main__":
    main()
