"""The package API: `import lambdarig`, lambdarig.simulate / lambdarig.run and their SessionResult,
the element-mismatch refusal, the README's example, and a minimal third-party front end."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

import lambdarig
from lambdarig import Command, FrontEnd, Sample, SessionResult, Settings
from lambdarig.cli import main
from lambdarig.cli.summary import json_safe
from lambdarig.hal.types import FrontEndError, FrontEndInfo

REPO = Path(__file__).resolve().parents[1]
TIMING_KEYS = ("wall_s", "realtime_factor")   # the only figures of a run that depend on the machine


@pytest.fixture(scope="module")
def short_run() -> SessionResult:
    return lambdarig.simulate("lsu49", scenario="default", duration_s=14.0, seed=3)


# --- import lambdarig -------------------------------------------------------------------------

def test_exports_are_the_documented_names():
    from lambdarig.api import run, simulate
    from lambdarig.controller.core import Controller
    from lambdarig.controller.runtime import ElementMismatch
    from lambdarig.hal.registry import open_frontend
    from lambdarig.result import SessionResult as Result

    assert lambdarig.simulate is simulate and lambdarig.run is run
    assert lambdarig.Controller is Controller and lambdarig.open_frontend is open_frontend
    assert lambdarig.SessionResult is Result and lambdarig.ElementMismatch is ElementMismatch
    assert lambdarig.__version__ == "0.2.0"
    assert set(lambdarig.__all__) <= set(dir(lambdarig))
    with pytest.raises(AttributeError, match="simulate"):
        lambdarig.simulat   # noqa: B018 - a mistyped name gets the nearest ones


def test_importing_a_subpackage_does_not_load_the_firmware():
    """The exports are lazy (PEP 562): the emulator alone loads neither the controller nor the HAL."""
    code = ("import sys, lambdarig, lambdarig.emulator.rig; "
            "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('lambdarig.')}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    loaded = set(eval(out))
    assert "emulator" in loaded and not loaded & {"controller", "hal", "api", "cli", "session"}, loaded


# --- simulate -----------------------------------------------------------------------------------

def test_simulate_summary_is_what_the_command_line_prints(short_run, capsys):
    assert main(["simulate", "--duration", "14", "--seed", "3", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    ours = json_safe(short_run.summary)
    for key in TIMING_KEYS:
        printed.pop(key), ours.pop(key)
    assert ours == printed
    assert short_run.summary["final_state"] == "stopped" and 12.0 < short_run.summary["time_to_ready_s"] < 14.0
    assert not short_run.interrupted and not short_run.link_lost and short_run.warnings == []


def test_samples_are_status_and_truth_rows_on_the_session_clock(short_run):
    rows = short_run.samples
    assert len(rows) == round(14.0 * 100) + 2        # every telemetry tick, and the final emit after stop
    first, last = rows[0], rows[-1]
    assert first["t_s"] == 0.0 and last["t_s"] == pytest.approx(14.0)
    for key in ("state", "lambda_value", "lambda_valid", "temp_c", "pump_current_a", "fault",
                "true_lambda_value", "true_temp_c", "true_o2_pct"):
        assert key in first, key
    valid = [r for r in rows if r["lambda_valid"]]
    assert valid and all(abs(r["lambda_value"] - r["true_lambda_value"]) < 0.01 for r in valid[-50:])
    assert rows is short_run.samples                  # built once


def test_to_dataframe_with_pandas(short_run):
    pandas = pytest.importorskip("pandas")
    frame = short_run.to_dataframe()
    assert isinstance(frame, pandas.DataFrame) and frame.index.name == "t_s"
    assert len(frame) == len(short_run.samples) and "true_lambda_value" in frame.columns


def test_to_dataframe_without_pandas_names_the_install(short_run, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)   # import pandas now fails
    with pytest.raises(ImportError, match="pip install pandas"):
        short_run.to_dataframe()


def test_settings_as_changes_a_file_or_an_object(tmp_path):
    warmer = lambdarig.simulate(duration_s=20.0, seed=1, settings={"heater.target_temp_c": 800.0})
    closed = [r["temp_c"] for r in warmer.samples if r["state"] == "closed_loop"]
    assert closed and abs(closed[-1] - 800.0) < 5.0
    path = tmp_path / "s.toml"
    path.write_text("[heater]\ntarget_temp_c = 760.0\n")
    cooler = lambdarig.simulate(duration_s=16.0, seed=1, settings=path, keep_samples=False)
    assert cooler.samples == [] and cooler.summary["final_state"] == "stopped"
    assert lambdarig.simulate(duration_s=1.0, settings=Settings()).summary["element"] == "lsu49"


def test_sinks_and_should_stop():
    seen = []

    def sink(status, truth):
        seen.append((status.state, truth.lambda_value))

    result = lambdarig.simulate(duration_s=30.0, sinks=[sink], should_stop=lambda: len(seen) >= 200)
    assert result.summary["message"] == "stopped on request" and result.summary["sim_s"] == pytest.approx(1.99)
    assert len(seen) == 201                            # 200, then the final emit


@pytest.mark.parametrize("kwargs, argument, needle", [
    ({"duration_s": -1.0}, "duration_s", "0.1 to 86400 s"),
    ({"duration_s": "ten"}, "duration_s", "must be a number"),
    ({"settings": 42}, "settings", "a Settings, a settings .toml path"),
    ({"settings": {"heater.target_temp": 800.0}}, "lambdarig.simulate() settings: heater.target_temp",
     "unknown setting"),
    ({"element": ""}, "element", "needs an element name"),
    ({"element": "no-such-element"}, "element", "lsu49"),
    ({"link_loss_s": math.nan}, "link_loss_s", "must be a number"),
])
def test_bad_simulate_input_names_the_argument(kwargs, argument, needle):
    with pytest.raises(ValueError) as info:
        lambdarig.simulate(**kwargs)
    text = str(info.value)
    assert argument in text and needle in text, text


def test_bad_output_folder_is_refused_before_running(tmp_path):
    with pytest.raises(ValueError, match=r"lambdarig.simulate\(\): log: folder .* does not exist"):
        lambdarig.simulate(duration_s=1.0, log=tmp_path / "nope" / "run.csv")


# --- element mismatch ---------------------------------------------------------------------------

def test_default_settings_on_a_sealed_ref_are_refused_naming_both_and_the_fix():
    """The issue's case: Controller(Settings()) on sim:sealed-ref ran the LSU 4.9 profile silently."""
    with pytest.raises(lambdarig.ElementMismatch) as info:
        lambdarig.run("sim:sealed-ref", settings=Settings(), duration_s=1.0)
    text = str(info.value)
    assert "'sealed-ref'" in text and "'lsu49'" in text and "sensor.element = 'sealed-ref'" in text
    assert info.value.element == "sealed-ref" and info.value.configured == "lsu49"
    with pytest.raises(lambdarig.ElementMismatch):
        lambdarig.simulate("sealed-ref", settings=Settings(), duration_s=1.0)
    # The defaults follow the front end's element: no mismatch there.
    assert lambdarig.run("sim:sealed-ref", duration_s=1.0).summary["element"] == "sealed-ref"


def test_forced_mismatch_runs_with_a_warning():
    with pytest.warns(RuntimeWarning, match="runs the 'lsu49' profile"):
        result = lambdarig.run("sim:sealed-ref", settings=Settings(), duration_s=1.0, force_element=True)
    assert result.summary["final_state"] == "stopped" and "lsu49" in result.warnings[0]


def test_refused_front_end_is_closed():
    frontend = lambdarig.open_frontend("sim:outer-ref")
    with pytest.raises(lambdarig.ElementMismatch):
        lambdarig.run(frontend, settings=Settings(), duration_s=1.0)
    with pytest.raises(FrontEndError, match="closed"):
        frontend.sample()


# --- run ----------------------------------------------------------------------------------------

def test_run_on_a_sim_url_logs_what_it_uses(caplog):
    with caplog.at_level("INFO", logger="lambdarig"):
        result = lambdarig.run("sim:lsu49?seed=2", duration_s=2.0)
    assert "sim:lsu49?seed=2 (sim), settings from defaults" in caplog.text
    assert result.summary["frontend"] == "sim:lsu49?seed=2" and result.summary["element"] == "lsu49"
    assert result.samples[-1]["t_s"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="reconnect_s"):
        lambdarig.run("sim:lsu49", reconnect_s=-1.0)
    with pytest.raises(FrontEndError, match="unknown front-end scheme 'nope'"):
        lambdarig.run("nope:thing", duration_s=1.0)


class BareFrontEnd(FrontEnd):
    """A third-party front end with nothing but the required methods: a perfect pump driver, a
    first-order thermal cell, a heater whose resistance grows with temperature. Every optional
    ability (truth, stored settings, reconnect, log header, scenario duration) keeps its default."""

    def __init__(self):
        self.t_s = 0.0
        self.temp_c = 20.0
        self.command = Command()
        self.closed = False

    def sample(self) -> Sample:
        ri_ohm = 300.0 * math.exp(4.0 * (780.0 - self.temp_c) / 780.0)
        heater_v = 13.5 * math.sqrt(self.command.heater_duty)
        return Sample(self.t_s, 0.45, self.command.pump_current_a, ri_ohm, heater_v, heater_v / 3.2, 13.5)

    def apply(self, command: Command) -> None:
        self.command = Command(command.pump_current_a, command.heater_duty, command.excitation)

    def wait_until(self, t_s: float) -> bool:
        dt = t_s - self.t_s
        heater_v = 13.5 * math.sqrt(self.command.heater_duty)
        self.temp_c += (20.0 + 760.0 * (heater_v / 7.5) ** 2 - self.temp_c) * dt / 8.0
        self.t_s = t_s
        return True

    def now(self) -> float:
        return self.t_s

    def safe(self) -> None:
        self.command = Command(0.0, 0.0, True)

    def info(self) -> FrontEndInfo:
        return FrontEndInfo(kind="bare", name="bare:test", virtual_time=True)

    def close(self) -> None:
        self.safe()
        self.closed = True


def test_a_minimal_front_end_runs_through_the_api_with_the_interface_defaults():
    frontend = BareFrontEnd()
    assert frontend.truth() is None and frontend.stored_settings_image() is None
    assert not frontend.can_reconnect and frontend.scenario_duration_s() is None and frontend.log_header_lines() == []
    with pytest.raises(FrontEndError, match="cannot reconnect"):
        frontend.reconnect(1.0)
    result = lambdarig.run(frontend, duration_s=3.0)
    assert frontend.closed and frontend.command.heater_duty == 0.0
    assert result.summary["frontend"] == "bare:test" and result.summary["lambda_error_pct"] is None
    assert "true_lambda_value" not in result.samples[-1]
    assert any(r["heater_duty"] > 0.0 for r in result.samples)


# --- the README -----------------------------------------------------------------------------------

def test_the_readme_python_example_runs(capsys):
    section = (REPO / "README.md").read_text().split("## Use from Python", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "README.md (Use from Python)", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["13.852", "stopped"]   # 5 s condensation (issue 11)
    assert out[-1] == "cell at 800 °C"
