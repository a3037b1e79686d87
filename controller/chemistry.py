"""The firmware's exhaust chemistry, for sensors whose signal is an equilibrium cell voltage
(potentiometric elements): lambda from the cell voltage, the cell temperature and the fuel.

The working electrode is catalytic: the gas at it reaches equilibrium, so its oxygen partial
pressure follows from the gas's hydrogen, carbon and oxygen content: with x = sqrt(pO2),
H2O/H2 = Kw·x and CO2/CO = Kc·x. Rich exhaust per carbon atom of CH_yO_z fuel comes from the
carbon, hydrogen and oxygen balances with the frozen water-gas constant 3.5 (Brettschneider), the
convention instruments use. Kw, Kc from the NIST-JANAF Thermochemical Tables (M. W. Chase, 4th ed.,
J. Phys. Chem. Ref. Data Monograph 9, 1998): the Gibbs energies of formation of H2O(g), CO and CO2
at 700-1500 K, interpolated linearly in T (ΔG is nearly linear in T), K = exp(-ΔG/RT). The emulator
takes its constants from another source (a fit of GRI-Mech 3.0 data); the two differ by up to 0.06
decades at 700-900 K and < 0.006 decades above 1000 K (docs/controller.md, error budget). Written for
the firmware, independent of the emulator's code (the firmware may not import it).
"""

from __future__ import annotations

import math

R = 8.314462618
FARADAY = 96485.332
O2_IN_AIR = 0.2095
N2_PER_O2 = 3.774
FROZEN_WGS = 3.5
LAMBDA_RANGE = (0.3, 20.0)

# NIST-JANAF ΔfG° (kJ/mol, 1 bar) at 700, 800, ..., 1500 K, the ΔfG° column of the tables (Chase 1998;
# janaf.nist.gov). Checked value by value against copies of the tables (2026-12): all agree to the
# last digit; none corrected.
JANAF_T_K = (700.0, 800.0, 900.0, 1000.0, 1100.0, 1200.0, 1300.0, 1400.0, 1500.0)
# H2O, ideal gas: NIST-JANAF table H-064.
_DG_H2O = (-208.812, -203.496, -198.083, -192.590, -187.033, -181.425, -175.774, -170.089, -164.376)
# CO, ideal gas: NIST-JANAF table C-093.
_DG_CO = (-173.518, -182.497, -191.416, -200.275, -209.075, -217.819, -226.509, -235.149, -243.740)
# CO2, ideal gas: NIST-JANAF table C-095.
_DG_CO2 = (-395.398, -395.586, -395.748, -395.886, -396.001, -396.098, -396.177, -396.240, -396.288)
# Reaction Gibbs energies (J/mol): H2 + 1/2 O2 = H2O and CO + 1/2 O2 = CO2 (elements' ΔfG = 0).
WATER = tuple(1e3 * g for g in _DG_H2O)
CARBON_MONOXIDE = tuple(1e3 * (g2 - g1) for g1, g2 in zip(_DG_CO, _DG_CO2))


def _k(reaction_dg_j: tuple[float, ...], temp_k: float) -> float:
    """Equilibrium constant (bar^-1/2) at temp_k: ΔG interpolated linearly in T between the table's
    temperatures, extrapolated along the end segments beyond them."""
    temps = JANAF_T_K
    i = 1
    while i < len(temps) - 1 and temp_k > temps[i]:
        i += 1
    t0, t1 = temps[i - 1], temps[i]
    g0, g1 = reaction_dg_j[i - 1], reaction_dg_j[i]
    dg = g0 + (g1 - g0) * (temp_k - t0) / (t1 - t0)
    return math.exp(-dg / (R * temp_k))


def exhaust_per_carbon(lambda_value: float, h_c: float, o_c: float) -> tuple[float, float, float, float, float, float]:
    """(O2, H2, CO, H2O, CO2, N2) moles per carbon atom before the electrode."""
    a = 1.0 + h_c / 4.0 - o_c / 2.0
    n2 = N2_PER_O2 * lambda_value * a
    if lambda_value >= 1.0:
        return (lambda_value - 1.0) * a, 0.0, 0.0, h_c / 2.0, 1.0, n2
    oxygen = 2.0 * lambda_value * a + o_c - 1.0   # O atoms for CO2 + H2O beyond the one in CO
    half_h = h_c / 2.0
    # CO2 = c solves (1-K)c^2 - (1 + O + K(y/2 - O))c + O = 0 with CO = 1-c, H2O = O-c.
    qa = 1.0 - FROZEN_WGS
    qb = -(1.0 + oxygen + FROZEN_WGS * (half_h - oxygen))
    disc = math.sqrt(max(qb * qb - 4.0 * qa * oxygen, 0.0))
    co2 = (-qb - disc) / (2.0 * qa) if qa else oxygen / -qb
    if not 0.0 <= co2 <= 1.0:
        co2 = (-qb + disc) / (2.0 * qa)
    h2o = oxygen - co2
    return 0.0, half_h - h2o, 1.0 - co2, h2o, co2, n2


def electrode_po2_bar(lambda_value: float, h_c: float, o_c: float, temp_k: float,
                      pressure_bar: float = 1.01325) -> float:
    """Equilibrium pO2 at a catalytic electrode in this exhaust."""
    o2, h2, co, h2o, co2, n2 = exhaust_per_carbon(lambda_value, h_c, o_c)
    total = o2 + h2 + co + h2o + co2 + n2
    if lambda_value > 1.0:
        return o2 / total * pressure_bar
    kw, kc = _k(WATER, temp_k), _k(CARBON_MONOXIDE, temp_k)
    hydrogen = (h2 + h2o) / total
    carbon = (co + co2) / total
    demand = 0.5 * (h2 + co) / total - o2 / total   # O2 the reducers still need, > 0 when rich
    return equilibrium_po2_bar(demand, hydrogen, carbon, kw, kc, pressure_bar)


def equilibrium_po2_bar(demand: float, hydrogen: float, carbon: float, kw: float, kc: float,
                        pressure_bar: float) -> float:
    """pO2 (bar) where a gas with hydrogen pool `hydrogen` (H2 + H2O) and carbon pool `carbon`
    (CO + CO2), mole fractions, that still needs `demand` O2 reaches equilibrium: with x = sqrt(pO2),
    H2O/H2 = kw x and CO2/CO = kc x, so demand = (h/2)/(1 + kw x) + (c/2)/(1 + kc x) - x^2/p.
    Searched within 1e-50..1 bar."""
    # The right-hand side falls as x rises: Newton on ln x, started where the water couple alone
    # would put it, kept inside a shrinking bracket.
    lo, hi = math.log(1e-25), 0.0
    u = min(max(math.log(max(0.5 * hydrogen / (kw * max(demand, 1e-12)), 1e-25)), lo), hi)
    for _ in range(80):
        x = math.exp(u)
        ah, ac = 1.0 + kw * x, 1.0 + kc * x
        f = 0.5 * hydrogen / ah + 0.5 * carbon / ac - x * x / pressure_bar - demand
        if f > 0.0:
            lo = u
        else:
            hi = u
        slope = -(0.5 * hydrogen * kw * x / (ah * ah) + 0.5 * carbon * kc * x / (ac * ac) + 2.0 * x * x / pressure_bar)
        step = -f / slope if slope < 0.0 else 0.0
        if -1e-12 < step < 1e-12:
            # Converged. (Tested before the bracket: at the root the step can fall below one ulp
            # of u, so u + step lands on the bracket's edge, and a bisection from there would walk
            # away from the root by up to 1e-12.)
            u += step
            break
        u_next = u + step
        if not lo < u_next < hi:
            u_next = 0.5 * (lo + hi)
        if abs(u_next - u) < 1e-12:
            u = u_next
            break
        u = u_next
    x = math.exp(u)
    return x * x


def cell_voltage(lambda_value: float, h_c: float, o_c: float, temp_k: float, reference_po2_bar: float) -> float:
    """(RT/4F) ln(pO2,ref / pO2,electrode)."""
    electrode_po2 = electrode_po2_bar(lambda_value, h_c, o_c, temp_k)
    return R * temp_k / (4.0 * FARADAY) * math.log(reference_po2_bar / electrode_po2)


def metal_oxide_po2_bar(coefficients: tuple[float, float, float], temp_k: float) -> float:
    """pO2 over a metal/metal-oxide buffer: muO2 = a + b T + c T ln T (J/mol), from the profile's
    reference_buffer (sealed-ref: Ni/NiO after Frost 1991, controller/profile_data/sealed-ref.toml)."""
    a, b, c = coefficients
    return math.exp((a + b * temp_k + c * temp_k * math.log(temp_k)) / (R * temp_k))


class VoltageToLambda:
    """Fast inversion for a running firmware: a table of cell voltage vs lambda at the present cell
    temperature (rebuilt when it moves by more than `rebuild_k`), interpolated in ln lambda."""

    def __init__(self, h_c: float, o_c: float, reference, points: int = 240, rebuild_k: float = 1.0):
        self.h_c, self.o_c = h_c, o_c
        self.reference = reference          # callable temp_k -> reference pO2 (bar)
        lo, hi = math.log(LAMBDA_RANGE[0]), math.log(LAMBDA_RANGE[1])
        self.ln_lambdas = [lo + (hi - lo) * i / (points - 1) for i in range(points)]
        self.rebuild_k = rebuild_k
        self.table_temp_k = math.nan
        self.volts: list[float] = []

    def _rebuild(self, temp_k: float) -> None:
        pref = self.reference(temp_k)
        self.volts = [cell_voltage(math.exp(u), self.h_c, self.o_c, temp_k, pref) for u in self.ln_lambdas]
        self.table_temp_k = temp_k

    def __call__(self, voltage_v: float, temp_k: float) -> float:
        if not abs(temp_k - self.table_temp_k) <= self.rebuild_k:
            self._rebuild(temp_k)
        volts = self.volts   # falling with lambda
        if voltage_v >= volts[0]:
            return LAMBDA_RANGE[0]
        if voltage_v <= volts[-1]:
            return LAMBDA_RANGE[1]
        lo, hi = 0, len(volts) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if volts[mid] > voltage_v:
                lo = mid
            else:
                hi = mid
        w = (voltage_v - volts[lo]) / (volts[hi] - volts[lo])
        return math.exp(self.ln_lambdas[lo] + w * (self.ln_lambdas[hi] - self.ln_lambdas[lo]))
