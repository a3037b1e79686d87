"""Protection armed in the instruments at open (issue 16, item 1, VISA part): a lab supply has no
watchdog, so what it can enforce by itself (over-voltage and over-current protection) is set from
the station limits when the front end opens, and still holds when the host is gone. Over loopback
TCP against the emulated station, which trips its outputs as the real supplies do.
"""

from __future__ import annotations

import socket
import time

import pytest

pytest.importorskip("pyvisa")
pytest.importorskip("pyvisa_py")

from lambdarig.emulator.instruments import InstrumentStation  # noqa: E402
from lambdarig.hal.types import Command  # noqa: E402
from lambdarig.hal.visa_frontend import VisaFrontEnd  # noqa: E402
from lambdarig.protocol.station import save_station  # noqa: E402


def open_front_end(station, tmp_path, **heater) -> VisaFrontEnd:
    data = station.as_station()
    if heater:
        data = data.changed("heater", **heater)
    path = tmp_path / "station.toml"
    save_station(data, path, overwrite=True)
    return VisaFrontEnd.from_url(f"visa:{path}")


def wired(station) -> dict:
    snap = station.snapshot()["heater"]
    return snap["channels"][snap["wired_channel"] - 1]


def raw(station, role: str, line: str) -> None:
    with socket.create_connection(("127.0.0.1", station.ports[role]), timeout=2) as s:
        s.sendall(line.encode() + b"\n*OPC?\n")
        assert s.recv(16).strip() == b"1"


def test_rigol_ovp_and_ocp_are_armed_from_the_station_limits(tmp_path):
    with InstrumentStation("lsu49", "default", seed=0, nernst_model=None) as station:
        fe = open_front_end(station, tmp_path, voltage_limit_v=12.0, current_limit_a=1.5)
        try:
            channel = wired(station)
            assert channel["ovp"] == pytest.approx(12.6)      # 12 V + 5 %
            assert channel["ocp"] == pytest.approx(1.7)       # 1.5 A + 10 % + 0.05 A
            assert fe.snapshot()["heater"]["settings"]["ovp_v"] == pytest.approx(12.6)
            fe.apply(Command(0.0, 0.5, True))
            time.sleep(0.2)
            assert wired(station)["output"] is True           # normal operation does not trip
            # The host is gone (no safe()); something drives the supply past the station limits: the
            # supply itself switches the heater off.
            raw(station, "heater", ":SOUR1:CURR 3;:SOUR1:VOLT 20")
            deadline = time.monotonic() + 2.0
            while wired(station)["output"] and time.monotonic() < deadline:
                time.sleep(0.01)
            assert wired(station)["output"] is False
        finally:
            fe.close()


def test_keysight_e36312a_ovp_is_set_and_its_ocp_left_off(tmp_path):
    with InstrumentStation("lsu49", "default", seed=0, nernst_model=None, heater_model="keysight_e36312a",
                           heater_channel=2) as station:
        fe = open_front_end(station, tmp_path, voltage_limit_v=13.0, current_limit_a=1.0)
        try:
            channel = wired(station)
            assert channel["ovp"] == pytest.approx(13.65)
            assert channel["ocp"] is None      # it would trip whenever a cold heater runs the channel into CC
            # A cold heater at the current limit (CC) does not trip anything.
            fe.apply(Command(0.0, 1.0, True))
            time.sleep(0.3)
            assert wired(station)["output"] is True
        finally:
            fe.close()
