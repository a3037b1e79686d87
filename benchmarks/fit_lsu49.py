"""Fit the LSU 4.9 element's free parameters to the reference tables and print them.

    python benchmarks/fit_lsu49.py

Fits (each against data the emulator never reads at run time):
- diffusion layer area/length and the rich-species factors for H2 and CO -> Bosch Ip-lambda table;
- still-air loss conductance -> 7.5 W at 780 °C in 20 °C air (Bosch TPI 2005).
The ESR two-term Arrhenius fit is documented in emulator/elements/lsu49.toml (least squares on ln R).
Paste the printed values into emulator/elements/lsu49.toml.
"""

from __future__ import annotations

import dataclasses
import sys
import tomllib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lambdarig.emulator.element_spec import load_element  # noqa: E402
from lambdarig.emulator.fuels import NAMED_FUELS  # noqa: E402
from lambdarig.emulator.steady import steady_state  # noqa: E402

REFERENCE = tomllib.loads((ROOT / "tests/data/lsu49_reference.toml").read_text())
LSU49 = load_element("lsu49")   # loaded once: the fit evaluates the residuals some fifty times


def with_transport(spec, area: float, f_h2: float, f_co: float):
    layer = dataclasses.replace(spec.diffusion_layers[0], area_over_length_um=area)
    factors = {**spec.species_factor, "H2": f_h2, "CO": f_co}
    return dataclasses.replace(spec, diffusion_layers=(layer,), species_factor=factors)


def residuals(params: np.ndarray) -> np.ndarray:
    """Pump-current error at each Bosch point, in units of the allowed tolerance."""
    spec = with_transport(LSU49, *params)
    fuel = NAMED_FUELS["gasoline"]
    out = []
    for lam, ip_ma in zip(REFERENCE["bosch_lambda"], REFERENCE["bosch_ip_ma"]):
        ip = steady_state(spec, fuel, lam).pump_current_a * 1e3
        out.append((ip - ip_ma) / max(0.010, 0.015 * abs(ip_ma)))
    return np.array(out)


def fit_transport() -> np.ndarray:
    params = np.array([24.39, 0.93, 1.22])
    for _ in range(12):
        r = residuals(params)
        jac = np.empty((r.size, params.size))
        for j in range(params.size):
            step = np.zeros_like(params)
            step[j] = 1e-4 * params[j]
            jac[:, j] = (residuals(params + step) - r) / step[j]
        delta, *_ = np.linalg.lstsq(jac, -r, rcond=None)
        params = params + delta
        if np.max(np.abs(delta / params)) < 1e-7:
            break
    return params


def fit_still_air() -> float:
    """Still-air conductance that makes 780 °C in 20 °C air cost 7.5 W (radiation kept as is)."""
    spec = load_element("lsu49")
    fuel = NAMED_FUELS["gasoline"]
    g = spec.thermal.g_still_w_per_k
    for _ in range(30):
        power = steady_state(spec, fuel, float("inf"), gas_temp_c=20.0).heater_power_w
        g_new = g * (1.0 + 0.5 * (7.5 - power) / power)
        spec = dataclasses.replace(spec, thermal=dataclasses.replace(spec.thermal, g_still_w_per_k=g_new))
        if abs(power - 7.5) < 1e-6:
            break
        g = g_new
    return g


def main() -> None:
    area, f_h2, f_co = fit_transport()
    r = residuals(np.array([area, f_h2, f_co]))
    print(f"diffusion_layer.area_over_length_um = {area:.4f}")
    print(f"diffusion_species_factor.H2 = {f_h2:.4f}")
    print(f"diffusion_species_factor.CO = {f_co:.4f}")
    print(f"worst Ip residual: {np.max(np.abs(r)):.3f} of the tolerance (±10 µA or ±1.5 %)")
    print(f"thermal.g_still_w_per_k = {fit_still_air():.6f}")


if __name__ == "__main__":
    main()
