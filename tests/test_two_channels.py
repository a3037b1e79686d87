"""Two sensors in one run (issue 13): each channel has its own firmware instance and front end,
driven tick by tick on one virtual clock, with one log (ch0_/ch1_ columns) and a summary block per
channel. Channel i of a run seeded s is exactly the single-sensor run seeded s + i."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lambdarig
from lambdarig.cli import main
from lambdarig.logs import read_metadata

DURATION = ["--duration", "16", "--seed", "5", "--quiet"]


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("two")
    paths = {"two": folder / "two.csv", "seed5": folder / "seed5.csv", "seed6": folder / "seed6.csv"}
    code, out, err = cli("simulate", "--element", "lsu49", "--element", "lsu49", *DURATION, "--json",
                         "--log", str(paths["two"]))
    assert code == 0, err
    paths["summary"] = folder / "summary.json"
    paths["summary"].write_text(out)
    for seed in ("5", "6"):
        code, _, err = cli("simulate", "--duration", "16", "--seed", seed, "--quiet",
                           "--log", str(paths[f"seed{seed}"]))
        assert code == 0, err
    return paths


def test_each_channel_is_the_single_sensor_run_with_its_seed(runs):
    two = pd.read_csv(runs["two"])
    for i, single_name in enumerate(("seed5", "seed6")):
        single = pd.read_csv(runs[single_name])
        assert len(two) == len(single)
        assert np.array_equal(two["t_s"], single["t_s"])
        for name in single.columns[1:]:
            mine, theirs = two[f"ch{i}_{name}"], single[name]
            if mine.dtype.kind in "fiu":
                assert np.array_equal(mine, theirs, equal_nan=True), (i, name)
            else:
                assert mine.fillna("").tolist() == theirs.fillna("").tolist(), (i, name)


def test_summary_has_a_block_per_channel_with_its_index(runs):
    summary = json.loads(runs["summary"].read_text())
    assert [ch["channel_index"] for ch in summary["channels"]] == [0, 1]
    assert [ch["seed"] for ch in summary["channels"]] == [5, 6]
    assert all(ch["final_state"] == "stopped" and ch["time_to_ready_s"] < 16 for ch in summary["channels"])
    assert summary["log"] == str(runs["two"]) and summary["link_lost"] is False


def test_sidecar_names_each_sensor(runs):
    meta = json.loads(runs["two"].with_name("two.csv.json").read_text())
    assert meta["element"] == ["lsu49", "lsu49"]
    assert [(s["channel_index"], s["prefix"], s["seed"]) for s in meta["sensors"]] == [(0, "ch0_", 5), (1, "ch1_", 6)]


@pytest.mark.filterwarnings("ignore:The inplace keyword")   # asammdf 8.8 on pandas 3
def test_two_elements_in_mdf4_and_the_text_summary(tmp_path):
    asammdf = pytest.importorskip("asammdf")
    log = tmp_path / "two.mf4"
    code, out, err = cli("simulate", "--element", "lsu49", "--element", "sealed-ref", "--duration", "4",
                         "--quiet", "--log", str(log))
    assert code == 0, err
    assert out.startswith("channel 0: lsu49") and "\nchannel 1: sealed-ref" in out and f"log {log}" in out
    with asammdf.MDF(log) as mdf:
        df = mdf.to_dataframe()
        meta = read_metadata(mdf)
        assert mdf.get("ch1_temp_c").unit == "degC"
    assert {"ch0_lambda", "ch1_lambda", "ch0_true_lambda", "ch1_heater_saturated"} <= set(df.columns)
    assert [s["element"] for s in meta["sensors"]] == ["lsu49", "sealed-ref"]


def test_run_with_two_front_ends(tmp_path):
    log = tmp_path / "run.csv"
    code, out, err = cli("run", "--hal", "sim:lsu49", "--hal", "sim:sealed-ref", "--duration", "1", "--json",
                         "--log", str(log))
    assert code == 0, err
    summary = json.loads(out)
    assert [(c["channel_index"], c["frontend"]) for c in summary["channels"]] == [(0, "sim:lsu49"),
                                                                                  (1, "sim:sealed-ref")]
    df = pd.read_csv(log)
    assert len(df) == 102 and "ch1_supply_v" in df.columns


def test_api_returns_a_result_per_channel():
    result = lambdarig.simulate(["lsu49", "lsu49"], duration_s=1.0, seed=2)
    assert [r.summary["channel_index"] for r in result.channels] == [0, 1]
    assert len(result.channels[1].samples) == 102
    assert result.samples == result.channels[0].samples


@pytest.mark.parametrize("argv, word", [
    (["--element", "lsu49"] * 5, "--element"),
    (["--element", "lsu49", "--element", "lsu49", "--plot", "{tmp}/no-such-folder/x.png"], "--plot"),
])
def test_what_two_channels_cannot_do_is_refused_before_running(tmp_path, argv, word):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, out, err = cli("simulate", "--duration", "1", "--quiet", *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and word in err
    assert list(tmp_path.iterdir()) == []


def test_a_lost_channel_ends_the_run_for_both_safe_and_exit_3(tmp_path):
    log = tmp_path / "lost.csv"
    code, out, err = cli("simulate", "--element", "lsu49", "--element", "lsu49", "--duration", "4",
                         "--link-loss-s", "2", "--json", "--log", str(log))
    assert code == 3, err
    summary = json.loads(out)
    first, second = summary["channels"]
    assert first["link_lost"] and "channel 0: link lost" in first["message"]
    assert second["final_state"] == "stopped" and not second["link_lost"]
    df = pd.read_csv(log)
    assert df["t_s"].iloc[-1] == pytest.approx(2.0, abs=0.01)
    assert df["ch0_heater_duty"].iloc[-1] == 0 and df["ch1_heater_duty"].iloc[-1] == 0


@pytest.mark.slow
@pytest.mark.usefixtures("no_gc_pauses")   # on the wall clock: see tests/conftest.py
def test_run_with_two_bench_rigs_on_ptys(tmp_path):
    """Two emulated rigs over real ptys (a dual-sensor bench), one log with each rig's serial."""
    import os
    import subprocess
    import sys

    from realtime import STARTUP_S

    from lambdarig.emulator.serial_rig import RigServer

    root = Path(__file__).resolve().parents[1]
    rigs = [RigServer(element=element, flash_path=tmp_path / f"flash{i}.bin", link=tmp_path / f"rig{i}",
                      serial_number=f"LR000{i + 1}", seed=i).start()
            for i, element in enumerate(("lsu49", "sealed-ref"))]
    log = tmp_path / "bench.mf4"
    try:
        # A generous link timeout: a loaded machine's stall is not a lost rig.
        urls = [arg for i in range(2) for arg in ("--hal", f"serial://{tmp_path / f'rig{i}'}?link_timeout_s=1.0")]
        proc = subprocess.run([sys.executable, "-m", "lambdarig", "run", *urls, "--duration", "2", "--json",
                               "--log", str(log)], cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                              capture_output=True, text=True, timeout=STARTUP_S + 60)
    finally:
        for rig in rigs:
            rig.stop()
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert [c["element"] for c in summary["channels"]] == ["lsu49", "sealed-ref"]
    asammdf = pytest.importorskip("asammdf")
    with asammdf.MDF(log) as mdf:
        meta = read_metadata(mdf)
        assert len(mdf.get("ch1_nernst_v").samples) >= 150
    assert [(s["rig_serial"], s["frontend"]["kind"]) for s in meta["sensors"]] == [("LR0001", "serial"),
                                                                                    ("LR0002", "serial")]


def test_settings_once_per_element_in_order(tmp_path):
    """`--settings` once per `--element`: each firmware instance runs its own."""
    files = []
    for element, target_c in (("lsu49", 760.0), ("sealed-ref", 770.0)):
        files.append(tmp_path / f"{element}.toml")
        files[-1].write_text(f'schema_version = 1\n[sensor]\nelement = "{element}"\n'
                             f"[heater]\ntarget_temp_c = {target_c}\n")
    log = tmp_path / "run.csv"
    code, _, err = cli("simulate", "--element", "lsu49", "--element", "sealed-ref", "--settings", str(files[0]),
                       "--settings", str(files[1]), "--duration", "0.2", "--quiet", "--log", str(log))
    assert code == 0, err
    sensors = json.loads(log.with_name("run.csv.json").read_text())["sensors"]
    assert [s["settings"]["heater.target_temp_c"] for s in sensors] == [760.0, 770.0]
    assert [s["settings"]["sensor.element"] for s in sensors] == ["lsu49", "sealed-ref"]


def test_settings_count_must_match_the_sensors(tmp_path):
    code, out, err = cli("simulate", "--element", "lsu49", "--element", "lsu49", "--settings", "a.toml",
                         "--settings", "b.toml", "--settings", "c.toml", "--duration", "1", "--quiet")
    assert code == 2 and err.count("\n") == 1 and "--settings" in err and "3 given for 2 sensors" in err


def test_run_takes_opened_front_ends_and_closes_them():
    from lambdarig.hal.registry import open_frontend
    from lambdarig.hal.types import FrontEndError

    fronts = [open_frontend("sim:lsu49", scenario="default", seed=i) for i in range(2)]
    result = lambdarig.run(fronts, duration_s=0.5)
    assert [r.summary["frontend"] for r in result.channels] == ["sim:lsu49", "sim:lsu49"]
    for fe in fronts:
        with pytest.raises(FrontEndError):
            fe.sample()


@pytest.mark.slow
def test_sigterm_ends_both_channels_safe_and_the_mdf4_log_whole(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from realtime import STARTUP_S

    asammdf = pytest.importorskip("asammdf")
    root = Path(__file__).resolve().parents[1]
    log = tmp_path / "stop.mf4"
    proc = subprocess.Popen([sys.executable, "-m", "lambdarig", "simulate", "--element", "lsu49", "--element",
                             "sealed-ref", "--duration", "3000", "--json", "--log", str(log)], cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + STARTUP_S
        while not log.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(1.0)   # the run is under way
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=STARTUP_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 143, err
    summary = json.loads(out)
    assert summary["interrupted_by"] == "SIGTERM"
    assert [c["final_state"] for c in summary["channels"]] == ["stopped", "stopped"]
    with asammdf.MDF(log) as mdf:
        states = mdf.get("ch1_state").samples
        assert len(states) > 10 and states[-1] == b"stopped"
        assert mdf.get("ch0_heater_duty").samples[-1] == 0.0


def test_a_tick_an_interruption_left_half_taken_is_dropped_from_every_channel():
    """A stop signal between two channels' takes (or a status and its truth) leaves the lists ragged;
    the log's columns stay in step: every channel as many rows as the shortest."""
    from types import SimpleNamespace

    from lambdarig.logs.channels import channels_for, channels_taker

    per_channel = [channels_for(with_truth=True, with_hc=False)] * 2
    taker = channels_taker(per_channel, [0.0, 0.0], [{}, {}])
    names = {c.attr for c in per_channel[0]} | {"lambda_value", "heater_duty", "pump_current_a"}
    status = SimpleNamespace(**{**{name: 0.0 for name in names}, "state": "ramp", "fault": "", "lambda_valid": False})
    truth = SimpleNamespace(lambda_value=1.0, o2_pct=0.0, temp_c=700.0, hc_ppm=0.0)
    taker.take([status, status], [truth, truth])
    taker.takers[0].take(status, truth)          # interrupted before channel 1 took this tick
    columns = taker.columns()
    assert {len(col) for col in columns} == {1}
