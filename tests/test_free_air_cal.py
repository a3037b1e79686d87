"""`lambdarig calibrate --free-air --hal URL`: the span calibration of a real sensor in free air, on
the simulator (a production unit that pumps off nominal, in humid air) and on the emulated bench rig
over a pseudo-terminal (stored in the rig's flash)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

import lambdarig
from lambdarig.cli import main
from lambdarig.controller.free_air import (
    air_o2_fraction,
    expected_air_current_a,
    pressure_constant_kpa,
    saturation_kpa,
)
from lambdarig.controller.settings import load_settings
from lambdarig.emulator.ageing import individual_spec
from lambdarig.emulator.element_spec import load_element
from lambdarig.emulator.production import unit_values
from lambdarig.emulator.serial_rig import RigServer
from lambdarig.hal.rig_link import RigLink

ROOT = Path(__file__).resolve().parents[1]


def rig_stored_settings(path: str):
    """What the rig on `path` has in its settings flash (read over its link)."""
    from lambdarig.cli.flash import read_rig_settings

    link = RigLink(path)
    try:
        return read_rig_settings(link)
    finally:
        link.close()
HUMID_AIR = 'duration_s = 40\nambient_c = 20\nhumidity_pct = 50\nlambda = "air"\ngas_temp_c = 20\nflow_mps = 0\n'


def test_buck_saturation_and_humid_air_o2():
    assert saturation_kpa(20.0) == pytest.approx(2.3389, abs=2e-3)   # Buck: 2.339 kPa at 20 °C
    assert saturation_kpa(0.0) == pytest.approx(0.61121)
    assert 100 * air_o2_fraction(50.0, 20.0) == pytest.approx(20.71, abs=0.01)
    assert expected_air_current_a(2.541e-3, 0.0) == pytest.approx(2.541e-3)
    assert expected_air_current_a(2.541e-3, 50.0) < 0.99 * 2.541e-3


@pytest.fixture
def humid_air(tmp_path) -> str:
    path = tmp_path / "humid-air.toml"
    path.write_text(HUMID_AIR)
    return str(path)


def test_free_air_calibration_on_sim_corrects_an_off_nominal_aged_unit(tmp_path, humid_air, capsys):
    out = tmp_path / "calibrated.toml"
    url = f"sim:lsu49?unit=5&age_h=500&scenario={humid_air}"
    assert main(["calibrate", "--free-air", "--hal", url, "--humidity-pct", "50", "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    settings = load_settings(out)
    assert settings.conversion.span_correction == pytest.approx(result["span_correction"], rel=1e-5)
    assert abs(result["span_correction"] - 1.0) > 0.005            # this unit pumps off nominal
    assert result["o2_expected_pct"] == pytest.approx(20.71, abs=0.01)
    # The calibrated firmware reads the humid air's O2 within ±0.1 %-pt (another run, another seed).
    for stored in (None, str(out)):
        run = lambdarig.simulate("lsu49", scenario=humid_air, seed=9, unit=5, age_h=500, settings=stored)
        rows = [r for r in run.samples if r["lambda_valid"] and r["t_s"] > 30.0]
        error = statistics.fmean(r["o2_pct"] - r["true_o2_pct"] for r in rows)
        if stored is None:
            assert abs(error) > 0.1, error        # uncalibrated: outside
        else:
            assert abs(error) <= 0.1, error


def test_pressure_constant_inverts_the_pressure_law():
    for k in (40.0, 80.0, 130.0, 300.0):
        for p in (50.0, 200.0, 300.0):
            ratio = (p / (k + p)) * ((k + 101.325) / 101.325)
            assert pressure_constant_kpa(ratio, p) == pytest.approx(k, rel=1e-9)
    with pytest.raises(ValueError, match="within 25 kPa"):
        pressure_constant_kpa(1.02, 110.0)                  # too close to 101.325 kPa to tell k
    with pytest.raises(ValueError, match="outside"):
        pressure_constant_kpa(0.95, 200.0)                  # less current at higher pressure: not a sensor law


DRY_AIR_AT = 'duration_s = 40\nambient_c = 20\nhumidity_pct = 0\nlambda = "air"\ngas_temp_c = 20\nflow_mps = 0\n'


@pytest.mark.parametrize("unit", [9, 11])     # pore constants 61.8 and 119.6 kPa (emulator draws), 500 h
def test_free_air_at_a_second_pressure_measures_the_units_pore_constant(tmp_path, capsys, unit):
    """Span in air at 101.325 kPa, then dry air in a 200 kPa chamber: the stored k lands near the unit's
    own (which the firmware never sees), and O2 in air at 130 kPa reads within ±0.1 %-pt with it where
    the profile's assumed 80 kPa does not."""
    ambient, chamber, exhaust = (tmp_path / f"{n}.toml" for n in ("ambient", "chamber", "at130"))
    ambient.write_text(DRY_AIR_AT)
    chamber.write_text(DRY_AIR_AT + "pressure_kpa = 200\n")
    exhaust.write_text(DRY_AIR_AT + "pressure_kpa = 130\n")
    span_file, k_file = tmp_path / "span.toml", tmp_path / "k.toml"
    url = f"sim:lsu49?unit={unit}&age_h=500&scenario="
    assert main(["calibrate", "--free-air", "--hal", url + str(ambient), "--out", str(span_file), "--json"]) == 0
    capsys.readouterr()
    assert main(["calibrate", "--free-air", "--hal", url + str(chamber), "--pressure-kpa", "200",
                 "--settings", str(span_file), "--out", str(k_file), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    stored = load_settings(k_file)
    true_k = unit_values(load_element("lsu49"), unit)["pressure_k_kpa"]
    assert stored.conversion.pressure_k_kpa == pytest.approx(result["pressure_k_kpa"], abs=0.01)
    assert stored.conversion.pressure_k_kpa == pytest.approx(true_k, abs=4.0)
    assert abs(true_k - 80.0) > 15.0
    assert stored.conversion.span_correction == load_settings(span_file).conversion.span_correction
    errors = {}
    for name, settings in (("profile k", span_file), ("unit k", k_file)):
        with_pressure = tmp_path / f"{name.replace(' ', '-')}-130.toml"
        with_pressure.write_text(load_settings(settings).changed(conversion__exhaust_pressure_kpa=130.0).to_toml())
        run = lambdarig.simulate("lsu49", scenario=str(exhaust), seed=3, unit=unit, age_h=500,
                                 settings=str(with_pressure))
        rows = [r for r in run.samples if r["lambda_valid"] and r["t_s"] > 30.0]
        errors[name] = statistics.fmean(r["o2_pct"] - r["true_o2_pct"] for r in rows)
    assert abs(errors["unit k"]) <= 0.1 < abs(errors["profile k"]), errors


def test_free_air_at_a_pressure_too_near_ambient_is_refused(tmp_path, capsys):
    out = tmp_path / "k.toml"
    assert main(["calibrate", "--free-air", "--hal", "sim:lsu49?scenario=free-air", "--pressure-kpa", "110",
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "within 25 kPa" in err and "nothing was stored" in err and not out.exists()


@pytest.mark.parametrize("argv, field", [
    (["--humidity-pct", "150", "--out", "X"], "--humidity-pct"),
    ([], "--out"),                                              # a sim has no settings flash
    (["--out", str(ROOT / "scripts" / "cal.toml")], "--out"),   # never into the package
    (["--duration", "5", "--out", "X"], "--duration"),
    (["--pressure-kpa", "500", "--out", "X"], "--pressure-kpa"),
])
def test_free_air_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, argv, field):
    argv = [a.replace("X", str(tmp_path / "cal.toml")) for a in argv]
    assert main(["calibrate", "--free-air", "--hal", "sim:lsu49?scenario=free-air", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and field in err[0]
    assert not (tmp_path / "cal.toml").exists() and not (ROOT / "scripts" / "cal.toml").exists()


def test_free_air_refuses_a_sensor_that_is_not_in_air(tmp_path, capsys):
    out = tmp_path / "cal.toml"
    assert main(["calibrate", "--free-air", "--hal", "sim:lsu49", "--out", str(out)]) == 1   # lambda ~1
    err = capsys.readouterr().err
    assert "not free air" in err and "nothing was stored" in err and not out.exists()
    assert "?scenario=free-air" in err   # the emulated sensor's way into air is named


def test_free_air_does_not_replace_an_existing_out_file_without_force(tmp_path, capsys):
    out = tmp_path / "cal.toml"
    out.write_text("# my notes\n")
    argv = ["calibrate", "--free-air", "--hal", "sim:lsu49?scenario=free-air", "--out", str(out)]
    assert main(argv) == 2
    assert "--force" in capsys.readouterr().err and out.read_text() == "# my notes\n"
    assert main([*argv, "--force"]) == 0
    assert "span_correction" in out.read_text()


@pytest.mark.slow
@pytest.mark.usefixtures("no_gc_pauses")   # on the wall clock
def test_free_air_calibration_on_the_serial_rig_goes_into_its_flash(tmp_path, humid_air, capsys):
    from lambdarig.emulator.scenario import load_scenario

    spec = individual_spec(load_element("lsu49"), 5, 500.0)
    server = RigServer(element=spec, scenario=load_scenario(humid_air), flash_path=tmp_path / "flash.bin").start()
    fast = tmp_path / "fast.toml"
    fast.write_text("[heater]\ncondensation_s = 1.0\n")   # a short warm-up on the wall clock
    try:
        url = f"serial://{server.path}?link_timeout_s=1.0&watchdog_ms=1000"
        code = main(["calibrate", "--free-air", "--hal", url, "--humidity-pct", "50", "--settings", str(fast),
                     "--duration", "25", "--json"])
        result = json.loads(capsys.readouterr().out)
        assert code == 0 and result["stored_in"].startswith("rig ")
        stored = rig_stored_settings(server.path)
    finally:
        server.stop()
    assert stored.stored and stored.settings.heater.condensation_s == 1.0
    assert stored.settings.conversion.span_correction == pytest.approx(result["span_correction"], rel=1e-5)
    assert abs(result["span_correction"] - 1.0) > 0.005


def test_free_air_shows_progress_off_a_terminal(tmp_path, capsys, monkeypatch):
    """Known-duration work shows % and ETA; off a terminal as plain lines (README, "progress")."""
    monkeypatch.setattr("lambdarig.progress.PLAIN_EVERY_S", 0.0)   # every update: the sim run takes < 1 s
    out = tmp_path / "cal.toml"
    assert main(["calibrate", "--free-air", "--hal", "sim:lsu49?scenario=free-air", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "%, ETA" in err and "of 40 s run" in err, err


@pytest.mark.slow
def test_free_air_stopped_by_a_signal_says_so_stores_nothing_and_exits_128_plus_n(tmp_path):
    """Ctrl-C (here SIGTERM, as a job runner sends) during the measurement: 'interrupted', the exit
    code of the signal, the rig left safe and nothing stored (was: 'never became valid in 40 s', exit 1)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    link = tmp_path / "rig"
    rig = RigServer(flash_path=tmp_path / "flash.bin", link=link, watchdog_ms=0).start()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "lambdarig", "calibrate", "--free-air", "--hal",
                             f"serial://{link}"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not rig.outputs()[1] > 0.0:   # the host is heating
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        pump_a, duty, _ = rig.outputs()
        stored = rig_stored_settings(rig.path)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        rig.stop()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "interrupted (SIGTERM); nothing was stored" in err and "never became valid" not in err
    assert "Traceback" not in err and out == ""
    assert duty == 0.0 and abs(pump_a) < 1e-6
    assert not stored.stored
