"""A front end whose readings are all NaN (a dead converter): the firmware reports signal_invalid
within diagnostics.invalid_signal_s with the outputs safe, instead of waiting for supply for the
whole run. On sim:lsu49 in virtual time, and over a real pty against the emulated bench rig."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from controller_helpers import fault_scenario, record_sim_run

from lambdarig.controller.diagnostics import CODES
from lambdarig.controller.settings import Settings
from lambdarig.emulator.serial_rig import RigServer

ROOT = Path(__file__).resolve().parents[1]
LIMIT_S = Settings().diagnostics.invalid_signal_s


def test_nan_from_the_start_is_a_fault_not_an_endless_wait_for_supply():
    run = record_sim_run(fault_scenario([{"t_s": 0.0, "kind": "readings_invalid"}], 20.0), 20.0)
    events = run.controller.events
    assert events and events[0].code == "signal_invalid"
    assert events[0].t_s <= LIMIT_S + 0.1
    assert CODES["signal_invalid"].severity == "fault"
    assert all(a.board_duty == 0.0 and a.board_pump_a == 0.0 for a in run.applied)
    assert run.controller.latched                       # retried, then latched: it never came back
    assert run.board_safe()


def test_nan_while_heating_makes_the_outputs_safe_and_recovers():
    run = record_sim_run(fault_scenario([{"t_s": 15.0, "kind": "readings_invalid", "clear_s": 16.5}], 32.0), 32.0)
    # The NaN supply stops the heater first (the supply check is the faster one), then the cause.
    assert run.codes() == ["supply_out_of_range", "signal_invalid"]
    first, event = run.controller.events
    assert 15.0 <= first.t_s <= event.t_s <= 15.0 + LIMIT_S + 0.1
    after = [a for a in run.applied if event.t_s + 0.01 <= a.t_s < 16.5]
    assert after and all(a.board_duty == 0.0 and a.board_pump_a == 0.0 for a in after)
    # The pump command never carried a NaN to the board.
    assert all(a.board_pump_a == a.board_pump_a for a in run.applied)
    # ... and the filters were not poisoned by the NaN: valid lambda 1.0 again before the end.
    end = [s for s in run.statuses if 30.0 < s.t_s < 32.0]
    assert end and all(s.state == "closed_loop" and s.lambda_valid for s in end)
    assert end[-1].lambda_value == pytest.approx(1.0, abs=0.01)


def test_run_against_a_rig_sending_nan_reports_the_fault(tmp_path):
    scenario = fault_scenario([{"t_s": 0.0, "kind": "readings_invalid"}], 60.0)
    link = tmp_path / "rig"
    rig = RigServer(scenario=scenario, flash_path=tmp_path / "flash.bin", link=link).start()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        proc = subprocess.run([sys.executable, "-m", "lambdarig", "run", "--hal", f"serial://{link}",
                               "--duration", "2", "--json", "--default-settings"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        pump_a, duty, _ = rig.outputs()
    finally:
        rig.stop()
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    codes = [f["code"] for f in report["faults"]]
    assert codes and codes[0] == "signal_invalid", report
    assert report["faults"][0]["t_s"] <= LIMIT_S + 0.3
    assert duty == 0.0 and pump_a == pytest.approx(0.0, abs=1e-6)


# --- the settings schema and `element` agree on which custom fuels burn -----------------------------

@pytest.mark.parametrize(("h_c", "o_c"), [(0.0, 2.0), (0.0, 0.0), (2.0, 1.5), (2.0, 2.0), (1.85, 0.0), (4.0, 2.0)])
def test_settings_and_element_agree_on_custom_fuels(h_c, o_c):
    from lambdarig.cli import main
    from lambdarig.controller.settings import SettingsError

    element_ok = main(["element", "lsu49", "--fuel", f"custom:h_c={h_c},o_c={o_c}", "--json"]) == 0
    try:
        Settings({"conversion.fuel": "custom", "conversion.custom_h_c": h_c, "conversion.custom_o_c": o_c})
        settings_ok = True
    except SettingsError as exc:
        settings_ok = False
        assert exc.field == "conversion.custom_o_c" and "nothing to burn" in str(exc)
    assert settings_ok == element_ok
