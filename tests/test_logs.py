"""Run logs (issue 13): the `--log` suffix picks CSV, MDF4 or MegaLogViewer .msl; all carry the same
channels; the CSV reads with a bare pandas.read_csv and has its metadata in run.csv.json; the MDF4
log reads back with asammdf equal to the CSV, with units, comments and the metadata in its header."""

from __future__ import annotations

import contextlib
import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lambdarig.cli import main
from lambdarig.logs import CHANNELS, channels_for, read_metadata

asammdf = pytest.importorskip("asammdf")

RUN = ["simulate", "--duration", "18", "--seed", "3", "--quiet"]   # warm-up into closed loop ~14 s
NUMERIC = [c.name for c in channels_for(True, False) if c.fmt != "s"]


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> dict[str, Path]:
    """The same seeded run logged as CSV, MDF4 and .msl (virtual time: the three runs are identical)."""
    folder = tmp_path_factory.mktemp("logs")
    paths = {}
    for suffix in (".csv", ".mf4", ".msl"):
        path = folder / f"run{suffix}"
        code, _, err = run_cli(*RUN, "--log", str(path))
        assert code == 0, err
        paths[suffix] = path
    return paths


def test_csv_reads_with_bare_pandas_numeric_columns_and_flags(logs):
    df = pd.read_csv(logs[".csv"])
    assert list(df.columns) == [c.name for c in channels_for(with_truth=True, with_hc=False)]
    for name in NUMERIC:
        assert pd.api.types.is_numeric_dtype(df[name]), name
    assert set(df["lambda_valid"]) == {0, 1}
    assert set(df["pump_saturation"]) <= {-1, 0, 1} and set(df["heater_saturated"]) <= {0, 1}
    valid = df[df["lambda_valid"] == 1]
    assert len(valid) > 200 and valid["lambda"].notna().all() and set(valid["state"]) <= {"ramp", "closed_loop"}
    assert (valid["lambda"] - valid["true_lambda"]).abs().max() < 0.02
    # Heating at the continuous cap during the ramp is the heater at its limit.
    assert df.loc[df["heater_saturated"] == 1, "heater_v"].min() >= 12.0 - 1e-9


def test_csv_sidecar_has_the_run_metadata(logs):
    meta = json.loads(logs[".csv"].with_name("run.csv.json").read_text())
    assert meta["element"] == "lsu49" and meta["format"] == "csv"
    assert meta["frontend"]["name"] == "sim:lsu49" and meta["frontend"]["kind"] == "sim"
    assert meta["settings"]["heater.target_temp_c"] == 780.0
    assert meta["seed"] == 3 and meta["scenario"] == "default"
    assert meta["lambdarig_version"]
    start = datetime.fromisoformat(meta["start_utc"])
    assert start.utcoffset() == timedelta(0) and abs(datetime.now(UTC) - start) < timedelta(minutes=10)
    assert [c["name"] for c in meta["channels"]] == list(pd.read_csv(logs[".csv"]).columns)
    assert all({"unit", "comment"} <= set(c) for c in meta["channels"])
    assert meta["rows"] == len(pd.read_csv(logs[".csv"])) and datetime.fromisoformat(meta["end_utc"]) >= start


@pytest.mark.filterwarnings("ignore:The inplace keyword")   # asammdf 8.8 on pandas 3
def test_mdf4_reads_back_equal_to_the_csv_with_units(logs):
    csv = pd.read_csv(logs[".csv"], keep_default_na=False, na_values=[""])
    with asammdf.MDF(logs[".mf4"]) as mdf:
        assert mdf.version == "4.10"
        df = mdf.to_dataframe()
        for c in channels_for(with_truth=True, with_hc=False)[1:]:
            signal = mdf.get(c.name)
            assert signal.unit == c.unit and signal.comment == c.comment, c.name
        meta = read_metadata(mdf)
        start = mdf.header.start_time
        assert (mdf.header.author, mdf.header.subject) == ("lambdarig", "lsu49")
        props = ET.fromstring(mdf.header.comment).find("common_properties")
        assert {e.get("name"): e.text for e in props.findall("e")}["frontend"] == "sim:lsu49 (sim)"
        assert {e.get("name"): e.text for e in props.find("tree").findall("e")}["heater.target_temp_c"] == "780.0"
        samples = {c.name: mdf.get(c.name, raw=False).samples for c in channels_for(True, False)[1:]}
    # The run's last row (the state it ended in) repeats the last tick's time; to_dataframe() keeps one
    # row per time, the last. Every row is in the file: each channel's samples are the CSV's column.
    assert len(samples["lambda"]) == len(csv) and len(df) == len(csv) - 1
    assert np.allclose(df.index.to_numpy(), csv["t_s"][:-1].to_numpy(), rtol=0, atol=0.5e-4)
    last_per_time = csv.drop_duplicates("t_s", keep="last").reset_index(drop=True)
    for c in channels_for(with_truth=True, with_hc=False)[1:]:
        for mine, theirs in ((df[c.name].to_numpy(), last_per_time[c.name].to_numpy()),
                             (samples[c.name], csv[c.name].to_numpy())):
            _assert_same(c, mine, theirs)
    assert meta["element"] == "lsu49" and meta["settings"]["heater.target_temp_c"] == 780.0
    # closed normally: the row count and the close time, as in the CSV's sidecar
    assert meta["rows"] == len(csv) and datetime.fromisoformat(meta["end_utc"]) >= start
    assert start.utcoffset() == timedelta(0)
    assert abs(start - datetime.fromisoformat(meta["start_utc"])) < timedelta(seconds=1)


def _assert_same(c, mine, theirs) -> None:
    if c.fmt == "s":
        assert [v.decode() for v in mine] == ["" if isinstance(v, float) else v for v in theirs], c.name
        return
    # Within what the CSV prints: 5 decimals (lambda), 6 significant digits (the rest); NaN and inf
    # where the CSV has an empty field and "inf".
    atol = 0.5e-5 if c.fmt == "l" else 0.0
    assert np.allclose(mine, theirs.astype(float), rtol=5e-6, atol=atol, equal_nan=True), c.name


def test_msl_has_megalogviewer_header_and_the_same_values(logs):
    lines = logs[".msl"].read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith('"lambdarig ') and lines[0].endswith('"')
    assert lines[1].startswith('"Capture Date: ') and lines[1].endswith('"')
    names, units = lines[2].split("\t"), lines[3].split("\t")
    assert names[0] == "Time" and units[0] == "s" and len(names) == len(units)
    assert units[names.index("temp_c")] == "degC" and units[names.index("pump_current_a")] == "A"
    df = pd.read_csv(logs[".msl"], sep="\t", skiprows=[0, 1, 3])
    csv = pd.read_csv(logs[".csv"])
    assert len(df) == len(csv)
    assert np.array_equal(df["Time"], csv["t_s"])
    for name in NUMERIC[1:]:
        assert np.array_equal(df[name], csv[name], equal_nan=True), name
    assert df["state_code"].dtype.kind == "i" and (df["state"] == csv["state"]).all()
    assert json.loads(logs[".msl"].with_name("run.msl.json").read_text())["format"] == "msl"


@pytest.mark.parametrize("name, hint", [("run.cvs", "did you mean '.csv'"), ("run", "no suffix"),
                                        ("run.mf5", "'.mf4'")])
def test_a_log_suffix_that_is_no_format_is_refused_before_running(tmp_path, name, hint):
    code, out, err = run_cli("simulate", "--duration", "1", "--quiet", "--log", str(tmp_path / name))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "--log" in err and hint in err
    assert ".csv, .mf4, .mdf, .msl" in err
    assert list(tmp_path.iterdir()) == []


def test_mdf_suffix_writes_mdf4_under_that_name(tmp_path):
    path = tmp_path / "run.mdf"
    code, _, err = run_cli("simulate", "--duration", "0.5", "--quiet", "--log", str(path))
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.mdf"]   # no temporary file left, no sidecar
    with asammdf.MDF(path) as mdf:
        assert len(mdf.get("lambda").samples) == 52   # 0.5 s at 100 Hz, both ends, and the final row


def test_every_channel_has_a_unit_field_and_comment_and_unique_name():
    names = [c.name for c in CHANNELS]
    assert len(names) == len(set(names))
    assert all(c.comment and c.fmt in "tlgis" and c.source in ("status", "truth", "derived") for c in CHANNELS)


LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
from lambdarig.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("suffix", [".mf4", ".msl"])
def test_a_full_disk_ends_the_run_with_one_line_for_every_format(tmp_path, suffix):
    """The file may grow to 64 KiB (RLIMIT_FSIZE, as a full disk): one error line, exit 1."""
    import os
    import subprocess
    import sys

    log = tmp_path / f"run{suffix}"
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", LIMITED, "simulate", "--duration", "60", "--log", str(log),
                           "--quiet"], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"lambdarig: error: cannot write the log {log}: File too large; outputs made safe, run ended"]
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]   # no temporary file left


def test_mdf4_without_asammdf_is_refused_before_running_with_the_install_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "asammdf", None)   # as if not installed: import fails
    code, out, err = run_cli("simulate", "--duration", "1", "--quiet", "--log", str(tmp_path / "run.mf4"))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "--log" in err and "pip install 'lambdarig[mdf]'" in err
    assert list(tmp_path.iterdir()) == []


def test_a_sidecar_place_that_takes_no_file_is_refused_before_running(tmp_path):
    (tmp_path / "run.csv.json").mkdir()
    code, out, err = run_cli("simulate", "--duration", "1", "--quiet", "--log", str(tmp_path / "run.csv"))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "--log" in err and "run.csv.json is a folder" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.csv.json"]


def test_the_log_says_cold_and_air_not_the_firmware_placeholders(tmp_path):
    """No -40 °C while the cell is too cold for the estimate (an empty field), and free air is lambda
    inf, not the conversion's ceiling of 50 (issue 14, honest output)."""
    path = tmp_path / "air.csv"
    code, _, err = run_cli("simulate", "--scenario", "free-air", "--duration", "25", "--seed", "1", "--quiet",
                           "--log", str(path))
    assert code == 0, err
    df = pd.read_csv(path)
    cold = df[df["state"].isin(["wait_supply", "condensation"])]
    assert len(cold) > 100 and cold["temp_c"].isna().all()
    assert (df["temp_c"].dropna() > -40).all()
    air = df[df["lambda_valid"] == 1]
    assert len(air) > 100 and np.isinf(air["lambda"]).all() and (air["o2_pct"] > 20).all()
    assert np.isinf(air["afr"]).all()   # the AFR says air where lambda does (not 728)


def test_the_ramp_shows_no_extrapolated_temperature_below_the_esr_table(tmp_path):
    """Early in the ramp the firmware's estimate is the ESR table's last segment extrapolated (-38 °C
    at a true 300 °C): the log leaves it empty until the cell reaches the table (500 °C for the
    LSU 4.9), in every format."""
    from lambdarig.controller.profiles import load_profile

    floor_c = min(load_profile("lsu49").esr_temp_c)
    frames = {}
    for suffix in (".csv", ".msl"):
        path = tmp_path / f"ramp{suffix}"
        code, _, err = run_cli(*RUN, "--log", str(path))
        assert code == 0, err
        frames[suffix] = (pd.read_csv(path) if suffix == ".csv" else
                          pd.read_csv(path, sep="\t", skiprows=[0, 1, 3]))
    df = frames[".csv"]
    ramp = df[df["state"] == "ramp"]
    shown = ramp["temp_c"].dropna()
    assert len(shown) > 50 and shown.min() >= floor_c
    first = df["temp_c"].first_valid_index()
    assert df["true_temp_c"][first] > floor_c - 50            # shown once the cell is that warm, not before
    assert ramp["temp_c"].isna().sum() > 100                   # the extrapolated stretch of the ramp: empty
    assert np.array_equal(frames[".msl"]["temp_c"], df["temp_c"], equal_nan=True)


def test_statistics_over_a_run_with_free_air_as_the_docs_say(tmp_path):
    """Free air stays `inf` in the log (honest: lambda has no finite value there; the MDF4 and .msl
    logs carry the same, tested above). pandas' describe() of such a column warns and gives mean inf,
    std NaN; the recipe docs/simulate.md gives describes the exhaust without a warning, and keeps the
    air rows in the O2 columns."""
    import warnings

    path = tmp_path / "default.csv"
    code, _, err = run_cli("simulate", "--seed", "0", "--quiet", "--log", str(path))   # air 53..57 s
    assert code == 0, err
    df = pd.read_csv(path)
    air = np.isinf(df["true_lambda"])
    assert air.sum() > 300 and np.isinf(df["lambda"]).sum() > 300
    with pytest.warns(RuntimeWarning):
        raw = df[["lambda", "true_lambda"]].describe()
    assert np.isinf(raw.loc["mean", "true_lambda"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stats = df.replace([np.inf, -np.inf], np.nan).describe()   # the recipe in docs/simulate.md
    assert np.isfinite(stats.loc[["mean", "std", "max"], ["lambda", "true_lambda"]].to_numpy()).all()
    assert stats.loc["count", "true_lambda"] == len(df) - air.sum()
    assert stats.loc["count", "true_o2_pct"] == len(df)
    assert "df.replace([np.inf, -np.inf], np.nan).describe()" in (
        Path(__file__).parents[1] / "docs" / "simulate.md").read_text(encoding="utf-8")


def test_the_last_row_shows_the_analog_outputs_at_their_invalid_level_once_stopped(logs):
    """The run ends STOPPED with every output safe: the log's last row says the analog outputs are at
    analog.outN_invalid_v (0 V by default), not the last reading's voltage the row before held."""
    df = pd.read_csv(logs[".csv"])
    last, before = df.iloc[-1], df.iloc[-2]
    assert last["state"] == "stopped" and before["state"] == "closed_loop"
    assert before["analog_out1_v"] > 0.5 and before["analog_out2_v"] > 0.1
    assert last["analog_out1_v"] == 0.0 and last["analog_out2_v"] == 0.0
