"""Gas transport through porous diffusion layers: molecular and Knudsen diffusion in series (Luo et
al. 1994, Sci. China A). Pressure matters through the Knudsen share: molecular D goes with
T^1.75/p, Knudsen D with sqrt(T/M) and not with p, and 1/D_eff = 1/D_m + 1/D_K ("mixed diffusion
control").
"""

from __future__ import annotations

import math

from .constants import D_IN_N2_CM2_S, D_REF_P_KPA, D_REF_T_K, MOLAR_MASS_KG, R_J_PER_MOL_K


def molecular_d_m2_s(species: str, temp_k: float, pressure_kpa: float) -> float:
    return D_IN_N2_CM2_S[species] * 1e-4 * (temp_k / D_REF_T_K) ** 1.75 * (D_REF_P_KPA / pressure_kpa)


def knudsen_d_m2_s(species: str, temp_k: float, pore_diameter_m: float) -> float:
    mean_speed = math.sqrt(8.0 * R_J_PER_MOL_K * temp_k / (math.pi * MOLAR_MASS_KG[species]))
    return pore_diameter_m / 3.0 * mean_speed


def effective_d_m2_s(species: str, temp_k: float, pressure_kpa: float, pore_diameter_m: float) -> float:
    d_m = molecular_d_m2_s(species, temp_k, pressure_kpa)
    d_k = knudsen_d_m2_s(species, temp_k, pore_diameter_m)
    return 1.0 / (1.0 / d_m + 1.0 / d_k)


def molar_concentration(temp_k: float, pressure_kpa: float) -> float:
    """Total gas concentration, mol/m³."""
    return pressure_kpa * 1000.0 / (R_J_PER_MOL_K * temp_k)


def path_conductance(layers, species: str, temp_k: float, pressure_kpa: float, factor: float = 1.0) -> float:
    """Molar conductance of layers in series, mol/s per unit mole-fraction difference."""
    conc = molar_concentration(temp_k, pressure_kpa)
    resistance = 0.0
    for layer in layers:
        d_eff = effective_d_m2_s(species, temp_k, pressure_kpa, layer.pore_diameter_um * 1e-6)
        resistance += 1.0 / (conc * d_eff * layer.area_over_length_um * 1e-6)
    return factor / resistance


def knudsen_pressure_k_kpa(pore_diameter_um: float, temp_k: float, species: str = "O2") -> float:
    """k = p0*D_m(p0)/D_K: the pressure at which molecular and Knudsen resistances are equal."""
    d_m = molecular_d_m2_s(species, temp_k, D_REF_P_KPA)
    d_k = knudsen_d_m2_s(species, temp_k, pore_diameter_um * 1e-6)
    return D_REF_P_KPA * d_m / d_k
