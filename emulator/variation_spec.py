"""The sections of an element file that describe how real units differ from the nominal one.

- `[tolerance]`: the production spread (emulator/production.py draws unit N from it) and the trim
  resistor production fits to each unit;
- `[ageing]`: how the element drifts with operating hours (emulator/ageing.py);
- `[exhaust_limits]`: the exhaust temperatures the element is rated for.

Every section is optional: an element without `[tolerance]` has no spread (every unit is the
nominal one), without `[ageing]` it does not age, without `[exhaust_limits]` only the general range
of gas temperatures applies. docs/elements.md describes the keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from lambdarig.common.tables import TableReader

# Trim values production picks from: E-series of preferred resistor values (IEC 60063), or the exact
# value (a laser trim with no step). The E24 series: 24 values per decade, ~10 % apart.
E24 = (1.0, 1.1, 1.2, 1.3, 1.5, 1.6, 1.8, 2.0, 2.2, 2.4, 2.7, 3.0, 3.3, 3.6, 3.9, 4.3, 4.7, 5.1, 5.6, 6.2, 6.8,
       7.5, 8.2, 9.1)
E12 = E24[::2]
TRIM_SERIES = ("E12", "E24", "exact")
SPREAD_KEYS = ("ip_gain", "ri_factor", "heater_r_cold_ohm", "pressure_k_kpa", "tube_factor", "sense_slope_factor",
               "sense_c0_factor")
TOLERANCE_KEYS = (*SPREAD_KEYS, "trim_resistor", "trim_shunt_ohm", "trim_series")
AGEING_KEYS = ("ri_rise_per_1000h", "ip_gain_loss_per_1000h", "response_slowdown_per_1000h")


@dataclass(frozen=True)
class Spread:
    """One parameter's production spread: a normal distribution (mean, sd) truncated to [min, max],
    or uniform on [min, max] when no sd is given."""

    min: float
    max: float
    mean: float | None = None
    sd: float | None = None

    @property
    def uniform(self) -> bool:
        return self.sd is None


@dataclass(frozen=True)
class Tolerance:
    ip_gain: Spread | None             # unit's raw limiting current / the data-sheet characteristic
    ri_factor: Spread | None           # multiplier on the Nernst-cell ESR at every temperature
    heater_r_cold_ohm: Spread | None   # heater cold resistance at 20 °C, leads included
    pressure_k_kpa: Spread | None      # Knudsen/molecular pressure constant of the diffusion barrier
    tube_factor: Spread | None         # multiplier on the protection tube's gas exchange rates
    trim_resistor: bool                # production fits a trim resistor (pin 5, IA) to each unit
    trim_shunt_ohm: float              # the measuring shunt the trim resistor is in parallel with
    trim_series: str                   # the values production picks the trim from
    # Mixed-potential measuring cells only (family "hc"): multipliers on the measuring cell's slope S
    # and concentration scale c0 (electrode composition and microstructure).
    sense_slope_factor: Spread | None = None
    sense_c0_factor: Spread | None = None


@dataclass(frozen=True)
class Ageing:
    """Drift per 1000 operating hours, applied as exp(rate · age_h / 1000) so it compounds and stays
    positive."""

    ri_rise_per_1000h: float            # ln of the ESR factor per 1000 h (electrode/electrolyte ageing)
    ip_gain_loss_per_1000h: float       # ln of the lost Ip gain per 1000 h (diffusion barrier clogging)
    response_slowdown_per_1000h: float  # ln of the slower protection-tube exchange per 1000 h (deposits)


@dataclass(frozen=True)
class ExhaustLimits:
    continuous_c: float   # exhaust temperature the element is rated for continuously
    short_c: float        # ... for a short time (minutes)


def _spread(top: TableReader, key: str, lo: float, hi: float, unit: str = "") -> Spread | None:
    table = top.sub(key, required=False)
    if table is None:
        return None
    low = table.number("min", lo, hi, unit=unit)
    high = table.number("max", lo, hi, unit=unit)
    sd = table.optional_number("sd", 0.0, hi - lo, unit=unit, lo_open=True)
    mean = table.optional_number("mean", lo, hi, unit=unit)
    table.finish()
    if high <= low:
        raise table.place.refuse(f"max {high:g} must be above min {low:g}")
    if (sd is None) != (mean is None):
        raise table.place.refuse("give mean and sd together (a truncated normal) or neither (uniform on min..max)")
    if mean is not None and not low <= mean <= high:
        raise table.at("mean").refuse(f"{mean:g} is outside min..max", allowed=f"{low:g}..{high:g}")
    return Spread(low, high, mean, sd)


def parse_tolerance(top: TableReader) -> Tolerance | None:
    table = top.sub("tolerance", required=False)
    if table is None:
        return None
    tolerance = Tolerance(
        ip_gain=_spread(table, "ip_gain", 0.3, 3.0),
        ri_factor=_spread(table, "ri_factor", 0.3, 3.0),
        heater_r_cold_ohm=_spread(table, "heater_r_cold_ohm", 0.5, 100.0, "Ω"),
        pressure_k_kpa=_spread(table, "pressure_k_kpa", 5.0, 2000.0, "kPa"),
        tube_factor=_spread(table, "tube_factor", 0.1, 10.0),
        trim_resistor=table.boolean("trim_resistor", False),
        trim_shunt_ohm=table.number("trim_shunt_ohm", 1.0, 1e4, default=61.9, unit="Ω"),
        trim_series=table.text("trim_series", TRIM_SERIES, default="E24"),
        sense_slope_factor=_spread(table, "sense_slope_factor", 0.3, 3.0),
        sense_c0_factor=_spread(table, "sense_c0_factor", 0.1, 10.0),
    )
    table.finish()
    gain = tolerance.ip_gain
    if tolerance.trim_resistor and (gain is None or gain.min <= 1.0):
        # A trim resistor in parallel with the shunt can only take current away from the reading.
        raise table.at("ip_gain.min").refuse(
            "a trim resistor in parallel with the shunt can only lower the reading: every unit must pump more "
            "than the data-sheet characteristic", allowed="ip_gain.min above 1")
    return tolerance


def parse_ageing(top: TableReader) -> Ageing | None:
    table = top.sub("ageing", required=False)
    if table is None:
        return None
    ageing = Ageing(table.number("ri_rise_per_1000h", 0.0, 5.0, unit="per 1000 h"),
                    table.number("ip_gain_loss_per_1000h", 0.0, 5.0, unit="per 1000 h"),
                    table.number("response_slowdown_per_1000h", 0.0, 5.0, unit="per 1000 h"))
    table.finish()
    return ageing


def parse_exhaust_limits(top: TableReader) -> ExhaustLimits | None:
    table = top.sub("exhaust_limits", required=False)
    if table is None:
        return None
    limits = ExhaustLimits(table.number("continuous_c", 300.0, 1100.0, unit="°C"),
                           table.number("short_c", 300.0, 1100.0, unit="°C"))
    table.finish()
    if limits.short_c < limits.continuous_c:
        raise table.at("short_c").refuse(f"{limits.short_c:g} °C is below continuous_c",
                                         allowed=f"at least {limits.continuous_c:g} °C")
    return limits
