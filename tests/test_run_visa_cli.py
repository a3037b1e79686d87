"""`lambdarig run --hal visa:station.toml` end to end: emulated SCPI instruments on 127.0.0.1, real
pyvisa + pyvisa-py, the CLI picks rates the station can hold and makes everything safe at the end."""

from __future__ import annotations

import json
import re

import pytest
from rig_cli_helpers import main

from lambdarig import progress
from lambdarig.emulator.instruments import InstrumentStation

pytestmark = pytest.mark.usefixtures("no_gc_pauses")  # on the wall clock: see tests/conftest.py


@pytest.mark.slow
def test_run_on_an_emulated_station(tmp_path, monkeypatch, capsys):
    station_file = tmp_path / "station.toml"
    log = tmp_path / "run.csv"
    monkeypatch.setattr(progress, "PLAIN_EVERY_S", 0.5)   # a progress line (off a terminal) every 0.5 s
    with InstrumentStation(element="lsu49", scenario="default", seed=0) as station:
        station.write_station_file(station_file, loop_hz=50)
        code = main(["run", "--hal", f"visa:{station_file}", "--duration", "3", "--json", "--log", str(log)],
                    monkeypatch)
        truth = station.truth()
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, out
    # The progress counts the run's own seconds (the station's clock starts at 0 when it is opened),
    # not the machine's monotonic clock (the trial saw "100 %, ETA 0 s (18007 of 25 s run)").
    shown = [(int(p), float(d)) for p, d in re.findall(r"lambdarig: (\d+) %, ETA \S+ s \(([\d.]+) of 3\.0 s run\)",
                                                         captured.err)]
    assert len(shown) >= 3, captured.err
    assert all(0 <= done <= 3.2 and abs(pct - 100 * done / 3) <= 5 for pct, done in shown), shown
    assert shown[0][0] < 50, shown
    report = json.loads(out)
    assert report["final_state"] == "stopped" and report["faults"] == []
    lines = log.read_text().splitlines()
    assert lines[0].startswith("t_s,state,lambda")    # pandas.read_csv(log) reads it as it is
    meta = json.loads(log.with_name(log.name + ".json").read_text())
    assert meta["frontend_header"][0].startswith("station:")   # the instruments' settings in force
    assert meta["frontend"]["kind"] == "visa"
    pandas = pytest.importorskip("pandas")
    frame = pandas.read_csv(log)                        # no extra arguments: the "# station" lines are gone
    assert frame["supply_v"].dtype.kind == "f" and set(frame["lambda_valid"]) <= {0, 1}
    # The rates the station can hold: its 50 Hz loop (not the firmware's 500 Hz), one log row per
    # tick, stamped with the time its readings were taken (so a row may sit a little off the
    # schedule). How many ticks a busy machine made late is the machine's (0 idle).
    times = [float(line.split(",", 1)[0]) for line in lines if line[:1].isdigit()]
    steps = sorted(b - a for a, b in zip(times, times[1:-1]))
    assert len(times) >= 3.0 * 50 and abs(steps[len(steps) // 2] - 0.02) < 1e-3, (steps[:3], steps[-3:], len(times))
    assert isinstance(report["late_ticks"], int) and 0 <= report["late_ticks"] <= 3.0 * 50 + 1
    assert truth.temp_c > 60.0                          # the supply really heated the element


@pytest.mark.slow
def test_settings_faster_than_the_station_loop_are_lowered_with_a_warning(tmp_path, monkeypatch, capsys):
    """The trial's item 13: a settings file at the board's 500 Hz ran as is on a 50 Hz station (late
    ticks, never ready) without a word, and the defaults were slowed without a word. Now: the file's
    rates are lowered to the station's loop with a warning naming them; the defaults' adaptation is
    named in the line that says where the settings came from."""
    station_file = tmp_path / "station.toml"
    fast = tmp_path / "fast.toml"
    fast.write_text("schema_version = 1\n[rates]\npump_hz = 500.0\ntelemetry_hz = 100.0\n")
    log = tmp_path / "run.csv"
    with InstrumentStation(element="lsu49", scenario="default", seed=0) as station:
        station.write_station_file(station_file, loop_hz=50)
        url = f"visa:{station_file}"
        assert main(["run", "--hal", url, "--duration", "1", "--settings", str(fast), "--log", str(log)],
                    monkeypatch) == 0
        err = capsys.readouterr().err
        assert main(["run", "--hal", url, "--duration", "0.5"], monkeypatch) == 0
        defaults_err = capsys.readouterr().err
    assert (f"lambdarig: warning: {fast}: the visa front end's loop runs at 50 Hz (loop_hz), so the firmware "
            "cannot tick faster: rates.pump_hz 500 -> 50 Hz, rates.heater_hz 20 -> 10 Hz, rates.telemetry_hz "
            "100 -> 50 Hz") in err
    assert f"settings from {fast} (rates lowered to the 50 Hz loop)" in err
    meta = json.loads(log.with_name(log.name + ".json").read_text())
    assert meta["settings"]["rates.pump_hz"] == 50.0 and meta["settings"]["rates.telemetry_hz"] == 50.0
    assert ("settings from defaults, adapted to the visa front end: rates.pump_hz 500 -> 50 Hz, "
            "rates.heater_hz 20 -> 10 Hz, rates.telemetry_hz 100 -> 50 Hz") in defaults_err
