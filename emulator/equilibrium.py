"""Gas equilibrium at a catalytic electrode, and metal/metal-oxide oxygen buffers.

A fully catalytic Pt electrode equilibrates H2 + 1/2 O2 = H2O and CO + 1/2 O2 = CO2. Given the gas's
oxygen balance and its hydrogen and carbon pools, the equilibrium oxygen partial pressure is the one
root of a monotonic function (equilibrium_balance); Newton on ln(sqrt(pO2)) finds it in a few steps
from a warm start (equilibrium_po2, which the element's step kernel calls compiled).
equilibrium_po2_by_bisection is the slow, obviously convergent reference they are tested against.
"""

from __future__ import annotations

import math

from .constants import R_J_PER_MOL_K
from .jit import jitable

# van 't Hoff fits log10 K = A + B/T of the GRI-Mech 3.0 equilibrium constants (fitted over
# 900-1800 K, max deviation 0.009 and 0.010 decades). K in bar^-1/2.
_KW_A, _KW_B = -2.95766, 13018.76  # H2 + 1/2 O2 = H2O
_KC_A, _KC_B = -4.48985, 14705.85  # CO + 1/2 O2 = CO2
_LN10 = math.log(10.0)
PO2_FLOOR_BAR = 1e-45


def k_water(temp_k: float) -> float:
    """pH2O / (pH2 * pO2^1/2), bar^-1/2."""
    return math.exp(_LN10 * (_KW_A + _KW_B / temp_k))


def k_co(temp_k: float) -> float:
    """pCO2 / (pCO * pO2^1/2), bar^-1/2."""
    return math.exp(_LN10 * (_KC_A + _KC_B / temp_k))


def equilibrium_balance(sqrt_po2: float, h_pool: float, c_pool: float, p_bar: float, kw: float, kc: float,
                        storage: float = 0.0, storage_k: float = 0.0) -> float:
    """Oxygen balance (mole fraction of free O2 minus the O2 its reducers need, plus what an oxygen
    store holds) of a gas in equilibrium at sqrt(pO2) = sqrt_po2 with its hydrogen pool h = x_H2 + x_H2O
    and carbon pool c = x_CO + x_CO2. Rises monotonically with sqrt_po2."""
    free_o2 = sqrt_po2 * sqrt_po2 / p_bar
    h2 = h_pool / (1.0 + kw * sqrt_po2)        # H2O/H2 = kw sqrt(pO2)
    co = c_pool / (1.0 + kc * sqrt_po2)        # CO2/CO = kc sqrt(pO2)
    coverage = storage_k * sqrt_po2 / (1.0 + storage_k * sqrt_po2)   # Langmuir, dissociative
    return free_o2 - 0.5 * h2 - 0.5 * co + storage * coverage


def equilibrium_po2_by_bisection(balance: float, h_pool: float, c_pool: float, p_bar: float,
                                 kw: float, kc: float, storage: float = 0.0, storage_k: float = 0.0) -> float:
    """Equilibrium pO2 (bar): equilibrium_balance(sqrt(pO2)) = balance, bisected on ln sqrt(pO2)
    until the bracket cannot shrink. Slow and plainly convergent: the reference that the Newton
    solvers (equilibrium_po2, ElementModel.step, the firmware's chemistry) are tested against."""
    lo = math.log(math.sqrt(PO2_FLOOR_BAR))
    # A balance cannot exceed the free O2 of pure oxygen plus the pools and the full store.
    hi = math.log(math.sqrt(p_bar * (abs(balance) + h_pool + c_pool + storage + 1.0)))
    if equilibrium_balance(math.exp(lo), h_pool, c_pool, p_bar, kw, kc, storage, storage_k) >= balance:
        return PO2_FLOOR_BAR
    while True:
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if equilibrium_balance(math.exp(mid), h_pool, c_pool, p_bar, kw, kc, storage, storage_k) < balance:
            lo = mid
        else:
            hi = mid
    po2 = math.exp(2.0 * lo)
    return po2 if po2 > PO2_FLOOR_BAR else PO2_FLOOR_BAR


@jitable
def equilibrium_po2(balance: float, h_pool: float, c_pool: float, p_bar: float,
                    kw: float, kc: float, guess_bar: float = 0.0,
                    storage: float = 0.0, storage_k: float = 0.0) -> float:
    """Equilibrium pO2 (bar) of a gas with oxygen balance `balance` (mole fraction of free O2 minus
    the O2 its reducers need), hydrogen pool h = x_H2 + x_H2O and carbon pool c = x_CO + x_CO2.

    Solves s^2/p - (h/2)/(1 + kw*s) - (c/2)/(1 + kc*s) + storage*theta(s) = balance for
    s = sqrt(pO2), where theta = storage_k*s/(1 + storage_k*s) is the Langmuir coverage of an
    oxygen store (dissociative adsorption) holding `storage` O2 per mole of gas when full; that is
    equilibrium_balance(s) = balance, by Newton on u = ln s from the warm start guess_bar (an element
    without a store passes storage 0: its terms are exact zeros, one loop serves both).
    """
    half_h = 0.5 * h_pool
    half_c = 0.5 * c_pool
    if guess_bar > PO2_FLOOR_BAR:
        s = math.sqrt(guess_bar)
    elif balance > 0.0:
        s = math.sqrt(balance * p_bar)
    else:
        # Rich: pick the reducer-dominated estimate from the water couple.
        deficit = -balance if balance < 0.0 else 1e-12
        s = max(half_h / (kw * deficit + 1e-300), 1e-22)
    u = math.log(s)
    for _ in range(60):
        wh = kw * s
        wc = kc * s
        ah = 1.0 + wh
        ac = 1.0 + wc
        ws = storage_k * s
        as_ = 1.0 + ws
        f = s * s / p_bar - half_h / ah - half_c / ac + storage * ws / as_ - balance
        # df/du with u = ln s (every term increases with s).
        dfdu = 2.0 * s * s / p_bar + half_h * wh / (ah * ah) + half_c * wc / (ac * ac) + storage * ws / (as_ * as_)
        if dfdu <= 0.0:
            break
        step = f / dfdu
        # Limit steps to a factor e^3 in sqrt(pO2) so a cold start cannot overshoot wildly.
        if step > 3.0:
            step = 3.0
        elif step < -3.0:
            step = -3.0
        u -= step
        s = math.exp(u)
        if -1e-10 < step < 1e-10:
            break
    po2 = s * s
    return po2 if po2 > PO2_FLOOR_BAR else PO2_FLOOR_BAR


# --- sealed references: metal / metal-oxide buffers (for sealed-reference elements) -------------

@jitable
def po2_ni_nio(temp_k: float) -> float:
    """pO2 (bar) over Ni/NiO: muO2 = -478967 + 248.514 T - 9.7961 T ln T J/mol (O'Neill 1993)."""
    mu = -478967.0 + 248.514 * temp_k - 9.7961 * temp_k * math.log(temp_k)
    return math.exp(mu / (R_J_PER_MOL_K * temp_k))


@jitable
def po2_pd_pdo(temp_k: float) -> float:
    """pO2 (bar) over Pd/PdO: muO2 = -238842 + 316.129 T - 15.192 T ln T J/mol (730-1200 K)."""
    mu = -238842.0 + 316.129 * temp_k - 15.192 * temp_k * math.log(temp_k)
    return math.exp(mu / (R_J_PER_MOL_K * temp_k))


METAL_OXIDE_BUFFERS = {"Ni/NiO": po2_ni_nio, "Pd/PdO": po2_pd_pdo}
