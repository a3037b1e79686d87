"""Physical constants and per-species data shared by the gas, transport and cell models."""

from __future__ import annotations

R_J_PER_MOL_K = 8.314462618
F_C_PER_MOL = 96485.332
K_B_EV_PER_K = 8.617333e-5
SIGMA_W_PER_M2_K4 = 5.670374e-8
ZERO_C_IN_K = 273.15

O2_IN_DRY_AIR = 0.2095
N2_PER_O2_IN_AIR = 3.774

# Binary diffusion coefficients in N2 at 1053 K and 1 atm, cm^2/s (derived from the GRI-Mech 3.0
# transport data). HC is represented by propene/propane (C3), the usual test gas.
D_REF_T_K = 1053.0
D_REF_P_KPA = 101.325
D_IN_N2_CM2_S = {
    "O2": 1.776,
    "H2": 6.375,
    "CO": 1.752,
    "HC": 1.037,
    "H2O": 2.279,
    "CO2": 1.420,
}

# Molar masses, kg/mol (Knudsen diffusion goes with 1/sqrt(M)).
MOLAR_MASS_KG = {
    "O2": 0.031999,
    "H2": 0.002016,
    "CO": 0.028010,
    "HC": 0.042080,  # C3H6
    "H2O": 0.018015,
    "CO2": 0.044009,
    "N2": 0.028014,
}

# O2 consumed per molecule when the species burns at a catalytic electrode.
# HC is C3H6: C3H6 + 4.5 O2 -> 3 CO2 + 3 H2O.
O2_DEMAND = {"H2": 0.5, "CO": 0.5, "HC": 4.5}
HC_CARBON = 3.0
HC_HYDROGEN = 6.0
