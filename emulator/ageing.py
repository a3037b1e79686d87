"""Ageing: an element after `age_h` operating hours, from its `[ageing]` section.

`aged_spec(spec, age_h)` changes the spec, never the model code. Each drift compounds as
exp(rate · age_h / 1000 h), so it is monotonic in age and a factor stays positive:
- Ri rises: the Nernst-cell ESR (both Arrhenius terms) × exp(ri_rise · t). A controller that holds
  Ri at its target then runs the aged element colder.
- The diffusion barrier clogs: every layer's area/length × exp(−ip_gain_loss · t), so the limiting
  current (lean and rich) falls and the cavity time constant V·c/G grows with it.
- Response slows: the protection tube's exchange rates × exp(−response_slowdown · t) (deposits on
  the tube holes and the outer electrode).
The trim resistor stays what production fitted: an aged trimmed unit reads low by the lost gain.
The rates are per element and are assumptions where no source is named (docs/elements.md).
"""

from __future__ import annotations

import math
from dataclasses import replace

from .element_spec import ElementSpec
from .errors import EmulatorInputError
from .production import unit_spec

# 20 000 h is beyond any sensor's life (~500 h on race engines, MoTeC; a car's life, 200 000 km at
# 40 km/h, is ~5000 h: estimate): the compounding drifts stay finite there (ESR x16 at the LSU 4.9's rate).
AGE_H_RANGE = (0.0, 20_000.0)


def check_age_h(age_h: object, source: str = "age_h", field: str = "age_h") -> float:
    """age_h as a float in range, or EmulatorInputError naming the field."""
    lo, hi = AGE_H_RANGE
    value: float | None = None
    if isinstance(age_h, str):
        try:
            value = float(age_h.strip())
        except ValueError:
            value = None
    elif isinstance(age_h, (int, float)) and not isinstance(age_h, bool):
        value = float(age_h)
    allowed = f"a number of hours {lo:g}..{hi:g} (0: new)"
    if value is None or value != value:   # not a number, or NaN
        raise EmulatorInputError(source, field, f"{age_h!r} is not a number of operating hours", allowed=allowed)
    if not lo <= value <= hi:
        raise EmulatorInputError(source, field, f"{age_h!r} is outside the allowed range", allowed=allowed)
    return value


def aged_spec(spec: ElementSpec, age_h: float) -> ElementSpec:
    """The element after age_h operating hours (0: as new; no [ageing] section: it does not age)."""
    age_h = check_age_h(age_h)
    ageing = spec.ageing
    if ageing is None or age_h == 0.0:
        return replace(spec, age_h=age_h)
    kilo_h = age_h / 1000.0
    ri = math.exp(ageing.ri_rise_per_1000h * kilo_h)
    gain = math.exp(-ageing.ip_gain_loss_per_1000h * kilo_h)
    tube = math.exp(-ageing.response_slowdown_per_1000h * kilo_h)
    nernst = spec.nernst_cell
    protection = spec.protection_tube
    return replace(
        spec, age_h=age_h,
        nernst_cell=replace(nernst, r1_ohm=nernst.r1_ohm * ri, r2_ohm=nernst.r2_ohm * ri),
        diffusion_layers=tuple(replace(layer, area_over_length_um=layer.area_over_length_um * gain)
                               for layer in spec.diffusion_layers),
        protection_tube=replace(protection, exchange_still_per_s=protection.exchange_still_per_s * tube,
                                exchange_per_mps=protection.exchange_per_mps * tube))


def individual_spec(spec: ElementSpec, unit: int | None = None, age_h: float = 0.0) -> ElementSpec:
    """Unit N (None: nominal) after age_h hours: the production draw first, then the ageing."""
    return aged_spec(unit_spec(spec, unit), age_h)
