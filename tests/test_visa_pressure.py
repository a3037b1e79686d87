"""The optional pressure role of a VISA station: a DMM on an exhaust-pressure transducer's output
(volts -> kPa by the station file's scale), polled at PRESSURE_POLL_HZ into Sample.pressure_kpa, and
on to the firmware, against the emulated instruments on loopback TCP."""

from __future__ import annotations

import math
import time

import pytest

pytest.importorskip("pyvisa")
pytest.importorskip("pyvisa_py")

from lambdarig.emulator.instruments import InstrumentStation  # noqa: E402
from lambdarig.emulator.instruments.pressure_transducer import TRANSDUCER_NOISE_KPA  # noqa: E402
from lambdarig.hal.registry import open_frontend  # noqa: E402
from lambdarig.protocol.station import StationError, load_station  # noqa: E402

pytestmark = pytest.mark.usefixtures("no_gc_pauses")  # on the wall clock: see tests/conftest.py

PRESSURE_200 = """name = "200 kPa"
description = "lambda 1.5 at 200 kPa"
duration_s = 30
lambda = 1.5
pressure_kpa = 200
gas_temp_c = 400
flow_mps = 10
"""
WORLD_KPA = 200.0
BOUND_KPA = 8 * TRANSDUCER_NOISE_KPA + 0.01   # 8 sd of the transducer, plus the meter's µV
SAMPLES = 25


def test_pressure_meter_reaches_the_sample_and_the_firmware(tmp_path):
    from lambdarig.controller.core import Controller
    from lambdarig.controller.settings import Settings

    scenario = tmp_path / "p200.toml"
    scenario.write_text(PRESSURE_200)
    with InstrumentStation("lsu49", str(scenario), seed=2, pressure_model="keysight_34465a") as station:
        path = station.write_station_file(tmp_path / "station.toml", loop_hz=50)
        cfg = load_station(path).pressure
        assert cfg is not None and cfg.kpa_per_v == 100.0 and cfg.offset_v == 0.5
        ctl = Controller(Settings())
        with open_frontend(f"visa:{path}") as fe:
            assert fe.info().details["pressure_every"] == 5      # 50 Hz loop, 10 Hz readings
            readings = []
            for _ in range(SAMPLES):
                sample = fe.sample()
                readings.append(sample.pressure_kpa)
                fe.apply(ctl.tick(sample))
                time.sleep(0.002)
    assert all(abs(p - WORLD_KPA) < BOUND_KPA for p in readings), readings
    assert len(set(readings)) >= SAMPLES // 5       # a new reading every 5th sample, held in between
    assert abs(ctl._pressure_kpa - WORLD_KPA) < BOUND_KPA    # the firmware's filtered live pressure


def test_station_without_pressure_role_reports_nan(tmp_path):
    with InstrumentStation("lsu49", "free-air", seed=2) as station:
        path = station.write_station_file(tmp_path / "station.toml", loop_hz=50)
        assert "[pressure]" not in path.read_text()
        with open_frontend(f"visa:{path}") as fe:
            assert math.isnan(fe.sample().pressure_kpa)


def test_pressure_every_is_a_url_option(tmp_path):
    from lambdarig.common.errors import InputError

    with InstrumentStation("lsu49", "free-air", seed=2, pressure_model="keysight_34465a") as station:
        path = station.write_station_file(tmp_path / "station.toml", loop_hz=50)
        with open_frontend(f"visa:{path}?pressure_every=2") as fe:
            assert fe.info().details["pressure_every"] == 2
        with pytest.raises(InputError, match="pressure_every"):
            open_frontend(f"visa:{path}?pressure_every=0")


def test_pressure_scale_is_range_checked(tmp_path):
    with InstrumentStation("lsu49", "free-air", seed=2, pressure_model="keysight_34465a") as station:
        text = station.station_toml()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("kpa_per_v = 100.0", "kpa_per_v = 0.0"))
    with pytest.raises(StationError, match=r"pressure\.kpa_per_v.*1 to 10000"):
        load_station(bad)
