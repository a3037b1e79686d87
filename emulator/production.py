"""Production spread: unit N of an element, drawn reproducibly from its `[tolerance]` section.

`unit_spec(spec, unit)` returns the ElementSpec of one individual sensor as it comes off the line;
unit None is the nominal element (the file as written). The model code is not touched: a unit is
the nominal spec with some parameters changed, built into an ElementModel like any other.

Draws: each parameter has its own numpy Generator, seeded from SHA-256 of (element name, unit,
parameter): the same unit gets the same numbers in every process and on every machine, and adding
a spread to one parameter does not change the others' draws. A `Spread` with sd is a normal
distribution truncated to [min, max] (rejection sampling); without sd it is uniform on [min, max].

What a unit changes (parameter -> spec):
- ip_gain g: every diffusion layer's area/length scaled so the O2 conductance at the operating
  temperature and 101.325 kPa is g times the nominal one. Lean and rich currents scale by g.
- pressure_k_kpa k: the layers' pore diameters scaled by k_nominal/k (k = p0·D_m/D_K ∝ 1/d), then
  the area/length renormalised as above so the pore size does not change the gain.
- ri_factor: the Nernst-cell ESR (both Arrhenius terms) times the factor.
- heater_r_cold_ohm: the heater's cold resistance (the lead resistance stays).
- tube_factor: the protection tube's exchange rates times the factor (response time / factor).
- sense_slope_factor, sense_c0_factor (mixed-potential elements): the measuring cell's slope S and
  concentration scale c0 times the factor.

The trim resistor (`trim_resistor = true`): sits in the connector between pin 5 (IA) and pin 1 (IP),
in parallel with the controller's measuring shunt R_s = 61.9 Ω (CJ125 product information: shunt
IA-IP; reference/lsu49.md §1 and §10; 14point7: the shunt must be exactly 61.9 Ω for the trim to be
valid). The controller evaluates Ip_eval = U_shunt/R_s = Ip·R_t/(R_t + R_s). Production picks R_t so
that Ip_eval is the data-sheet characteristic: R_t = R_s/(g − 1), then takes the nearest value of
the trim series (E24 by default: "one of a couple dozen values picked out of a bin, nearest one",
B. Roe on the diy-efi wbo2 list, 2005; others report a laser trim: `trim_series = "exact"`). The
rounding leaves each trimmed unit a residual gain error of up to ±5 %·R_s/(R_t + R_s).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace

import numpy as np

from .constants import D_REF_P_KPA, ZERO_C_IN_K
from .element_spec import DiffusionLayer, ElementSpec
from .errors import EmulatorInputError
from .transport import knudsen_pressure_k_kpa, path_conductance
from .variation_spec import E12, E24, SPREAD_KEYS, Spread, Tolerance

UNIT_MAX = 999_999_999
MAX_REJECTIONS = 10_000


def unit_rng(element_name: str, unit: int, parameter: str) -> np.random.Generator:
    """The Generator of one parameter of one unit: a stable hash, never Python's hash()."""
    digest = hashlib.sha256(f"lambdarig unit|{element_name}|{unit}|{parameter}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def draw(spread: Spread, rng: np.random.Generator) -> float:
    if spread.uniform:
        return float(rng.uniform(spread.min, spread.max))
    assert spread.mean is not None and spread.sd is not None
    for _ in range(MAX_REJECTIONS):
        value = float(rng.normal(spread.mean, spread.sd))
        if spread.min <= value <= spread.max:
            return value
    return min(max(spread.mean, spread.min), spread.max)   # a window far out in a tail: its nearest edge


def check_unit(unit: object, source: str = "unit", field: str = "unit") -> int | None:
    """unit as an int (None stays None), or EmulatorInputError naming the field."""
    if unit is None:
        return None
    if isinstance(unit, str):
        try:
            unit = int(unit.strip(), 10)
        except ValueError:
            raise EmulatorInputError(source, field, f"{unit!r} is not a unit number",
                                     allowed=f"an integer 0..{UNIT_MAX}, or none for the nominal element") from None
    if isinstance(unit, bool) or not isinstance(unit, int):
        raise EmulatorInputError(source, field, f"{unit!r} is not a unit number",
                                 allowed=f"an integer 0..{UNIT_MAX}, or none for the nominal element")
    if not 0 <= unit <= UNIT_MAX:
        raise EmulatorInputError(source, field, f"{unit!r} is outside the allowed range",
                                 allowed=f"an integer 0..{UNIT_MAX}, or none for the nominal element")
    return unit


def o2_conductance(layers: tuple[DiffusionLayer, ...], temp_c: float) -> float:
    return path_conductance(layers, "O2", temp_c + ZERO_C_IN_K, D_REF_P_KPA)


def pressure_k_kpa(spec: ElementSpec) -> float:
    """The pressure constant of the element's first (outermost) diffusion layer at its operating point."""
    return knudsen_pressure_k_kpa(spec.diffusion_layers[0].pore_diameter_um, spec.operating_temp_c + ZERO_C_IN_K)


def with_gain_and_k(spec: ElementSpec, gain: float, k_kpa: float | None) -> tuple[DiffusionLayer, ...]:
    """The diffusion layers of a unit with Ip gain `gain` and pressure constant k_kpa (None: nominal k)."""
    layers = spec.diffusion_layers
    nominal_g = o2_conductance(layers, spec.operating_temp_c)
    if k_kpa is not None:
        scale = pressure_k_kpa(spec) / k_kpa
        layers = tuple(replace(layer, pore_diameter_um=layer.pore_diameter_um * scale) for layer in layers)
    factor = gain * nominal_g / o2_conductance(layers, spec.operating_temp_c)
    return tuple(replace(layer, area_over_length_um=layer.area_over_length_um * factor) for layer in layers)


def nearest_in_series(value_ohm: float, series: str) -> float:
    """The nearest (in ratio) value of an E-series, or value_ohm itself for "exact"."""
    if series == "exact":
        return value_ohm
    mantissas = E24 if series == "E24" else E12
    decade = 10.0 ** math.floor(math.log10(value_ohm))
    candidates = [float(f"{m * decade:.3g}") for m in mantissas] + [10.0 * decade]
    return min(candidates, key=lambda r: abs(math.log(r / value_ohm)))


def trim_for_gain(gain: float, tolerance: Tolerance) -> float:
    """The trim resistor production fits to a unit whose raw Ip is `gain` times the data sheet's."""
    return nearest_in_series(tolerance.trim_shunt_ohm / (gain - 1.0), tolerance.trim_series)


def corrected_gain(gain: float, trim_ohm: float, shunt_ohm: float) -> float:
    """What a controller reads relative to the data sheet after the trim law: g·R_t/(R_t + R_s)."""
    return gain * trim_ohm / (trim_ohm + shunt_ohm)


def unit_values(spec: ElementSpec, unit: int) -> dict[str, float]:
    """The drawn values of unit N (only the parameters the element spreads)."""
    tolerance = spec.tolerance
    if tolerance is None:
        return {}
    values: dict[str, float] = {}
    for parameter in SPREAD_KEYS:
        spread = getattr(tolerance, parameter)
        if spread is not None:
            values[parameter] = draw(spread, unit_rng(spec.name, unit, parameter))
    return values


def unit_spec(spec: ElementSpec, unit: int | None) -> ElementSpec:
    """Unit N of the element, drawn from its tolerance section; None: the nominal element."""
    unit = check_unit(unit)
    if unit is None:
        return spec
    tolerance = spec.tolerance
    values = unit_values(spec, unit)
    changes: dict[str, object] = {"unit": unit}
    if tolerance is None:
        return replace(spec, unit=unit)   # no spread: every unit is the nominal one
    gain = values.get("ip_gain", 1.0)
    if spec.diffusion_layers and ("ip_gain" in values or "pressure_k_kpa" in values):
        changes["diffusion_layers"] = with_gain_and_k(spec, gain, values.get("pressure_k_kpa"))
    if "ri_factor" in values:
        f = values["ri_factor"]
        changes["nernst_cell"] = replace(spec.nernst_cell, r1_ohm=spec.nernst_cell.r1_ohm * f,
                                         r2_ohm=spec.nernst_cell.r2_ohm * f)
    if "heater_r_cold_ohm" in values:
        # Spread ranges are checked against r_lead_ohm when drawn: a cold resistance at or below the
        # leads' would be no heater.
        r_cold = max(values["heater_r_cold_ohm"], spec.heater.r_lead_ohm * 1.05)
        changes["heater"] = replace(spec.heater, r_cold_ohm=r_cold)
    if "tube_factor" in values:
        f = values["tube_factor"]
        tube = spec.protection_tube
        changes["protection_tube"] = replace(tube, exchange_still_per_s=tube.exchange_still_per_s * f,
                                             exchange_per_mps=tube.exchange_per_mps * f)
    cell = spec.measuring_cell
    if cell is not None and ("sense_slope_factor" in values or "sense_c0_factor" in values):
        changes["measuring_cell"] = replace(
            cell, s_mv_per_decade=cell.s_mv_per_decade * values.get("sense_slope_factor", 1.0),
            c0_ppm=cell.c0_ppm * values.get("sense_c0_factor", 1.0))
    if tolerance.trim_resistor:
        changes["trim_ohm"] = trim_for_gain(gain, tolerance)
    return replace(spec, **changes)  # type: ignore[arg-type]
