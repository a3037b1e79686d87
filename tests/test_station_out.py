"""Where `serve instruments` writes its station file (issue 16, items 7 and 10): a directory, a
missing folder, devices, read-only places, a file that exists, a disk that fills up mid-write:
each a one-line error naming --station-out, exit 2, no traceback, no stray file, nothing
overwritten without --force. And one schema: whatever the emulated station accepts, the station
file it writes is accepted by load_station (the reader `run` uses).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from lambdarig.cli import main
from lambdarig.common.errors import InputError
from lambdarig.emulator.instruments import InstrumentStation
from lambdarig.protocol.instrument_models import MODELS, SUPPLY_MODELS
from lambdarig.protocol.station import StationError, load_station, save_station

REPO = Path(__file__).resolve().parents[1]


def serve(capsys, *options: str) -> tuple[int, str, str]:
    code = main(["serve", "instruments", "--nernst-model", "none", "--duration", "0", *options])
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "--station-out" in lines[0], err
    for word in words:
        assert word in lines[0], err


def test_a_directory_is_refused_without_a_stray_file_beside_it(tmp_path, capsys):
    folder = tmp_path / "out"
    folder.mkdir()
    code, _, err = serve(capsys, "--station-out", str(folder))
    assert_refused(code, err, "is a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]   # no out.tmp beside it
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("target,words", [
    ("{tmp}/missing/station.toml", ("does not exist",)),
    ("/dev/full", ("is a device",)),
    ("/dev/null", ("is a device",)),
    ("/proc/version", ("already exists",)),
    ("/proc/lambdarig-station.toml", ("cannot write",)),
])
def test_places_that_cannot_take_the_file_are_refused(tmp_path, capsys, target, words):
    code, _, err = serve(capsys, "--station-out", target.format(tmp=tmp_path))
    assert_refused(code, err, *words)
    assert not (tmp_path / "missing").exists()


def test_a_read_only_place_is_refused_even_with_force(capsys):
    if not Path("/sys").is_dir():
        pytest.skip("no /sys")
    code, _, err = serve(capsys, "--force", "--station-out", "/sys/lambdarig-station.toml")
    assert_refused(code, err, "cannot write")
    code, _, err = serve(capsys, "--force", "--station-out", "/dev/full")
    assert_refused(code, err, "is a device")


def test_an_existing_file_is_kept_without_force_and_replaced_with_it(tmp_path, capsys):
    out = tmp_path / "station.toml"
    out.write_text("# mine\n")
    code, _, err = serve(capsys, "--station-out", str(out))
    assert_refused(code, err, "already exists", "--force")
    assert out.read_text() == "# mine\n"
    code, stdout, err = serve(capsys, "--station-out", str(out), "--force")
    assert code == 0, err
    assert load_station(out).pump.model == "keithley2400"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["station.toml"]


def test_a_disk_that_fills_up_mid_write_leaves_no_file(tmp_path):
    """RLIMIT_FSIZE makes the write fail part way (EFBIG), as a full disk does (ENOSPC)."""
    out = tmp_path / "station.toml"

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))

    proc = subprocess.run([sys.executable, "-m", "lambdarig", "serve", "instruments", "--nernst-model", "none",
                           "--duration", "0", "--station-out", str(out)],
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                          timeout=60, preexec_fn=small_files)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "--station-out" in proc.stderr and "cannot write" in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []
    assert "outputs off" in proc.stdout


def test_save_station_refuses_like_the_command_line(tmp_path):
    with InstrumentStation("lsu49", "default", seed=0, nernst_model=None) as station:
        station_data = station.as_station()
    with pytest.raises(StationError, match="is a directory"):
        save_station(station_data, tmp_path)
    path = save_station(station_data, tmp_path / "a.toml")
    with pytest.raises(StationError, match="already exists; it is not replaced without overwrite=True"):
        save_station(station_data, path)
    save_station(station_data, path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.toml"]


@pytest.mark.parametrize("model", SUPPLY_MODELS)
def test_every_heater_channel_the_station_takes_gives_a_file_run_reads(tmp_path, model):
    """One schema: a channel the emulated station accepts writes a file load_station accepts; a
    channel the schema refuses is refused by the station already."""
    for channel in range(0, len(MODELS[model].channels) + 2):
        try:
            station = InstrumentStation("lsu49", "default", seed=0, nernst_model=None, heater_model=model,
                                        heater_channel=channel)
        except InputError as exc:
            assert "heater_channel" in str(exc)
            continue
        with station:
            path = station.write_station_file(tmp_path / f"{model}-{channel}.toml")
        assert load_station(path).heater.channel == channel


def test_the_negative_e3631a_output_is_refused_naming_the_option(tmp_path, capsys):
    out = tmp_path / "station.toml"
    code = main(["serve", "instruments", "--heater-model", "keysight_e3631a", "--heater-channel", "3",
                 "--station-out", str(out), "--duration", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "--heater-channel: 3: channel 3 (N25V) is a negative output" in err and "allowed: 1, 2" in err
    assert not out.exists()
