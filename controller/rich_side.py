"""Fuel-aware rich side: scale a characteristic measured with one fuel to another fuel.

Why: in rich exhaust the pump cell supplies the O2 that the H2 and CO diffusing into the cavity
burn, so the limiting current is 2F·G·(D_H2·x_H2 + D_CO·x_CO) (two electrons per H2 or CO). A fuel
with more hydrogen per carbon (methane, H/C 4) makes more H2 at the same lambda, and H2 diffuses
about four times faster than CO, so the same lambda draws a larger rich current than with gasoline
(H/C 1.85), the fuel the Bosch table was taken with. The firmware's table therefore has to be
rescaled point by point: Ip_fuel(λ) = Ip_ref(λ) · S_fuel(λ) / S_ref(λ), S = r_H2·x_H2 + r_CO·x_CO.

Sources (independent of the emulator's code):
- Rich exhaust composition: the firmware's own carbon/hydrogen/oxygen balance with the frozen
  water-gas constant 3.5 (chemistry.exhaust_per_carbon; Brettschneider's convention).
- Molecular diffusion coefficients in N2: Fuller, Schettler & Giddings, Ind. Eng. Chem. 58(5)
  (1966) 19-27, D ∝ T^1.75·sqrt(1/M_A + 1/M_B) / (V_A^1/3 + V_B^1/3)^2, with their 1966 diffusion
  volumes of simple molecules (as tabulated in Perry's Chemical Engineers' Handbook and Reid &
  Sherwood): H2 7.07, O2 16.6, N2 17.9, CO 18.9. Poling, Prausnitz & O'Connell (5th ed., Table
  11-1) give the revised 1969 set (H2 6.12, N2 18.5, O2 16.3, CO 18.0), which raises r_H2 by 3.3 %:
  in the error budget. Only ratios to O2 are used, so T^1.75 and the pressure cancel.
- Knudsen diffusion in the pores: D_K ∝ sqrt(T/M) (kinetic theory), ratio sqrt(M_O2/M).
- The Knudsen share of the barrier's resistance at the exhaust pressure p, k/(k + p), from the
  pressure constant k the pressure compensation uses (the profile's, or the unit's own from a
  free-air calibration at a second pressure). Pressure moves the shares: the molecular part slows
  as 1/p, so at higher pressure the molecular ratio weighs more, and H2's edge over O2 shrinks
  from its Knudsen ratio sqrt(M_O2/M_H2) = 3.98 toward its molecular one (Fuller: ~3.4). The
  compensation divides every current by O2's pressure law; the rich table is scaled by
  S_fuel(λ, p)/S_gasoline(λ, 101.325 kPa), each S with its own share, which is exact for this
  two-resistance model (docs/controller.md).
Unburnt hydrocarbons (which also diffuse in and burn) are left out: their share of the O2 demand is
small at λ ≥ 0.65 for a warm engine; it is in the error budget (docs/controller.md).
"""

from __future__ import annotations

import math

from .chemistry import exhaust_per_carbon

P0_KPA = 101.325
# Molar masses (g/mol), IUPAC standard atomic weights.
M_N2, M_O2, M_H2, M_CO = 28.013, 31.999, 2.016, 28.010
# Fuller, Schettler & Giddings (1966) diffusion volumes of simple molecules: N2 17.9, O2 16.6, H2 7.07,
# CO 18.9. Checked (2026-12) against tabulations citing Fuller et al., Ind. Eng. Chem. 58(5) 19 (1966)
# (O2 16.6, N2 17.9, H2 7.07, CO 18.9, CO2 26.9, H2O 12.7): no correction. The 1969 revision (Fuller,
# Ensley & Giddings; Poling et al. Table 11-1: N2 18.5, O2 16.3, H2 6.12, CO 18.0) gives r_H2 3.78
# instead of 3.66 and r_CO 1.000 instead of 0.989 (+3.3 % / +1.1 %): in the error budget.
V_N2, V_O2, V_H2, V_CO = 17.9, 16.6, 7.07, 18.9
# The fuel the LSU 4.9 table was taken with: gasoline, H/C 1.85 (the firmware's FUELS table).
REFERENCE_FUEL = (1.85, 0.0)


def _fuller_in_n2(molar_mass: float, volume: float) -> float:
    """Fuller's D(species, N2) without the T^1.75/p factor (cancels in the ratios)."""
    return math.sqrt(1.0 / molar_mass + 1.0 / M_N2) / (volume ** (1.0 / 3.0) + V_N2 ** (1.0 / 3.0)) ** 2


def diffusivity_ratio(molar_mass: float, volume: float, knudsen_share: float) -> float:
    """Effective diffusivity of a species through the barrier relative to O2's: resistances of the
    Knudsen and molecular parts add (Bosanquet), each scaled to O2's."""
    molecular = _fuller_in_n2(molar_mass, volume) / _fuller_in_n2(M_O2, V_O2)
    knudsen = math.sqrt(M_O2 / molar_mass)
    return 1.0 / (knudsen_share / knudsen + (1.0 - knudsen_share) / molecular)


class RichScaling:
    """S(λ) = r_H2·x_H2 + r_CO·x_CO for a fuel: the rich current's shape, up to the barrier's
    geometry, which cancels in the ratio to the reference fuel."""

    def __init__(self, pressure_k_kpa: float, pressure_kpa: float = P0_KPA):
        self.r_h2, self.r_co = self._ratios(pressure_k_kpa, pressure_kpa)
        # The table's conditions: the reference fuel at 101.325 kPa.
        self.r_h2_ref, self.r_co_ref = self._ratios(pressure_k_kpa, P0_KPA)

    @staticmethod
    def _ratios(pressure_k_kpa: float, pressure_kpa: float) -> tuple[float, float]:
        share = pressure_k_kpa / (pressure_k_kpa + pressure_kpa)
        return diffusivity_ratio(M_H2, V_H2, share), diffusivity_ratio(M_CO, V_CO, share)

    def demand(self, lambda_value: float, h_c: float, o_c: float, reference: bool = False) -> float:
        _, h2, co, h2o, co2, n2 = exhaust_per_carbon(lambda_value, h_c, o_c)
        total = h2 + co + h2o + co2 + n2
        r_h2, r_co = (self.r_h2_ref, self.r_co_ref) if reference else (self.r_h2, self.r_co)
        return (r_h2 * h2 + r_co * co) / total

    def factor(self, lambda_value: float, h_c: float, o_c: float,
               reference: tuple[float, float] = REFERENCE_FUEL) -> float:
        """Ip(fuel, p)/Ip(reference fuel, 101.325 kPa) at the same lambda, both on O2's pressure law
        (the compensated current); 1.0 at and above lambda 1."""
        if lambda_value >= 1.0:
            return 1.0
        ref = self.demand(lambda_value, *reference, reference=True)
        return self.demand(lambda_value, h_c, o_c) / ref if ref > 0.0 else 1.0


def rescale_characteristic(ip_a: tuple[float, ...], lambdas: tuple[float, ...], h_c: float, o_c: float,
                           pressure_k_kpa: float, pressure_kpa: float = P0_KPA) -> tuple[float, ...]:
    """The characteristic's currents for another fuel: rich points (lambda < 1) scaled by
    RichScaling.factor, the zero-current point and anything lean kept."""
    scaling = RichScaling(pressure_k_kpa, pressure_kpa)
    return tuple(ip * scaling.factor(lam, h_c, o_c) if ip < 0.0 and lam < 1.0 else ip
                 for ip, lam in zip(ip_a, lambdas))
