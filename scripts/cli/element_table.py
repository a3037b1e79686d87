"""`lambdarig element E --lambda 0.7,0.8,1,1.7 --temp-c 700,780`: the steady state at each point of
a grid (every temperature × every lambda), one row per point, as a table or JSON rows."""

from __future__ import annotations

import math
from collections.abc import Callable

from lambdarig.emulator.steady import SteadyState

MAX_POINTS = 400     # a table, not a sweep engine (`lambdarig sweep` is)

# (header, unit, value text of a point)
Column = tuple[str, str, Callable[[SteadyState, float], str]]
COLUMNS: tuple[Column, ...] = (
    ("lambda", "", lambda s, afr_st: "air" if math.isinf(s.lambda_value) else f"{s.lambda_value:g}"),
    ("T", "°C", lambda s, afr_st: f"{s.temp_c:g}"),
    ("Ip", "mA", lambda s, afr_st: f"{s.pump_current_a * 1e3:.4f}"),
    ("Nernst", "mV", lambda s, afr_st: f"{s.nernst_v * 1e3:.1f}"),
    ("Ri", "ohm", lambda s, afr_st: f"{s.ri_ohm:.1f}"),
    ("O2", "%", lambda s, afr_st: f"{s.o2_pct:.2f}"),
    ("heater", "W", lambda s, afr_st: f"{s.heater_power_w:.2f}"),
    ("AFR", "", lambda s, afr_st: "air" if math.isinf(s.lambda_value) else f"{s.lambda_value * afr_st:.2f}"),
)
HC_COLUMNS: tuple[Column, ...] = (
    ("sense", "mV", lambda s, afr_st: f"{s.sense_v * 1e3:.1f}"),
    ("sense-Nernst", "mV", lambda s, afr_st: f"{(s.sense_v - s.nernst_v) * 1e3:.2f}"),
)


def split_list(text: str) -> list[str]:
    """'0.7, 0.8,1' -> ['0.7', '0.8', '1']; empty items are kept (their parser refuses them)."""
    return [item.strip() for item in text.split(",")]


def format_grid(states: list[SteadyState], afr_stoich: float, header: str) -> str:
    columns = COLUMNS + (HC_COLUMNS if states and states[0].has_measuring_cell else ())
    cells = [[read(s, afr_stoich) for _, _, read in columns] for s in states]
    titles = [f"{name} {unit}".strip() for name, unit, _ in columns]
    widths = [max(len(title), *(len(row[i]) for row in cells)) for i, title in enumerate(titles)]
    lines = [header, "  ".join(t.rjust(w) for t, w in zip(titles, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)
