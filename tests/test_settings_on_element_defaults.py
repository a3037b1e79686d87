"""A settings file is a list of changes, like a dict of changes: both start from the defaults of the
element they name (sensor.element), else of the element being run. Found by a new user: a file that
did not name the element was refused on sealed-ref, and a file naming hc-mixed silently ran the
LSU 4.9 defaults for everything it did not list."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lambdarig.choose_settings import settings_for_simulation
from lambdarig.cli.summary import EXIT_USAGE
from lambdarig.controller.profiles import settings_for_element
from lambdarig.controller.settings import SettingsError
from lambdarig.inputs import Caller

CALLER = Caller("test", {"settings": "--settings"})


def test_a_file_that_names_no_element_starts_from_the_run_elements_defaults(tmp_path):
    path = tmp_path / "warm.toml"
    path.write_text("[heater]\ntarget_temp_c = 660.0\n")
    settings = settings_for_simulation(str(path), "sealed-ref", CALLER)
    expected = settings_for_element("sealed-ref", {"heater.target_temp_c": 660.0})
    assert settings.as_dict() == expected.as_dict()


def test_a_file_and_a_dict_with_the_same_changes_give_the_same_settings(tmp_path):
    path = tmp_path / "hc.toml"
    path.write_text('[sensor]\nelement = "hc-mixed"\n[pump]\nki_a_per_v_s = 60.0\n')
    from_file = settings_for_simulation(str(path), "lsu49", CALLER)
    from_dict = settings_for_simulation({"sensor.element": "hc-mixed", "pump.ki_a_per_v_s": 60.0}, "lsu49", CALLER)
    assert from_file.as_dict() == from_dict.as_dict()
    assert from_file.heater.target_temp_c == settings_for_element("hc-mixed").heater.target_temp_c != 780.0


def test_a_nested_dict_is_refused_naming_the_dotted_form():
    with pytest.raises(SettingsError) as caught:
        settings_for_simulation({"heater": {"target_temp_c": 800.0}}, "lsu49", CALLER)
    assert caught.value.field == "heater" and "heater.target_temp_c" in caught.value.suggestions
    assert "section.key" in str(caught.value)


def test_simulate_runs_a_sealed_ref_with_a_file_that_names_no_element(tmp_path):
    path = tmp_path / "warm.toml"
    path.write_text("[heater]\ntarget_temp_c = 660.0\n")
    proc = subprocess.run([sys.executable, "-m", "lambdarig", "simulate", "--element", "sealed-ref",
                           "--settings", str(path), "--duration", "2", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    other = tmp_path / "lsu.toml"
    other.write_text('[sensor]\nelement = "lsu49"\n')
    proc = subprocess.run([sys.executable, "-m", "lambdarig", "simulate", "--element", "sealed-ref",
                           "--settings", str(other), "--duration", "2"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_USAGE and "Traceback" not in proc.stderr
    assert "leave it out" in proc.stderr and "--force-element" in proc.stderr
    assert "simulate --element lsu49" in proc.stderr   # the likely fix: emulate what the file is for
