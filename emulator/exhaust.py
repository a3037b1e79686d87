"""Exhaust-gas composition from lambda and fuel.

Lean: complete combustion plus excess air. Rich: carbon, hydrogen and oxygen balances closed by the
water-gas constant K = CO*H2O/(CO2*H2) = 3.5 (frozen shift, Brettschneider). Unburnt hydrocarbons,
when a scenario asks for them, are taken out of the burnt products at the same overall lambda, so the
oxygen balance (and hence lambda) stays what the scenario says.
"""

from __future__ import annotations

import math

from .constants import HC_CARBON, HC_HYDROGEN, N2_PER_O2_IN_AIR, O2_DEMAND, O2_IN_DRY_AIR
from .fuels import Fuel

WATER_GAS_K = 3.5


class Gas:
    """Wet mole fractions of the species the element sees. Plain floats: this sits in hot loops."""

    __slots__ = ("o2", "h2", "co", "hc", "h2o", "co2", "n2")

    def __init__(self, o2=0.0, h2=0.0, co=0.0, hc=0.0, h2o=0.0, co2=0.0, n2=0.0):
        self.o2 = o2
        self.h2 = h2
        self.co = co
        self.hc = hc
        self.h2o = h2o
        self.co2 = co2
        self.n2 = n2

    def copy(self) -> Gas:
        return Gas(self.o2, self.h2, self.co, self.hc, self.h2o, self.co2, self.n2)

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.__slots__}

    @property
    def oxygen_balance(self) -> float:
        """Free O2 minus the O2 the reducers would burn, as a mole fraction (> 0 lean, < 0 rich)."""
        return self.o2 - O2_DEMAND["H2"] * self.h2 - O2_DEMAND["CO"] * self.co - O2_DEMAND["HC"] * self.hc

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}={v:.5g}" for k, v in self.as_dict().items())
        return f"Gas({parts})"


def air(x_h2o: float = 0.0) -> Gas:
    """Air holding x_h2o of water vapour (see humidity.water_in_air); 0.0 is dry air."""
    if x_h2o == 0.0:
        return Gas(o2=O2_IN_DRY_AIR, n2=1.0 - O2_IN_DRY_AIR)
    dry = 1.0 - x_h2o
    return Gas(o2=O2_IN_DRY_AIR * dry, h2o=x_h2o, n2=(1.0 - O2_IN_DRY_AIR) * dry)


def _rich_co2_per_carbon(o_prime: float, half_h: float, k: float) -> float:
    """Root in (0, 1] of (1-K)c^2 - (1 + O' + K(y/2 - O'))c + O' = 0."""
    a = 1.0 - k
    b = -(1.0 + o_prime + k * (half_h - o_prime))
    c = o_prime
    if abs(a) < 1e-12:
        return -c / b
    disc = math.sqrt(max(b * b - 4.0 * a * c, 0.0))
    # Numerically stable pair of roots; pick the one inside (0, 1].
    q = -0.5 * (b + math.copysign(disc, b))
    roots = (q / a, c / q if q != 0.0 else math.inf)
    for root in roots:
        if 0.0 <= root <= 1.0 + 1e-12:
            return min(root, 1.0)
    raise ArithmeticError(f"no water-gas root in (0, 1) for O'={o_prime}, y/2={half_h}, K={k}")


def exhaust(lambda_value: float, fuel: Fuel, hc_ppm: float = 0.0, water_gas_k: float = WATER_GAS_K,
            air_h2o: float = 0.0) -> Gas:
    """Equilibrium-free exhaust composition (wet mole fractions) at lambda for a fuel.

    air_h2o is the water mole fraction of the scenario's air: it applies to free air (lambda inf).
    The combustion products are still made from dry air (intake humidity is not modelled there).
    """
    if math.isinf(lambda_value):
        return air(air_h2o)
    a = fuel.o2_per_carbon
    half_h = fuel.h_c / 2.0
    n2 = N2_PER_O2_IN_AIR * lambda_value * a
    if lambda_value >= 1.0:
        co2, co, h2o, h2, o2 = 1.0, 0.0, half_h, 0.0, (lambda_value - 1.0) * a
    else:
        o_prime = 2.0 * lambda_value * a + fuel.o_c - 1.0
        if o_prime <= 0.0:
            raise ArithmeticError(f"lambda {lambda_value} is below the soot limit for {fuel.name}")
        co2 = _rich_co2_per_carbon(o_prime, half_h, water_gas_k)
        co = 1.0 - co2
        h2o = o_prime - co2
        h2 = half_h - h2o
        o2 = 0.0
    if fuel.raw_co_pct > 0.0:
        co2, co, h2o, h2, o2 = _unburnt(fuel, co2, co, h2o, h2, o2, water_gas_k)
    total = co2 + co + h2o + h2 + o2 + n2
    gas = Gas(o2 / total, h2 / total, co / total, 0.0, h2o / total, co2 / total, n2 / total)
    if hc_ppm > 0.0:
        _add_unburnt_hc(gas, hc_ppm * 1e-6)
    return gas


def _unburnt(fuel: Fuel, co2: float, co: float, h2o: float, h2: float, o2: float,
             k: float) -> tuple[float, float, float, float, float]:
    """Raw (engine-out) exhaust: O2 coexisting with CO and H2 that did not burn (quenching, mixing),
    not equilibrated. Takes fuel.raw_co_pct of CO (wet %, at lambda 1) back out of CO2 and H2 out of
    H2O in the frozen water-gas ratio H2/CO = (H2O/CO2)/K, freeing their oxygen as O2: the oxygen
    balance, hence lambda, stays what it was. Per carbon atom, like the caller's amounts."""
    moles_at_stoich = 1.0 + fuel.h_c / 2.0 + N2_PER_O2_IN_AIR * fuel.o2_per_carbon
    co_add = fuel.raw_co_pct / 100.0 * moles_at_stoich
    h2_add = co_add * (h2o / co2) / k
    if co_add >= co2 or h2_add >= h2o:
        raise ArithmeticError(f"{fuel.raw_co_pct:g} % unburnt CO is more than this exhaust can hold")
    return co2 - co_add, co + co_add, h2o - h2_add, h2 + h2_add, o2 + 0.5 * (co_add + h2_add)


def _add_unburnt_hc(gas: Gas, x_hc: float) -> None:
    """Leave x_hc of C3H6 unburnt: take its C and H back from CO2 and H2O, free their oxygen (and,
    when rich, let that oxygen burn CO and H2 so lambda stays put). The amount is iterated until the
    renormalised fraction is x_hc exactly, whatever the rich-side burn does to the mole total."""
    base = gas.copy()
    n = x_hc
    for _ in range(30):
        result = _with_unburnt(base, n)
        if abs(result.hc - x_hc) <= 1e-12 * max(x_hc, 1e-9):
            break
        n *= x_hc / result.hc
    for name in Gas.__slots__:
        setattr(gas, name, getattr(result, name))


def _with_unburnt(base: Gas, n: float) -> Gas:
    co2 = base.co2 - HC_CARBON * n
    h2o = base.h2o - (HC_HYDROGEN / 2.0) * n
    if co2 < 0.0 or h2o < 0.0:
        raise ArithmeticError(f"{n * 1e6:.0f} ppm HC is more than the exhaust can hold")
    o2 = base.o2 + O2_DEMAND["HC"] * n
    h2, co = base.h2, base.co
    if base.o2 == 0.0 and (h2 + co) > 0.0:
        burn = min(o2 / 0.5, h2 + co)
        share_h2 = h2 / (h2 + co)
        h2 -= burn * share_h2
        co -= burn * (1.0 - share_h2)
        h2o += burn * share_h2
        co2 += burn * (1.0 - share_h2)
        o2 -= 0.5 * burn
    total = base.n2 + o2 + h2 + co + h2o + co2 + n
    return Gas(o2 / total, h2 / total, co / total, n / total, h2o / total, co2 / total, base.n2 / total)


def lambda_of(gas: Gas, fuel: Fuel) -> float:
    """Lambda of a gas, from its oxygen balance: the inverse of `exhaust`, which tests hold it to."""
    carbon = gas.co2 + gas.co + HC_CARBON * gas.hc
    if carbon <= 0.0:
        return math.inf
    # Oxygen supplied as air per carbon, relative to the stoichiometric demand of the fuel.
    o2_needed_more = -gas.oxygen_balance / carbon  # per carbon, > 0 when rich
    return 1.0 - o2_needed_more / fuel.o2_per_carbon
