"""The optional trim role of a VISA station: a DMM across the sensor's trim resistor, read once at
connect into FrontEndInfo.trim_ohm, against the emulated instruments on loopback TCP. A station
without the role behaves as before (trim NaN, no trim applied)."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("pyvisa")
pytest.importorskip("pyvisa_py")

from lambdarig.emulator.ageing import individual_spec  # noqa: E402
from lambdarig.emulator.element_spec import load_element  # noqa: E402
from lambdarig.emulator.instruments import InstrumentStation  # noqa: E402
from lambdarig.hal.registry import open_frontend  # noqa: E402
from lambdarig.protocol.station import StationError, load_station, station_from_text  # noqa: E402

pytestmark = pytest.mark.usefixtures("no_gc_pauses")  # on the wall clock: see tests/conftest.py

TRIM_TOLERANCE_REL = 1e-4     # the emulated DMM's noise is 10 ppm: 10 sd


def _open(tmp_path, unit, trim_model):
    spec = individual_spec(load_element("lsu49"), unit, 0.0)
    station = InstrumentStation(spec, "free-air", seed=1, trim_model=trim_model).start()
    try:
        path = station.write_station_file(tmp_path / "station.toml", loop_hz=50)
        with open_frontend(f"visa:{path}") as fe:
            info = fe.info()
            sample = fe.sample()
        return spec, load_station(path), info, sample
    finally:
        station.stop()


def test_trim_meter_reads_the_units_trim_resistor(tmp_path):
    spec, station, info, sample = _open(tmp_path, 7, "keysight_34465a")
    assert station.trim is not None and station.trim.model == "keysight_34465a"
    assert spec.trim_ohm is not None
    assert info.trim_ohm == pytest.approx(spec.trim_ohm, rel=TRIM_TOLERANCE_REL)
    assert info.details["snapshot"]["trim"]["settings"]["function"] == "RES"
    assert math.isfinite(sample.pump_current_a)


def test_trim_meter_on_an_element_without_trim_reports_none(tmp_path):
    spec, _station, info, _sample = _open(tmp_path, None, "keysight_34465a")
    assert spec.trim_ohm is None and math.isnan(info.trim_ohm)   # open line: overload, no trim applied


def test_station_without_trim_role_is_unchanged(tmp_path):
    _spec, station, info, _sample = _open(tmp_path, 7, None)
    assert station.trim is None and "trim" not in station.roles()
    assert math.isnan(info.trim_ohm)
    assert "[trim]" not in (tmp_path / "station.toml").read_text()


def test_trim_role_takes_meters_only():
    base = ('[station]\nloop_hz = 50\nsupply_equivalent_v = 13.5\n'
            '[pump]\nmodel = "keithley2400"\nresource = "TCPIP::127.0.0.1::5001::SOCKET"\ncompliance_v = 2.5\n'
            'current_limit_a = 0.01\n'
            '[heater]\nmodel = "rigol_dp832"\nresource = "TCPIP::127.0.0.1::5002::SOCKET"\nchannel = 1\n'
            'voltage_limit_v = 13\ncurrent_limit_a = 3\n')
    ok = station_from_text(base + '[trim]\nmodel = "keysight_34465a"\nresource = "TCPIP::127.0.0.1::5003::SOCKET"\n')
    assert ok.trim is not None and list(ok.roles()) == ["pump", "heater", "trim"]
    with pytest.raises(StationError, match=r"trim\.model.*keysight_34465a"):
        station_from_text(base + '[trim]\nmodel = "keysight_34465"\nresource = "TCPIP::127.0.0.1::5003::SOCKET"\n')
    with pytest.raises(StationError, match=r"trim\.range_ohm: unknown key"):
        station_from_text(base + '[trim]\nmodel = "keysight_34465a"\nresource = "TCPIP::127.0.0.1::5003::SOCKET"\n'
                                 'range_ohm = 100\n')
