"""Exhaust gas, fuels and electrode equilibrium against published and derived figures: exhaust
composition (Brettschneider, water-gas K = 3.5), GRI-Mech 3.0 equilibrium, Ni/NiO (O'Neill 1993)."""

from __future__ import annotations

import math

import pytest

from lambdarig.emulator.constants import F_C_PER_MOL, N2_PER_O2_IN_AIR, R_J_PER_MOL_K, ZERO_C_IN_K
from lambdarig.emulator.equilibrium import equilibrium_po2, k_co, k_water, po2_ni_nio
from lambdarig.emulator.errors import EmulatorInputError
from lambdarig.emulator.exhaust import exhaust, lambda_of
from lambdarig.emulator.fuels import NAMED_FUELS, custom_fuel, parse_fuel
from lambdarig.emulator.scenario import scenario_from_dict

GASOLINE = NAMED_FUELS["gasoline"]
AIR_PO2_BAR = 0.2095 * 1.01325
P_BAR = 1.01325

# Derived (K = 3.5): wet mole fractions (%), gasoline y = 1.85, z = 0.
#        lambda: (CO2,   H2O,   CO,    H2,    O2,    N2)
COMPOSITION_TABLE = {
    0.40: (1.05, 3.06, 23.15, 19.32, 0.0, 53.42),
    0.50: (2.89, 6.99, 18.46, 12.76, 0.0, 58.91),
    0.65: (5.86, 10.49, 12.28, 6.29, 0.0, 65.08),
    0.80: (9.08, 12.05, 6.69, 2.54, 0.0, 69.64),
    0.90: (11.28, 12.41, 3.23, 1.01, 0.0, 72.07),
    0.95: (12.37, 12.45, 1.58, 0.46, 0.0, 73.15),
    1.00: (13.43, 12.43, 0.0, 0.0, 0.0, 74.14),
    1.05: (12.83, 11.87, 0.0, 0.0, 0.94, 74.36),
    1.20: (11.31, 10.46, 0.0, 0.0, 3.31, 74.92),
    1.70: (8.11, 7.50, 0.0, 0.0, 8.30, 76.09),
    2.00: (6.93, 6.41, 0.0, 0.0, 10.14, 76.52),
    3.00: (4.67, 4.32, 0.0, 0.0, 13.66, 77.35),
}
SPECIES = ("co2", "h2o", "co", "h2", "o2", "n2")

# Stoichiometric AFR per fuel (derived from H/C and O/C).
AFR_TABLE = {"gasoline": 14.57, "propane": 15.67, "methane": 17.23, "ethanol": 9.00, "methanol": 6.47,
             "iso-octane": 15.12, "diesel": 14.49}

# Derived (GRI-Mech 3.0): Nernst voltage vs air with full equilibrium at the electrode, mV at 700 / 780 / 850 °C.
NERNST_VS_AIR_MV = {
    0.40: (1073, 1055, 1035),
    0.50: (1031, 1003, 978),
    0.60: (1002, 971, 944),
    0.70: (976, 943, 914),
    0.80: (948, 913, 882),
    0.90: (910, 873, 839),
    0.95: (877, 837, 801),
    0.99: (807, 761, 720),
    1.01: (98, 106, 113),
    1.05: (65, 70, 75),
    1.20: (39, 42, 45),
    1.70: (19, 21, 22),
}
NERNST_TEMPS_C = (700.0, 780.0, 850.0)

FUELS_FOR_BALANCE = [NAMED_FUELS[name] for name in ("gasoline", "ethanol", "methanol", "methane", "e85")] + [
    custom_fuel(2.1, 0.15, "test"), custom_fuel(1.0, 0.0, "test")]
LAMBDAS_FOR_BALANCE = (0.45, 0.6, 0.8, 0.95, 0.999, 1.0, 1.001, 1.1, 1.7, 4.0, 20.0)


# --- composition ---------------------------------------------------------------------------------

@pytest.mark.parametrize("lambda_value", sorted(COMPOSITION_TABLE))
def test_gasoline_composition_matches_physics_table(lambda_value):
    gas = exhaust(lambda_value, GASOLINE)
    for species, expected_pct in zip(SPECIES, COMPOSITION_TABLE[lambda_value]):
        got_pct = 100.0 * getattr(gas, species)
        assert got_pct == pytest.approx(expected_pct, abs=0.02), f"{species} at lambda {lambda_value}"
    assert gas.hc == 0.0


def test_free_air_is_dry_air():
    gas = exhaust(math.inf, GASOLINE)
    assert gas.o2 == pytest.approx(0.2095, abs=1e-6)
    assert gas.h2 == gas.co == gas.hc == gas.h2o == gas.co2 == 0.0
    assert gas.o2 + gas.n2 == pytest.approx(1.0, abs=1e-12)


def _atoms(gas):
    carbon = gas.co2 + gas.co + 3.0 * gas.hc
    hydrogen = 2.0 * gas.h2o + 2.0 * gas.h2 + 6.0 * gas.hc
    oxygen = 2.0 * gas.co2 + gas.co + gas.h2o + 2.0 * gas.o2
    nitrogen = 2.0 * gas.n2
    return carbon, hydrogen, oxygen, nitrogen


@pytest.mark.parametrize("hc_ppm", [0.0, 800.0])
@pytest.mark.parametrize("fuel", FUELS_FOR_BALANCE, ids=lambda f: f.name)
def test_atom_balances_close(fuel, hc_ppm):
    """C, H, O (and N) of the products are what fuel CH_yO_z and lambda*a*(O2 + 3.774 N2) put in."""
    a = fuel.o2_per_carbon
    for lambda_value in LAMBDAS_FOR_BALANCE:
        gas = exhaust(lambda_value, fuel, hc_ppm)
        fractions = [getattr(gas, s) for s in ("o2", "h2", "co", "hc", "h2o", "co2", "n2")]
        assert min(fractions) >= -1e-15, f"negative mole fraction at lambda {lambda_value}: {gas}"
        assert sum(fractions) == pytest.approx(1.0, abs=1e-12)
        carbon, hydrogen, oxygen, nitrogen = _atoms(gas)
        where = f"{fuel.name}, lambda {lambda_value}, HC {hc_ppm} ppm"
        assert hydrogen / carbon == pytest.approx(fuel.h_c, rel=1e-9), f"H/C {where}"
        # Oxygen from air per carbon = 2*lambda*a; the fuel brings z.
        assert (oxygen / carbon - fuel.o_c) / (2.0 * a) == pytest.approx(lambda_value, rel=1e-9), f"O {where}"
        assert nitrogen / 2.0 / (a * carbon) == pytest.approx(N2_PER_O2_IN_AIR * lambda_value, rel=1e-9), \
            f"N {where}"


@pytest.mark.parametrize("lambda_value", [1.0, 1.1, 2.0, 4.0])
def test_unburnt_hc_fraction_is_what_was_asked_lean(lambda_value):
    for fuel in FUELS_FOR_BALANCE:
        for hc_ppm in (100.0, 800.0, 5000.0):
            assert exhaust(lambda_value, fuel, hc_ppm).hc == pytest.approx(hc_ppm * 1e-6, rel=1e-6)


@pytest.mark.parametrize("lambda_value", [0.5, 0.8, 0.95])
def test_unburnt_hc_fraction_is_what_was_asked_rich(lambda_value):
    for hc_ppm in (800.0, 5000.0):
        assert exhaust(lambda_value, GASOLINE, hc_ppm).hc == pytest.approx(hc_ppm * 1e-6, rel=1e-3)


def test_scenario_with_an_impossible_gas_is_refused_at_load():
    """lambda 3 cannot carry 20000 ppm unburnt HC: refused when the file loads, not mid-run."""
    with pytest.raises(EmulatorInputError) as info:
        scenario_from_dict({"duration_s": 1, "lambda": 3.0, "hc_ppm": 20000}, "hc.toml")
    assert info.value.source == "hc.toml"
    assert "HC" in info.value.problem and "20000" in info.value.problem


def test_rich_gas_obeys_frozen_water_gas_shift():
    for fuel in FUELS_FOR_BALANCE:
        for lambda_value in (0.5, 0.7, 0.9, 0.99):
            gas = exhaust(lambda_value, fuel)
            assert gas.o2 == 0.0
            assert gas.co * gas.h2o / (gas.co2 * gas.h2) == pytest.approx(3.5, rel=1e-9)


def test_lean_gas_is_complete_combustion_plus_excess_air():
    for fuel in FUELS_FOR_BALANCE:
        gas = exhaust(1.5, fuel)
        assert gas.co == gas.h2 == 0.0
        carbon = gas.co2
        assert gas.o2 / carbon == pytest.approx(0.5 * fuel.o2_per_carbon, rel=1e-9)


@pytest.mark.parametrize("name,expected", sorted(AFR_TABLE.items()))
def test_stoichiometric_afr(name, expected):
    assert NAMED_FUELS[name].afr_stoich == pytest.approx(expected, abs=0.01)


def test_custom_fuel_afr_between_neighbours():
    # CH2 (between gasoline 1.85 and iso-octane 2.25): 14.78 (derived).
    assert parse_fuel("custom:h_c=2.0,o_c=0").afr_stoich == pytest.approx(14.78, abs=0.01)
    assert parse_fuel("h_c=3,o_c=0.5").afr_stoich == pytest.approx(NAMED_FUELS["ethanol"].afr_stoich, abs=1e-9)


@pytest.mark.parametrize("fuel", FUELS_FOR_BALANCE, ids=lambda f: f.name)
def test_lambda_of_inverts_exhaust(fuel):
    for lambda_value in (0.42, 0.6, 0.75, 0.9, 0.99, 1.0, 1.01, 1.3, 2.5, 10.0, 50.0):
        for hc_ppm in (0.0, 500.0):
            assert lambda_of(exhaust(lambda_value, fuel, hc_ppm), fuel) == pytest.approx(lambda_value, rel=1e-9)
    assert math.isinf(lambda_of(exhaust(math.inf, fuel), fuel))


# --- electrode equilibrium -----------------------------------------------------------------------

def _nernst_vs_air_mv(lambda_value: float, temp_c: float) -> float:
    temp_k = temp_c + ZERO_C_IN_K
    gas = exhaust(lambda_value, GASOLINE)
    po2 = equilibrium_po2(gas.oxygen_balance, gas.h2 + gas.h2o, gas.co + gas.co2, P_BAR,
                          k_water(temp_k), k_co(temp_k))
    return 1e3 * R_J_PER_MOL_K * temp_k / (4.0 * F_C_PER_MOL) * math.log(AIR_PO2_BAR / po2)


@pytest.mark.parametrize("lambda_value", sorted(NERNST_VS_AIR_MV))
def test_equilibrium_nernst_voltage_vs_air(lambda_value):
    for temp_c, expected_mv in zip(NERNST_TEMPS_C, NERNST_VS_AIR_MV[lambda_value]):
        got = _nernst_vs_air_mv(lambda_value, temp_c)
        assert got == pytest.approx(expected_mv, abs=10.0), f"lambda {lambda_value} at {temp_c} °C: {got:.1f} mV"


def test_equilibrium_constants_match_table():
    # GRI-Mech 3.0, log10 Kw / log10 Kc at 1053 K: 9.41 / 9.47, at 900 K 11.50 / 11.86.
    assert math.log10(k_water(1053.0)) == pytest.approx(9.41, abs=0.02)
    assert math.log10(k_co(1053.0)) == pytest.approx(9.47, abs=0.02)
    assert math.log10(k_water(900.0)) == pytest.approx(11.50, abs=0.02)
    assert math.log10(k_co(900.0)) == pytest.approx(11.86, abs=0.02)


def test_equilibrium_po2_is_a_root_and_monotonic_in_balance():
    temp_k = 1053.15
    kw, kc = k_water(temp_k), k_co(temp_k)
    previous = 0.0
    for lambda_value in (0.6, 0.8, 0.95, 0.99, 0.999, 1.0, 1.001, 1.01, 1.1, 2.0):
        gas = exhaust(lambda_value, GASOLINE)
        h, c = gas.h2 + gas.h2o, gas.co + gas.co2
        po2 = equilibrium_po2(gas.oxygen_balance, h, c, P_BAR, kw, kc)
        s = math.sqrt(po2)
        residual = po2 / P_BAR - 0.5 * h / (1 + kw * s) - 0.5 * c / (1 + kc * s) - gas.oxygen_balance
        assert abs(residual) < 1e-9
        assert po2 > previous
        previous = po2
    # 450 mV vs air <-> pO2 ~ 5e-10 bar is within 1e-4 of stoichiometric (derived).
    gas = exhaust(0.9999, GASOLINE)
    assert _nernst_vs_air_mv(0.9999, 780.0) > 450.0
    assert _nernst_vs_air_mv(1.0001, 780.0) < 450.0
    assert gas.oxygen_balance < 0.0


def test_ni_nio_buffer_po2_at_780c():
    assert po2_ni_nio(780.0 + ZERO_C_IN_K) == pytest.approx(4.6e-15, rel=0.10)
    # and the rest of the Ni/NiO row (O'Neill 1993)
    for temp_c, expected in ((600.0, 7.3e-20), (700.0, 5.6e-17), (850.0, 1.3e-13), (900.0, 1.1e-12)):
        assert po2_ni_nio(temp_c + ZERO_C_IN_K) == pytest.approx(expected, rel=0.10)


# --- bad fuel input ------------------------------------------------------------------------------

def test_unknown_fuel_names_the_field():
    with pytest.raises(EmulatorInputError) as info:
        parse_fuel("kerosene", "opt --fuel")
    assert info.value.field == "fuel"
    assert info.value.source == "opt --fuel"
    assert "kerosene" in str(info.value) and "gasoline" in str(info.value)


@pytest.mark.parametrize("text,field", [
    ("custom:h_c=abc", "fuel.h_c"),
    ("custom:h_c=2,o_c=x", "fuel.o_c"),
    ("custom:h_c=20", "h_c"),
    ("custom:h_c=-1", "h_c"),
    ("custom:h_c=1,o_c=5", "o_c"),
    ("custom:h_c=0,o_c=2", "o_c"),        # 1 + y/4 - z/2 = 0: nothing to burn
    ("custom:h_c=2,n_c=1", "fuel"),
])
def test_bad_custom_fuel_names_the_field(text, field):
    with pytest.raises(EmulatorInputError) as info:
        parse_fuel(text, "opt --fuel")
    assert info.value.field == field


@pytest.mark.parametrize("fuel,field", [
    ("kerosene", "fuel"),
    ({"h_c": 11.0}, "fuel.h_c"),
    ({"h_c": 2.0, "o_c": -0.5}, "fuel.o_c"),
    ({"o_c": 0.5}, "fuel.h_c"),
    ({"h_c": 2.0, "s_c": 0.1}, "fuel.s_c"),
])
def test_bad_fuel_in_scenario_names_the_field(fuel, field):
    with pytest.raises(EmulatorInputError) as info:
        scenario_from_dict({"duration_s": 10, "fuel": fuel}, "bad.toml")
    assert info.value.field == field
    assert info.value.source == "bad.toml"
