"""`lambdarig simulate`: JSON summary, CSV log, plot, exit codes 0/2/3/130, fault scenario, live status."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from realtime import STARTUP_S

from lambdarig.cli import main
from lambdarig.controller.core import Status
from lambdarig.logs import channels_for
from lambdarig.telemetry import CSV_COLUMNS, TRUTH_COLUMNS, CsvLog, LambdaAccuracy, StatusLine

REPO = Path(__file__).resolve().parents[1]
HEADER = ["t_s", "state", "lambda", "lambda_valid", "o2_pct", "afr", "nernst_v", "pump_current_a", "ri_ohm", "temp_c",
          "heater_v", "heater_duty", "supply_v", "fault", "pump_saturation", "heater_saturated",
          "analog_out1_v", "analog_out2_v",
          "true_lambda", "true_o2_pct", "true_temp_c"]

try:
    import matplotlib  # noqa: F401
    HAVE_MPL = True
except ImportError:
    HAVE_MPL = False


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["simulate", *args])
    return code, out.getvalue(), err.getvalue()


def read_csv(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames), list(reader)


@pytest.fixture(scope="module")
def warm_run(tmp_path_factory):
    """One 18 s run of the default scenario (reaches closed loop ~14 s: 5 s condensation) with log, plot and --json."""
    folder = tmp_path_factory.mktemp("warm")
    log = folder / "run.csv"
    plot = folder / "run.png"
    args = ["--duration", "18", "--log", str(log), "--json"]
    if HAVE_MPL:
        args += ["--plot", str(plot)]
    code, out, err = run_cli(*args)
    return code, out, err, log, plot


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """The whole default scenario (60 s: steps, lean ramp, free air) with a log."""
    log = tmp_path_factory.mktemp("full") / "full.csv"
    code, out, err = run_cli("--log", str(log), "--quiet")
    return code, out, err, log


# --- JSON summary -------------------------------------------------------------------------------

def test_json_is_one_object_with_typed_keys(warm_run):
    code, out, err, log, plot = warm_run
    assert code == 0, err
    assert out.count("\n") == 1  # exactly one JSON line
    data = json.loads(out)
    assert isinstance(data["time_to_ready_s"], float)
    assert isinstance(data["final_state"], str)
    assert isinstance(data["faults"], list)
    assert isinstance(data["events"], list)
    for key in ("sim_s", "wall_s", "realtime_factor"):
        assert isinstance(data[key], (int, float)), key
    assert isinstance(data["message"], str)
    assert data["sim_s"] == pytest.approx(18.0)
    assert data["log"] == str(log)
    if HAVE_MPL:
        assert data["plot"] == str(plot)
    assert data["faults"] == []
    assert data["message"] == ""


def test_default_scenario_ready_within_12_s(warm_run):
    data = json.loads(warm_run[1])
    assert 0 < data["time_to_ready_s"] <= 14.0
    assert data["final_state"] == "stopped"  # a completed run stops the controller (outputs safe)
    acc = data["lambda_error_pct"]
    assert acc["samples"] > 300
    assert acc["median"] < 1.0


def test_no_live_status_line_with_json(warm_run):
    assert "\r" not in warm_run[2]


# --- CSV log ------------------------------------------------------------------------------------

def test_csv_header_and_row_count(warm_run):
    _, _, _, log, _ = warm_run
    header, rows = read_csv(log)
    assert header == HEADER
    assert list(CSV_COLUMNS + TRUTH_COLUMNS) == HEADER
    assert abs(len(rows) - 18 * 100) <= 3  # 100 Hz telemetry (+ the first and the final row)
    assert float(rows[0]["t_s"]) == 0.0
    assert float(rows[-1]["t_s"]) == pytest.approx(18.0)


def test_csv_values_nan_empty_and_closed_loop_tracks_truth(warm_run):
    _, rows = read_csv(warm_run[3])
    first = rows[0]
    assert first["state"] == "wait_supply"
    assert first["lambda"] == "" and first["o2_pct"] == "" and first["afr"] == ""  # pump loop off: NaN
    assert first["true_lambda"] == "1.00000"
    closed = [r for r in rows if r["state"] == "closed_loop" and float(r["t_s"]) >= 16.5]
    assert closed
    for r in closed:
        assert float(r["lambda"]) == pytest.approx(float(r["true_lambda"]), abs=0.01)
        assert float(r["temp_c"]) == pytest.approx(780, abs=25)
        assert float(r["true_temp_c"]) == pytest.approx(780, abs=25)


def test_full_default_run_air_is_inf_and_settled_accuracy(full_run):
    code, out, err, log = full_run
    assert code == 0, err
    assert "time to ready" in out and "lambda error" in out and "real-time factor" in out
    assert err == ""
    _, rows = read_csv(log)
    assert abs(len(rows) - 6000) <= 3
    air = [r for r in rows if r["true_lambda"] == "inf"]
    assert len(air) == pytest.approx(400, abs=3)  # fuel cut 53 s to 57 s
    assert all(float(r["true_o2_pct"]) == pytest.approx(20.95, abs=0.01) for r in air[1:])
    assert all(float(r["lambda"]) > 10 for r in air if float(r["t_s"]) > 54)  # lean limit, not blank
    assert {r["state"] for r in rows} >= {"wait_supply", "condensation", "ramp", "closed_loop", "stopped"}


# --- plot ---------------------------------------------------------------------------------------

@pytest.mark.skipif(not HAVE_MPL, reason="matplotlib not installed (pip install 'lambdarig[plot]')")
def test_plot_is_png(warm_run):
    plot = warm_run[4]
    data = plot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000


def test_plot_without_matplotlib_fails_before_running(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import raises ImportError
    log = tmp_path / "run.csv"
    code, out, err = run_cli("--duration", "1", "--log", str(log), "--plot", str(tmp_path / "p.png"))
    assert code == 2
    assert "pip install 'lambdarig[plot]'" in err
    assert not log.exists()


# --- bad input: exit 2, nothing written -----------------------------------------------------------

def test_bad_settings_file_exit_2_names_field_writes_nothing(tmp_path):
    settings = tmp_path / "bad.toml"
    settings.write_text("[heater]\ntarget_temp_c = 1200\n")
    log = tmp_path / "run.csv"
    code, out, err = run_cli("--settings", str(settings), "--duration", "1", "--log", str(log))
    assert code == 2
    assert out == ""
    assert "heater.target_temp_c" in err
    assert "600 to 900" in err
    assert not log.exists()


def test_unknown_scenario_exit_2(tmp_path):
    log = tmp_path / "run.csv"
    code, out, err = run_cli("--scenario", "no-such-scenario", "--log", str(log))
    assert code == 2
    assert "no-such-scenario" in err and "default" in err  # lists the built-ins
    assert not log.exists()


@pytest.mark.parametrize("args, needle", [
    (["--duration", "0"], "--duration"),
    (["--duration", "1e6"], "--duration"),
    (["--duration", "abc"], "--duration"),
    (["--seed", "-1"], "--seed"),
    (["--link-loss-s", "-2"], "--link-loss-s"),
    (["--element", "no-such-element"], "no-such-element"),
])
def test_bad_options_exit_2(args, needle, tmp_path):
    log = tmp_path / "run.csv"
    code, out, err = run_cli(*args, "--log", str(log))
    assert code == 2
    assert needle in err
    assert not log.exists()


def test_log_folder_missing_exit_2(tmp_path):
    code, out, err = run_cli("--duration", "1", "--log", str(tmp_path / "nope" / "run.csv"))
    assert code == 2
    assert "--log" in err


def test_settings_for_another_element_are_refused_unless_forced(tmp_path):
    """Settings made for outer-ref on the emulated lsu49 would run the wrong profile: refused (exit 2,
    nothing written) naming both elements and the fix; --force-element runs them with a warning."""
    settings = tmp_path / "s.toml"
    settings.write_text('[sensor]\nelement = "outer-ref"\n')
    log = tmp_path / "run.csv"
    code, out, err = run_cli("--settings", str(settings), "--duration", "0.5", "--json", "--log", str(log))
    assert code == 2 and out == ""
    assert "'outer-ref'" in err and "'lsu49'" in err and "sensor.element = 'lsu49'" in err
    assert "Traceback" not in err and not log.exists()
    code, out, err = run_cli("--settings", str(settings), "--duration", "0.5", "--json", "--force-element")
    assert code == 0
    assert "warning" in err and "outer-ref" in err and "lsu49" in err
    json.loads(out)


# --- link loss, faults ----------------------------------------------------------------------------

def test_link_loss_exit_3():
    code, out, err = run_cli("--duration", "20", "--link-loss-s", "13", "--json")
    assert code == 3
    data = json.loads(out)
    assert [f["code"] for f in data["faults"]] == ["link_loss"]
    assert data["faults"][0]["t_s"] == pytest.approx(13.0, abs=0.01)
    assert "link lost" in data["message"]
    assert data["sim_s"] == pytest.approx(13.0, abs=0.01)


def test_link_loss_human_summary():
    code, out, err = run_cli("--duration", "2", "--link-loss-s", "1", "--quiet")
    assert code == 3
    assert "link_loss" in out and "link lost" in out


def test_faults_scenario_each_fault_once():
    code, out, err = run_cli("--scenario", "faults", "--json")
    assert code == 0, err
    data = json.loads(out)
    codes = [f["code"] for f in data["faults"]]
    for fault in ("heater_open", "heater_short", "pump_open", "nernst_open", "supply_out_of_range"):
        assert codes.count(fault) == 1, codes
    assert all(isinstance(f["t_s"], float) for f in data["faults"])


# --- subprocess, Ctrl-C ---------------------------------------------------------------------------

def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_subprocess_json():
    proc = subprocess.run([sys.executable, "-m", "lambdarig", "simulate", "--duration", "16", "--json"],
                          cwd=REPO, env=_env(), capture_output=True, text=True, timeout=STARTUP_S + 60)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["time_to_ready_s"] <= 14.0
    assert data["sim_s"] == pytest.approx(16.0)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_exit_130_with_summary_and_closed_log(tmp_path):
    log = tmp_path / "run.csv"
    proc = subprocess.Popen([sys.executable, "-m", "lambdarig", "simulate", "--duration", "86400", "--json",
                             "--log", str(log)], cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        # Ctrl-C once the run is under way (the log exists only once it has started), however long
        # the start-up takes on a loaded machine
        deadline = time.monotonic() + STARTUP_S
        while (time.monotonic() < deadline and proc.poll() is None
               and (not log.exists() or log.stat().st_size < 20000)):
            time.sleep(0.05)
        assert proc.poll() is None and log.exists() and log.stat().st_size >= 20000, "the run did not start"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=STARTUP_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    data = json.loads(out)
    assert "interrupted" in data["message"]
    assert 0 < data["sim_s"] < 86400
    header, rows = read_csv(log)
    assert header == HEADER
    assert rows and float(rows[-1]["t_s"]) == pytest.approx(data["sim_s"], abs=0.02)


# --- sinks ----------------------------------------------------------------------------------------

def make_status(**changes) -> Status:
    values = dict(t_s=1.5, state="closed_loop", lambda_value=1.0, o2_pct=0.0, afr=14.7, lambda_valid=True,
                  nernst_v=0.45, pump_current_a=0.0, ri_ohm=300.0, temp_c=780.0, heater_v=7.5, heater_duty=0.3,
                  supply_v=13.5, fault="", saturation=0)
    values.update(changes)
    return Status(**values)


class FakeTruth:
    def __init__(self, lambda_value, o2_pct=0.0, temp_c=780.0):
        self.lambda_value = lambda_value
        self.o2_pct = o2_pct
        self.temp_c = temp_c


def test_csvlog_formats_nan_empty_and_inf(tmp_path):
    path = tmp_path / "x.csv"
    with CsvLog(path, channels_for(with_truth=True, with_hc=False)) as log:
        log(make_status(lambda_value=math.nan, o2_pct=math.nan, afr=math.nan, ri_ohm=1234567.0),
            FakeTruth(math.inf, 20.95))
        log(make_status(lambda_value=1.23456789, pump_current_a=-1.234567e-3), None)
    header, rows = read_csv(path)
    assert header == HEADER
    assert rows[0]["lambda"] == "" and rows[0]["o2_pct"] == ""
    assert rows[0]["true_lambda"] == "inf" and rows[0]["true_o2_pct"] == "20.95"
    assert rows[0]["ri_ohm"] == "1.23457e+06"
    assert rows[1]["lambda"] == "1.23457"
    assert rows[1]["pump_current_a"] == "-0.00123457"
    assert rows[1]["true_lambda"] == ""
    log.close()  # idempotent


def test_csvlog_without_truth_has_no_truth_columns(tmp_path):
    path = tmp_path / "x.csv"
    with CsvLog(path, channels_for(with_truth=False, with_hc=False)) as log:
        log(make_status(), None)
    header, rows = read_csv(path)
    assert header == HEADER[:-3]


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_status_line_rate_limited_by_wall_clock():
    now = [0.0]
    stream = FakeTty()
    line = StatusLine(stream, min_interval_s=0.1, clock=lambda: now[0])
    for i in range(100):  # 100 telemetry ticks within 50 ms of wall time: one update
        now[0] = i * 0.0005
        line(make_status(t_s=i * 0.01), None)
    assert stream.getvalue().count("\r") == 1
    now[0] = 0.2
    line(make_status(fault="heater_open", state="fault", lambda_value=math.inf), None)
    text = stream.getvalue()
    assert text.count("\r") == 2
    assert "heater_open" in text and "fault" in text and "air" in text and "°C" in text
    line.finish()
    assert stream.getvalue().endswith("\n")


def test_status_line_silent_on_non_tty():
    stream = io.StringIO()
    line = StatusLine(stream, clock=lambda: 0.0)
    line(make_status(), None)
    line.finish()
    assert stream.getvalue() == ""


def test_lambda_accuracy_skips_invalid_and_air():
    acc = LambdaAccuracy(settle_s=1.0)
    acc(make_status(t_s=0.0, lambda_value=1.1), FakeTruth(1.0))            # 10 %, truth just changed
    acc(make_status(t_s=0.5, lambda_value=5.0, lambda_valid=False), FakeTruth(1.0))  # not valid
    acc(make_status(t_s=1.0, lambda_value=50.0), FakeTruth(math.inf))      # air: no finite truth
    acc(make_status(t_s=3.0, lambda_value=50.0), FakeTruth(math.inf))
    acc(make_status(t_s=4.5, lambda_value=math.inf), FakeTruth(math.inf))
    summary = acc.summary()
    assert summary["samples"] == 1
    assert summary["max"] == pytest.approx(10.0)
    assert summary["max_settled"] is None
    assert LambdaAccuracy().summary() is None


def test_a_scenario_burning_another_fuel_than_the_firmware_is_told_warns(tmp_path):
    """E85 exhaust read with the default gasoline: the run says so (the trial saw it read 0.66 % off
    without a word); told the same fuel, no warning."""
    scenario = tmp_path / "e85.toml"
    scenario.write_text('duration_s = 2.0\nfuel = "e85"\nlambda = 1.0\n')
    code, _, err = run_cli("--scenario", str(scenario), "--quiet")
    assert code == 0
    assert ("the scenario burns e85 but the firmware is told gasoline (conversion.fuel)" in err
            and 'conversion.fuel = "e85"' in err), err
    told = tmp_path / "e85-settings.toml"
    told.write_text('[conversion]\nfuel = "e85"\n')
    code, _, err = run_cli("--scenario", str(scenario), "--settings", str(told), "--quiet")
    assert code == 0 and "burns" not in err, err


def test_the_summary_says_how_the_emulator_ran(tmp_path):
    """"built", or "python: ..." with the reason (an edit since the install, LAMBDARIG_NO_JIT, no build)."""
    env = {**os.environ, "LAMBDARIG_NO_JIT": "1"}
    out = subprocess.run([sys.executable, "-m", "lambdarig.cli", "simulate", "--duration", "0.5", "--json", "--quiet"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, check=True).stdout
    assert json.loads(out)["emulator"] == "python: LAMBDARIG_NO_JIT is set"
    text = subprocess.run([sys.executable, "-m", "lambdarig.cli", "simulate", "--duration", "0.5", "--quiet"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, check=True).stdout
    assert "emulator" in text and "LAMBDARIG_NO_JIT is set" in text
