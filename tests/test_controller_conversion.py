"""Pump current -> lambda, O2 and AFR (controller/conversion.py) with the LSU 4.9 profiles."""

from __future__ import annotations

import math

import pytest
from controller_helpers import Bench

from lambdarig.controller.conversion import LAMBDA_MAX, Conversion
from lambdarig.controller.profiles import load_profile
from lambdarig.controller.rich_side import RichScaling
from lambdarig.controller.settings import Settings

P0_KPA = 101.325


@pytest.fixture(scope="module")
def cal():
    return load_profile("lsu49", calibrated=True)


@pytest.fixture(scope="module")
def nominal():
    return load_profile("lsu49", calibrated=False)


def lean_lambda(x_o2: float, h_c: float, o_c: float) -> float:
    """Independent lean balance: CHyOz + a*lam*(O2 + 3.774 N2) -> CO2 + y/2 H2O + (lam-1)a O2 +
    3.774 lam a N2, with x_O2 the wet mole fraction; solved for lam by bisection."""
    a = 1.0 + h_c / 4.0 - o_c / 2.0

    def x_of(lam):
        o2 = (lam - 1.0) * a
        return o2 / (1.0 + h_c / 2.0 + o2 + 3.774 * lam * a)

    lo, hi = 1.0, 1e6
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if x_of(mid) < x_o2:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def test_profiles_load(cal, nominal):
    assert cal.calibrated and not nominal.calibrated
    assert cal.char_ip_a[-1] == 0.0 and nominal.char_ip_a[-1] == 0.0
    assert 2e-3 < cal.ip_air_a < 3e-3


def test_lean_o2_law(cal):
    conv = Conversion(cal, Settings())
    assert conv.pressure_factor == pytest.approx(1.0, abs=1e-12)
    for frac in (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0):
        ip = frac * cal.ip_air_a
        lam, o2_pct, afr = conv.convert(ip)
        x = 1.0 - 0.7905 ** (ip / cal.ip_air_a)
        assert o2_pct == pytest.approx(100.0 * x, rel=1e-6)
    # Free air reads 20.95 % O2.
    assert conv.convert(cal.ip_air_a)[1] == pytest.approx(20.95, abs=1e-6)


@pytest.mark.parametrize("fuel, h_c, o_c", [("gasoline", 1.85, 0.0), ("e85", 2.751, 0.392), ("methane", 4.0, 0.0)])
def test_lean_lambda_from_o2_by_combustion_balance(cal, fuel, h_c, o_c):
    conv = Conversion(cal, Settings({"conversion.fuel": fuel}))
    for frac in (0.02, 0.1, 0.3, 0.6, 0.8):
        ip = frac * cal.ip_air_a
        lam, o2_pct, _ = conv.convert(ip)
        expected = lean_lambda(o2_pct / 100.0, h_c, o_c)
        # The profile's zero-current lambda (0.99992) fades out toward air: at most 1e-4 apart.
        assert lam == pytest.approx(expected, abs=1.5e-4 * expected)


@pytest.mark.parametrize("calibrated", [
    True,
    False,
], ids=["calibrated", "nominal"])
def test_lambda_monotonic_in_ip_over_whole_range(calibrated):
    profile = load_profile("lsu49", calibrated=calibrated)
    conv = Conversion(profile, Settings())
    prev = -math.inf
    for i in range(-10_000, 10_001):   # -10 mA .. +10 mA in 1 uA steps
        lam = conv.convert(i * 1e-6)[0]
        assert math.isfinite(lam)
        assert lam <= LAMBDA_MAX
        assert lam >= prev, f"lambda falls at Ip = {i} uA ({prev!r} -> {lam!r})"
        prev = lam
    # Strictly rising over the characteristic and the lean law (flat only at the clamps).
    for ip_ua in range(round(profile.char_ip_a[0] * 1e6), round(0.9 * profile.ip_air_a * 1e6)):
        assert conv.convert((ip_ua + 1) * 1e-6)[0] > conv.convert(ip_ua * 1e-6)[0]
    assert conv.convert(profile.char_ip_a[0])[0] < 1.0 < conv.convert(0.9 * profile.ip_air_a)[0]


def test_rich_interpolation_hits_profile_points(cal, nominal):
    for profile in (cal, nominal):
        conv = Conversion(profile, Settings())
        for ip, lam in zip(profile.char_ip_a, profile.char_lambda):
            assert conv.convert(ip)[0] == pytest.approx(lam, rel=1e-9), (profile.name, ip)
            assert conv.convert(ip)[1] == 0.0 or ip == 0.0


def test_rich_interpolation_between_points_is_linear_in_inverse_lambda(cal):
    conv = Conversion(cal, Settings())
    for (i0, l0), (i1, l1) in zip(zip(cal.char_ip_a, cal.char_lambda), zip(cal.char_ip_a[1:], cal.char_lambda[1:])):
        mid = 0.5 * (i0 + i1)
        expected = 1.0 / (0.5 * (1.0 / l0 + 1.0 / l1))
        assert conv.convert(mid)[0] == pytest.approx(expected, rel=1e-9)
        assert min(l0, l1) <= conv.convert(mid)[0] <= max(l0, l1)


def test_nominal_profile_lambda_at_zero_current(nominal, cal):
    assert Conversion(nominal, Settings()).convert(0.0)[0] == pytest.approx(1.003, abs=1e-9)
    assert Conversion(cal, Settings()).convert(0.0)[0] == pytest.approx(cal.char_lambda[-1], abs=1e-9)
    # Continuous across Ip = 0.
    conv = Conversion(nominal, Settings())
    assert conv.convert(-1e-9)[0] == pytest.approx(conv.convert(1e-9)[0], abs=1e-4)


def test_afr_gasoline(cal):
    conv = Conversion(cal, Settings())
    assert conv.afr_stoich == pytest.approx(14.57, abs=0.01)
    for ip in (-1.5e-3, -0.4e-3, 0.0, 0.3e-3, 1.5e-3):
        lam, _, afr = conv.convert(ip)
        assert afr == pytest.approx(lam * 14.57, rel=1e-3)
        assert afr == pytest.approx(lam * conv.afr_stoich, rel=1e-12)


@pytest.mark.parametrize("h_c, o_c", [(2.0, 0.1), (1.0, 0.0), (3.0, 0.5)])
def test_afr_custom_fuel(cal, h_c, o_c):
    conv = Conversion(cal, Settings({"conversion.fuel": "custom", "conversion.custom_h_c": h_c,
                                     "conversion.custom_o_c": o_c}))
    a = 1.0 + h_c / 4.0 - o_c / 2.0
    expected = 138.2 * a / (12.011 + 1.008 * h_c + 16.0 * o_c)
    assert conv.afr_stoich == pytest.approx(expected, rel=1e-3)
    for ip in (-1.0e-3, 0.0, 1.0e-3):
        lam, _, afr = conv.convert(ip)
        assert afr == pytest.approx(lam * expected, rel=1e-3)


@pytest.mark.parametrize("fuel, afr", [("methanol", 6.46), ("ethanol", 9.0), ("e85", 9.77), ("propane", 15.67),
                                       ("methane", 17.2), ("iso-octane", 15.1)])
def test_afr_named_fuels(cal, fuel, afr):
    assert Conversion(cal, Settings({"conversion.fuel": fuel})).afr_stoich == pytest.approx(afr, rel=0.01)


def test_pressure_compensation_200_kpa(cal):
    k = cal.pressure_k_kpa
    p = 200.0
    law = (p / (k + p)) * ((k + P0_KPA) / P0_KPA)
    assert law > 1.0
    # O2's law on every current (the rich table's H2/CO shares held at 101.325 kPa: see the next test).
    at_p0 = Conversion(cal, Settings({"conversion.rich_fuel_correction": False}))
    at_200 = Conversion(cal, Settings({"conversion.exhaust_pressure_kpa": p, "conversion.rich_fuel_correction": False}))
    for ip0 in (-1.8e-3, -0.9e-3, -0.1e-3, 0.2e-3, 1.0e-3, 2.0e-3):
        ip200 = ip0 * law                     # the same gas at 200 kPa needs |Ip| larger by the law
        assert abs(ip200) > abs(ip0)
        lam0, o2_0, afr0 = at_p0.convert(ip0)
        lam, o2, afr = at_200.convert(ip200)
        assert lam == pytest.approx(lam0, rel=1e-9)
        assert o2 == pytest.approx(o2_0, rel=1e-9, abs=1e-12)
        assert afr == pytest.approx(afr0, rel=1e-9)
        # Uncompensated, the 200 kPa current would read off (richer when rich, leaner when lean).
        raw = at_p0.convert(ip200)[0]
        assert (raw < lam0) if ip0 < 0 else (raw > lam0)
    off = Conversion(cal, Settings({"conversion.exhaust_pressure_kpa": p, "conversion.pressure_compensation": False}))
    assert off.convert(1e-3) == at_p0.convert(1e-3)


@pytest.mark.parametrize("k_kpa", [60.0, 130.0])
def test_rich_side_follows_each_species_pressure_law(nominal, k_kpa):
    """At 200 kPa the molecular part of the barrier slows (D_m ~ 1/p) and weighs more, so H2's edge over
    O2 shrinks from its Knudsen ratio (3.98) toward its molecular one (~3.4): a rich gasoline current rises
    by O2's law times S(200 kPa)/S(101.325 kPa) < 1; the firmware reads it as the same lambda, and with
    O2's law alone it would not."""
    p = 200.0
    o2_law = (p / (k_kpa + p)) * ((k_kpa + P0_KPA) / P0_KPA)
    base = Settings({"conversion.pressure_k_kpa": k_kpa})
    at_p0 = Conversion(nominal, base)
    at_200 = Conversion(nominal, base.changed(conversion__exhaust_pressure_kpa=p))
    scaling = RichScaling(k_kpa, p)
    for lam in (0.65, 0.8, 0.95):
        ip0 = next(ip for ip, la in zip(nominal.char_ip_a, nominal.char_lambda) if la == pytest.approx(lam, abs=1e-3))
        species = scaling.demand(lam, 1.85, 0.0) / scaling.demand(lam, 1.85, 0.0, reference=True)
        assert 0.95 < species < 1.0
        ip200 = ip0 * o2_law * species
        assert at_200.convert(ip200)[0] == pytest.approx(at_p0.convert(ip0)[0], rel=1e-9)
        assert at_200.convert(ip0 * o2_law)[0] < at_p0.convert(ip0)[0] - 1e-4   # O2's law alone reads rich


def test_pressure_compensation_low_pressure(cal):
    k = cal.pressure_k_kpa
    p = 50.0
    law = (p / (k + p)) * ((k + P0_KPA) / P0_KPA)
    assert law < 1.0
    conv = Conversion(cal, Settings({"conversion.exhaust_pressure_kpa": p, "conversion.rich_fuel_correction": False}))
    ref = Conversion(cal, Settings({"conversion.rich_fuel_correction": False}))
    for ip0 in (-1e-3, 1e-3):
        assert conv.convert(ip0 * law)[0] == pytest.approx(ref.convert(ip0)[0], rel=1e-9)


def test_lean_readings_not_blanked(cal, nominal):
    for profile in (cal, nominal):
        conv = Conversion(profile, Settings())
        lam, o2, afr = conv.convert(2.0e-3)
        assert math.isfinite(lam) and lam > 5.0
        assert math.isfinite(o2) and 15.0 < o2 < 20.95
        assert math.isfinite(afr) and afr > 5.0 * 14.0
        # Free air and beyond (even above the air current): finite, O2 carries the information.
        for ip in (profile.ip_air_a, 1.2 * profile.ip_air_a, 6e-3):
            lam, o2, afr = conv.convert(ip)
            assert lam == LAMBDA_MAX and math.isfinite(afr)
            assert o2 == pytest.approx(20.95, abs=0.2) or o2 > 20.95


def _closed_loop_bench() -> Bench:
    bench = Bench()
    bench.to_closed_loop()
    bench.run_for(2.0)
    assert bench.ctl.status().lambda_valid
    return bench


def test_status_lean_reading_valid_not_blanked():
    bench = _closed_loop_bench()
    bench.gas_ip_a = 2.0e-3
    bench.run_for(2.0)
    st = bench.ctl.status()
    assert st.state == "closed_loop"
    assert bench.ctl.events == []
    assert st.pump_current_a == pytest.approx(2.0e-3, rel=1e-3)
    assert math.isfinite(st.lambda_value) and st.lambda_value > 5.0
    assert st.lambda_valid
    assert st.saturation == 0


def test_status_rich_saturation_flagged_not_nan():
    bench = _closed_loop_bench()
    s = bench.settings
    bench.gas_ip_a = -20e-3                 # far beyond the rich current limit
    bench.run_for(1.5)
    st = bench.ctl.status()
    assert st.saturation == -1
    assert st.pump_current_a == pytest.approx(s.pump.current_min_a)
    assert math.isfinite(st.lambda_value) and 0.0 < st.lambda_value < 0.8
    assert math.isfinite(st.afr)
    assert "pump_saturated" in [e.code for e in bench.ctl.events]
    assert all(e.severity == "warning" for e in bench.ctl.events)
    assert st.state == "closed_loop"
    # Back in range: the saturation flag clears.
    bench.gas_ip_a = -1e-3
    bench.run_for(1.0)
    st = bench.ctl.status()
    assert st.saturation == 0 and st.lambda_valid
    assert st.lambda_value == pytest.approx(Conversion(bench.profile, s).convert(-1e-3, st.temp_c)[0], rel=2e-3)


def test_status_lean_saturation_flagged_not_nan():
    bench = _closed_loop_bench()
    bench.gas_ip_a = 20e-3
    bench.run_for(1.5)
    st = bench.ctl.status()
    assert st.saturation == +1
    assert st.lambda_value == LAMBDA_MAX and math.isfinite(st.o2_pct) and st.o2_pct > 20.0
