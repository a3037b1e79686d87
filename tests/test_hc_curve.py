"""The firmware's HC curve (controller/hc_curve.py): the log-linear form of the mixed-potential
literature, its inversion, its calibration on the gas bench (`lambdarig calibrate hc-mixed`) and the
production spread it is judged on (docs/hc-sensor.md)."""

from __future__ import annotations

import json
import math

import pytest
from hc_calibration import CALIBRATION_UNIT, hc_values

from lambdarig.cli.calibrate import HC_LEVELS_PPM, with_hc_settings
from lambdarig.controller import hc_curve
from lambdarig.controller.profiles import _profile_dir, profile_file_settings, settings_for_element
from lambdarig.emulator.element_spec import load_element
from lambdarig.emulator.production import unit_spec

LINE = {"hc.calibrated": True, "hc.e100_mv": -21.0, "hc.slope_mv_per_decade": -47.0, "hc.e100_temp_mv_per_k": 0.1,
        "hc.slope_temp_mv_per_decade_k": 0.12, "hc.ref_temp_c": 650.0, "hc.min_ppm": 100.0, "hc.max_ppm": 2000.0}


def _hc(values: dict):
    return settings_for_element("hc-mixed", values).hc


def _dv_v(ppm: float, temp_c: float, v=LINE) -> float:
    """A sensor that follows the log-linear form exactly, in V."""
    dt = temp_c - v["hc.ref_temp_c"]
    e100 = v["hc.e100_mv"] + v["hc.e100_temp_mv_per_k"] * dt
    slope = v["hc.slope_mv_per_decade"] + v["hc.slope_temp_mv_per_decade_k"] * dt
    return (e100 + slope * math.log10(ppm / 100.0)) / 1000.0


@pytest.mark.parametrize("temp_c", [620.0, 650.0, 680.0])
@pytest.mark.parametrize("ppm", [60.0, 100.0, 350.0, 2000.0, 5000.0])
def test_a_log_linear_sensor_reads_back_exactly(ppm, temp_c):
    assert hc_curve.hc_ppm(_hc(LINE), _dv_v(ppm, temp_c), temp_c) == pytest.approx(ppm, rel=1e-9)


def test_the_fit_recovers_the_line():
    levels = [100.0, 200.0, 500.0, 1000.0, 2000.0]
    e100, slope = hc_curve.fit_line(levels, [_dv_v(c, 650.0) * 1000.0 for c in levels])
    assert e100 == pytest.approx(-21.0, abs=1e-9) and slope == pytest.approx(-47.0, abs=1e-9)
    with pytest.raises(ValueError, match="two HC levels"):
        hc_curve.fit_line([100.0], [-21.0])


def test_no_calibration_no_reading():
    hc = settings_for_element("hc-mixed").hc   # the profile as shipped: no default curve
    assert hc.calibrated is False
    assert math.isnan(hc_curve.hc_ppm(hc, -0.05, 650.0))
    assert math.isnan(hc_curve.hc_ppm(_hc(LINE), math.nan, 650.0))


def test_below_half_the_calibrated_range_reads_zero():
    hc = _hc(LINE)
    assert hc_curve.hc_ppm(hc, _dv_v(55.0, 650.0), 650.0) == pytest.approx(55.0)   # extrapolated down to 50 ppm
    assert hc_curve.hc_ppm(hc, _dv_v(45.0, 650.0), 650.0) == 0.0
    assert hc_curve.hc_ppm(hc, 0.0, 650.0) == 0.0                                     # no HC at all


def test_a_slope_that_turns_positive_gives_no_reading():
    hc = _hc({**LINE, "hc.slope_temp_mv_per_decade_k": 1.0})   # b(T) = -47 + 1.0 (T - 650): 0 at 697 °C
    assert math.isnan(hc_curve.hc_ppm(hc, -0.02, 700.0))


def test_the_form_is_its_own_not_a_copy_of_the_emulators_law():
    """The emulator's law bends (linear below c0, logarithmic above); the firmware's line fitted over
    100-2000 ppm misreads 50 ppm by tens of percent: the range where the form fails (docs/hc-sensor.md)."""
    def bent(ppm: float) -> float:
        return -48.9 * math.log10(1.0 + ppm / 66.8)   # mV, the emulated element's shape at 650 °C

    e100, slope = hc_curve.fit_line(HC_LEVELS_PPM, [bent(c) for c in HC_LEVELS_PPM])
    hc = _hc({**LINE, "hc.e100_mv": e100, "hc.slope_mv_per_decade": slope, "hc.e100_temp_mv_per_k": 0.0,
              "hc.slope_temp_mv_per_decade_k": 0.0})
    errors = {c: hc_curve.hc_ppm(hc, bent(c) / 1000.0, 650.0) / c - 1.0 for c in (50.0, *HC_LEVELS_PPM)}
    assert all(abs(e) < 0.10 for c, e in errors.items() if c >= 100.0), errors
    assert errors[50.0] > 0.3, errors


def test_calibration_writes_a_curve_that_loads_back(tmp_path):
    values = hc_values()
    assert values["hc.calibrated"] is True
    assert -60.0 < values["hc.slope_mv_per_decade"] < -35.0      # mixed-potential slopes: tens of mV/decade
    assert -30.0 < values["hc.e100_mv"] < -10.0
    assert values["hc.min_ppm"] == HC_LEVELS_PPM[0] and values["hc.max_ppm"] == HC_LEVELS_PPM[-1]
    profile = tmp_path / "hc-profile.toml"
    profile.write_text(with_hc_settings((_profile_dir() / "hc-mixed.toml").read_text(), values))
    assert "hc.calibrated = true" in profile.read_text()
    loaded = profile_file_settings(str(profile))
    assert {k: loaded[k] for k in values} == values
    assert profile_file_settings("") == {} and profile_file_settings(str(tmp_path / "none.toml")) == {}


def test_hc_units_differ_in_their_measuring_cell():
    spec = load_element("hc-mixed")
    assert spec.tolerance is not None and spec.tolerance.sense_slope_factor is not None
    cells = [unit_spec(spec, unit).measuring_cell for unit in range(6)]
    assert unit_spec(spec, None).measuring_cell == spec.measuring_cell
    assert len({c.s_mv_per_decade for c in cells}) == 6 and len({c.c0_ppm for c in cells}) == 6
    assert all(0.91 <= c.s_mv_per_decade / spec.measuring_cell.s_mv_per_decade <= 1.09 for c in cells)
    assert unit_spec(spec, CALIBRATION_UNIT).measuring_cell == cells[CALIBRATION_UNIT]   # reproducible


def test_the_calibrate_command_benches_a_unit_of_the_line(capsys):
    from lambdarig.cli import main

    assert main(["calibrate", "hc-mixed", "--unit", str(CALIBRATION_UNIT), "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out) == hc_values()   # the same bench as the API's
    assert main(["calibrate", "hc-mixed", "--unit", "x", "--quiet"]) == 2
    assert "--unit: 'x' is not a unit number" in capsys.readouterr().err
