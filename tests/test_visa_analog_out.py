"""The optional `analog_out` role of a VISA station: a supply channel driven with the firmware's
analog output 1 (volts), only on change, clamped to the role's voltage limit, 0 V and off when made
safe. Real pyvisa + pyvisa-py against the emulated instruments on loopback TCP (the InstrumentStation
that `lambdarig serve instruments --analog-out-model` runs)."""

from __future__ import annotations

import tomllib

import pytest

pytest.importorskip("pyvisa")
pytest.importorskip("pyvisa_py")

import lambdarig  # noqa: E402
from lambdarig.cli import main  # noqa: E402
from lambdarig.emulator.instruments import InstrumentStation  # noqa: E402
from lambdarig.hal.types import Command  # noqa: E402
from lambdarig.hal.visa_frontend import VisaFrontEnd  # noqa: E402
from lambdarig.protocol.station import StationError, station_from_dict  # noqa: E402

pytestmark = pytest.mark.usefixtures("no_gc_pauses")  # on the wall clock: see tests/conftest.py

BASE = {"station": {"name": "s", "loop_hz": 50.0, "supply_equivalent_v": 13.5},
        "pump": {"model": "keithley2400", "resource": "TCPIP::127.0.0.1::5001::SOCKET", "compliance_v": 2.5,
                 "current_limit_a": 0.01},
        "heater": {"model": "rigol_dp832", "resource": "TCPIP::127.0.0.1::5002::SOCKET", "channel": 1,
                   "voltage_limit_v": 13.0, "current_limit_a": 3.0}}


def with_analog(**table):
    return {**BASE, "analog_out": {"model": "rigol_dp832", "resource": "TCPIP::127.0.0.1::5003::SOCKET",
                                   "channel": 3, **table}}


def test_the_station_file_takes_an_optional_analog_out_supply_channel():
    assert station_from_dict(BASE).analog_out is None
    cfg = station_from_dict(with_analog()).analog_out
    assert cfg is not None and (cfg.channel, cfg.voltage_limit_v) == (3, 5.0)
    assert "analog_out" in station_from_dict(with_analog()).roles()


@pytest.mark.parametrize(("table", "field", "allowed"), [
    ({"model": "keithley2400"}, "analog_out.model", "rigol_dp832"),
    ({"channel": 4}, "analog_out.channel", "1, 2, 3"),
    ({"voltage_limit_v": 6.0}, "analog_out.voltage_limit_v", "5"),
    ({"volts": 1.0}, "analog_out.volts", "voltage_limit_v"),
])
def test_a_bad_analog_out_table_is_refused_naming_the_field(table, field, allowed):
    with pytest.raises(StationError) as raised:
        station_from_dict(with_analog(**table), "st.toml")
    text = str(raised.value)
    assert field in text and allowed in text and "\n" not in text


def test_the_front_end_drives_the_analog_out_channel_only_on_change_and_safe_at_the_end(tmp_path):
    path = tmp_path / "station.toml"
    with InstrumentStation("lsu49", "default", seed=1, analog_out_model="keysight_e36312a") as station:
        station.write_station_file(path)
        analog = station.analog_out
        assert analog is not None and analog.wired_channel.name == "CH2"
        fe = VisaFrontEnd.from_url(f"visa:{path}")
        try:
            driver = fe.drivers["analog_out"]
            sent: list[float] = []
            original = driver.set_voltage

            def counting(volts: float) -> float:
                sent.append(volts)
                return original(volts)

            driver.set_voltage = counting  # type: ignore[method-assign]
            for volts in (1.2344, 1.2344, 1.2341, 2.5, 2.5, 7.0):
                fe.apply(Command(0.0, 0.0, True, analog_out1_v=volts))
            assert sent == [1.234, 2.5, 5.0]            # 1 mV steps, changes only, clamped to 5 V
            assert driver.confirm()                     # *OPC?: the instrument has worked through the writes
            assert analog.output_voltage() == pytest.approx(5.0)
            assert analog.channel_point(analog.wired).current_a == 0.0   # a high-impedance input
            fe.safe()
            assert analog.output_voltage() == 0.0 and not analog.ch[analog.wired].output
            assert fe.safe_confirmed["analog_out"]
            fe.apply(Command(0.0, 0.0, True, analog_out1_v=0.8))        # outputs on again
            assert driver.confirm()
            assert analog.output_voltage() == pytest.approx(0.8)
        finally:
            fe.close()
        assert analog.output_voltage() == 0.0


def test_a_run_on_a_station_with_analog_out_follows_the_firmware(tmp_path):
    path = tmp_path / "station.toml"
    seen: list[tuple[float, float]] = []
    with InstrumentStation("lsu49", "default", seed=1, analog_out_model="rigol_dp832",
                           analog_out_channel=2) as station:
        station.write_station_file(path)
        analog = station.analog_out
        assert analog is not None

        def watch(status, truth=None):   # after each tick's apply (the writes land a little later)
            seen.append((status.analog_out1_v, analog.output_voltage()))

        result = lambdarig.run(f"visa:{path}", settings={"analog.out1_invalid_v": 0.37}, duration_s=1.0,
                               sinks=[watch], progress=lambda text: None)
        assert analog.output_voltage() == 0.0          # safe at the end
    assert result.summary["final_state"] == "stopped"
    assert len(seen) > 10
    assert {round(commanded, 3) for commanded, _ in seen[1:-1]} == {0.37}   # lambda not valid yet: invalid_v
    # The instrument holds 0 until the first write lands, then the firmware's volts.
    driven = {round(v, 3) for _, v in seen}
    assert 0.37 in driven and driven <= {0.0, 0.37}
    assert round(seen[-2][1], 3) == 0.37


def test_serve_instruments_serves_the_analog_out_role(tmp_path, capsys):
    out = tmp_path / "st.toml"
    assert main(["serve", "instruments", "--station-out", str(out), "--analog-out-model", "rigol_dp832",
                 "--analog-out-channel", "3", "--duration", "0.1"]) == 0
    data = tomllib.loads(out.read_text())
    assert data["analog_out"]["model"] == "rigol_dp832" and data["analog_out"]["channel"] == 3
    assert data["analog_out"]["resource"].startswith("TCPIP::127.0.0.1::")
    assert "analog_out" in capsys.readouterr().out
    assert main(["serve", "instruments", "--station-out", str(tmp_path / "x.toml"), "--analog-out-model",
                 "keysight_e3631a", "--analog-out-channel", "3", "--duration", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "--analog-out-channel" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.toml").exists()
    assert main(["serve", "instruments", "--station-out", str(tmp_path / "y.toml"), "--analog-out-channel", "2",
                 "--duration", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "--analog-out-channel" in err and "analog_out" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "y.toml").exists()
