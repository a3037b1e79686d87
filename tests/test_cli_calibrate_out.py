"""Calibration output is the user's: `calibrate … --out FILE` writes a complete profile (never into
the installed package), `sensor.profile_file` in a settings file points the firmware at it, and a
custom element file works end to end: `calibrate mysensor.toml`, `simulate --element mysensor.toml`."""

from __future__ import annotations

import json
import re
from pathlib import Path

from rig_cli_helpers import main

from lambdarig.controller.profiles import _profile_dir, load_profile

ROOT = Path(__file__).resolve().parents[1]


def custom_element(folder: Path) -> Path:
    """An element file of the user's: the LSU 4.9 under another name."""
    text = (ROOT / "emulator" / "elements" / "lsu49.toml").read_text()
    path = folder / "mysensor.toml"
    path.write_text(re.sub(r'(?m)^name = "lsu49"$', 'name = "mysensor"', text, count=1))
    return path


def test_custom_element_calibrated_to_a_profile_file_and_simulated_with_it(tmp_path, capsys, monkeypatch):
    package_profiles = {p.name: p.read_bytes() for p in Path(_profile_dir()).glob("*.toml")}
    element = custom_element(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["calibrate", "mysensor.toml", "--out", "mysensor-profile.toml", "--quiet", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    profile = load_profile(str(tmp_path / "mysensor-profile.toml"))
    assert profile.name == "mysensor" and profile.calibrated and profile.ip_air_a == result["ip_air_a"]
    # the settings key, relative to the settings file's folder
    (tmp_path / "s.toml").write_text('[sensor]\nprofile_file = "mysensor-profile.toml"\n')
    monkeypatch.chdir(ROOT)
    assert main(["simulate", "--element", str(element), "--settings", str(tmp_path / "s.toml"), "--duration", "20",
                 "--json", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["element"] == "mysensor" and summary["final_state"] == "stopped"
    assert summary["time_to_ready_s"] < 17 and summary["lambda_error_pct"]["max_settled"] < 0.5
    assert {p.name: p.read_bytes() for p in Path(_profile_dir()).glob("*.toml")} == package_profiles


def test_out_refusals_come_before_the_bench_and_write_nothing(tmp_path, capsys):
    existing = tmp_path / "p.toml"
    existing.write_text("mine\n")
    assert main(["calibrate", "lsu49", "--out", str(existing)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "--force" in err and err.count("\n") == 1
    assert existing.read_text() == "mine\n"
    assert main(["calibrate", "lsu4", "--out", str(tmp_path / "new.toml")]) == 2
    err = capsys.readouterr().err
    assert "ELEMENT" in err and "lsu49" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.toml"]


def test_a_profile_file_that_is_not_there_is_bad_input(tmp_path, capsys):
    (tmp_path / "s.toml").write_text('[sensor]\nprofile_file = "missing.toml"\n')
    assert main(["simulate", "--settings", str(tmp_path / "s.toml"), "--duration", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "sensor.profile_file" in err and "missing.toml" in err and err.count("\n") == 1


def test_without_a_profile_a_custom_element_names_the_settings_key(tmp_path, capsys):
    element = custom_element(tmp_path)
    assert main(["simulate", "--element", str(element), "--duration", "1", "--quiet"]) == 2
    assert "sensor.profile_file" in capsys.readouterr().err
