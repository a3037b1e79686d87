"""Progress (% and ETA) of known-duration work, and honest output: "cold"/"air" instead of the
estimate's floor and the conversion's ceiling, no "sim time" for wall-clock runs, and an HC
element's summary saying why it has no lambda."""

from __future__ import annotations

import io
import json
import math
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from rig_cli_helpers import main

from lambdarig.cli.summary import format_summary
from lambdarig.progress import Progress, eta_text
from lambdarig.telemetry import StatusLine

ROOT = Path(__file__).resolve().parents[1]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_off_a_terminal_a_plain_line_every_few_seconds_with_percent_and_eta():
    clock, out = Clock(), io.StringIO()
    progress = Progress(out, 1200.0, clock=clock, tty=False, every_s=5.0)
    for second in range(1, 21):           # 20 s of wall time, 60 simulated seconds per wall second
        clock.now += 1.0
        progress.update(60.0 * second)
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and "\r" not in out.getvalue()
    assert lines[0] == "lambdarig: 25 %, ETA 15 s (300 of 1200 s simulated)"
    assert lines[-1].startswith("lambdarig: 100 %, ETA 0 s")
    progress.finish()
    assert out.getvalue().count("\n") == 4


def test_eta_text():
    assert eta_text(float("inf")) == "ETA --"
    assert eta_text(7.4) == "ETA 7 s"
    assert eta_text(185) == "ETA 3 min 05 s"
    assert eta_text(3720) == "ETA 1 h 02 min"


def test_on_a_terminal_the_progress_is_redrawn_in_place_and_stdout_stays_json():
    master, slave = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "lambdarig", "simulate", "--duration", "80", "--json"],
                            stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:      # EIO: the child closed its end
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    out, _ = proc.communicate(timeout=60)
    os.close(master)
    assert proc.returncode == 0
    assert json.loads(out)["sim_s"] == 80.0
    text = seen.decode()
    assert "\r" in text and " %, ETA " in text and "of 80 s simulated" in text, text


def test_quiet_and_json_off_a_terminal_write_nothing_for_short_work(capsys):
    assert main(["simulate", "--duration", "2", "--json", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and json.loads(captured.out)["sim_s"] == 2.0


def status(**changes):
    values = dict(t_s=1.0, state="ramp", temp_c=700.0, lambda_value=1.0, o2_pct=0.0, fault="")
    return SimpleNamespace(**{**values, **changes})


def test_status_line_says_cold_and_air_instead_of_the_placeholders():
    line = StatusLine.format(status(temp_c=-40.0, lambda_value=50.0, o2_pct=20.9))
    assert " cold " in line and "lambda    air" in line and "-40" not in line and "50.0" not in line
    assert "700 °C" in StatusLine.format(status())


def test_an_hc_element_says_why_it_has_no_lambda(capsys):
    assert main(["simulate", "--element", "hc-mixed", "--duration", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "reads HC (ppm)" in out and "lambda error" not in out
    assert "hc                none: no HC calibration" in out   # the HC curve has no default


def test_a_wall_clock_summary_has_no_sim_time_or_real_time_factor():
    report = {"time_to_ready_s": None, "final_state": "stopped", "events": [], "sim_s": 2.5, "wall_s": 2.5,
              "realtime_factor": 1.0, "message": "", "frontend": "serial:///dev/pts/3", "element": "lsu49",
              "virtual_time": False, "late_ticks": 2, "lambda_error_pct": None, "mode": "wideband"}
    text = format_summary(report)
    assert re.search(r"run time +2\.50 s", text) and "late ticks" in text
    assert "sim time" not in text and "real-time factor" not in text and "wall time" not in text
    assert "sim time" in format_summary({**report, "virtual_time": True})


@pytest.mark.parametrize("quiet", [False, True])
def test_calibrate_reports_progress_off_a_terminal_unless_quiet(quiet, capsys, monkeypatch):
    monkeypatch.setattr("lambdarig.progress.PLAIN_EVERY_S", 0.0)   # every update: the benches take ~1 s
    argv = ["calibrate", "lsu49", "--json"] + (["--quiet"] if quiet else [])
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "ip_air_a" in json.loads(captured.out)
    assert ("%, ETA" in captured.err) is (not quiet)
    assert "of 86 s simulated" in captured.err or quiet


def test_an_hc_run_records_hc_and_the_nernst_target_its_firmware_moves():
    from hc_calibration import hc_values

    import lambdarig
    from lambdarig.telemetry import Recorder

    result = lambdarig.simulate("hc-mixed", scenario="hc-steps", duration_s=30.0, seed=0, settings=hc_values())
    targets = iter([0.010 + 0.001 * i for i in range(len(result.recorded))])
    recorder = Recorder(650.0, 0.45, hc=True, nernst_target=lambda: next(targets), t0_s=result.t0_s)
    for status, truth in result.recorded:
        recorder(status, truth)
    assert len(recorder.hc_meas_ppm) == len(recorder.t_s) == len(recorder.nernst_target_series)
    assert max(recorder.hc_true_ppm) > 0 and any(v == v and v > 0 for v in recorder.hc_meas_ppm)
    assert recorder.nernst_target_series[:2] == [0.010, 0.011]


def test_run_on_sim_without_a_duration_counts_to_the_scenarios_end(capsys, monkeypatch):
    monkeypatch.setattr("lambdarig.progress.PLAIN_EVERY_S", 0.0)
    assert main(["run", "--hal", "sim:lsu49?scenario=free-air", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["sim_s"] == 40.0
    assert "of 40 s simulated)" in captured.err


def test_a_wall_clock_summary_gives_late_ticks_out_of_the_ticks_and_the_last_reading():
    from lambdarig.cli.summary import format_summary

    report = {"element": "lsu49", "frontend": "serial:///dev/x", "time_to_ready_s": 13.75, "final_state": "stopped",
              "events": [], "sim_s": 20.0, "wall_s": 20.0, "realtime_factor": None, "message": "",
              "virtual_time": False, "late_ticks": 233, "ticks": 10001, "lambda_error_pct": None, "mode": "wideband",
              "last_reading": {"t_s": 20.0, "lambda": 1.0031, "o2_pct": 0.0, "temp_c": 780.2, "hc_ppm": math.nan}}
    text = format_summary(report)
    assert "late ticks       233 of 10001 control ticks (2.33 %); the host ran behind its clock" in text
    report["late_ticks"] = 15
    assert "late ticks       15 of 10001 control ticks (0.15 %)\n" in format_summary(report)
    assert "last reading     lambda 1.003, O2 0.00 %, 780 °C at 20.00 s" in text
    report["last_reading"] = {**report["last_reading"], "lambda": math.inf, "o2_pct": 20.9}
    assert "lambda air, O2 20.90 %" in format_summary(report)
    report["last_reading"] = None
    assert "last reading     none: lambda never became valid" in format_summary(report)
