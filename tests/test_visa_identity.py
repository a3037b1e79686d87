"""The VISA front end checks whom it talks to (issue 16, item 9), over loopback TCP with pyvisa-py:
*IDN? first and compared with the catalogue's identity of the configured model before anything
that changes state; one instrument under two spellings of its address refused before opening; a
TCP service that is not an instrument (echo, garbage, silence) refused with a clear message, and
sent nothing but *IDN?. Instrument text is printed without control characters.
"""

from __future__ import annotations

import socket
import threading

import pytest

pytest.importorskip("pyvisa")
pytest.importorskip("pyvisa_py")

from lambdarig.emulator.instruments import InstrumentStation  # noqa: E402
from lambdarig.hal.instruments.identity import IdentityError, identity_problem, printable  # noqa: E402
from lambdarig.hal.resource_names import duplicate_roles, instrument_address  # noqa: E402
from lambdarig.hal.types import FrontEndError, LinkLost  # noqa: E402
from lambdarig.hal.visa_frontend import VisaFrontEnd  # noqa: E402
from lambdarig.protocol.instrument_identity import IDENTITIES, model_of_idn  # noqa: E402
from lambdarig.protocol.station import save_station  # noqa: E402


class FakeService:
    """A TCP service on 127.0.0.1 that is not an instrument: it records what it receives and answers
    each line with reply(line) (None: silence)."""

    def __init__(self, reply):
        self.reply = reply
        self.received = b""
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def resource(self) -> str:
        return f"TCPIP::127.0.0.1::{self.port}::SOCKET"

    def _run(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(0.1)
            buf = b""
            with conn:
                while not self.stop.is_set():
                    try:
                        data = conn.recv(4096)
                    except TimeoutError:
                        continue
                    except OSError:
                        break
                    if not data:
                        break
                    self.received += data
                    buf += data
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        answer = self.reply(line)
                        if answer is not None:
                            conn.sendall(answer)

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(timeout=2)


@pytest.fixture
def station():
    st = InstrumentStation("lsu49", "default", seed=0, nernst_model=None).start()
    yield st
    st.stop()


def station_file(station, tmp_path, **roles) -> str:
    """The running station's file with some roles changed: role={key: value}."""
    data = station.as_station()
    for role, values in roles.items():
        data = data.changed(role, **values)
    path = tmp_path / "station.toml"
    save_station(data, path, overwrite=True)
    return f"visa:{path}"


def pump_state(station) -> tuple[bool, float]:
    snap = station.snapshot()["pump"]
    return snap["output"], snap["level"]["CURR"]


def set_pump_by_hand(station) -> None:
    """A state a *RST or a setup would change: the test sees whether the instrument was touched."""
    with socket.create_connection(("127.0.0.1", station.ports["pump"]), timeout=2) as s:
        s.sendall(b":SOUR:FUNC CURR;:SOUR:CURR:LEV 1.25e-3;:OUTP ON\n*OPC?\n")
        assert s.recv(16).strip() == b"1"
    assert pump_state(station) == (True, pytest.approx(1.25e-3))


def test_the_configured_model_is_checked_before_anything_is_sent(station, tmp_path):
    set_pump_by_hand(station)
    url = station_file(station, tmp_path, pump={"model": "keithley2450"})
    with pytest.raises(IdentityError) as err:
        VisaFrontEnd.from_url(url)
    text = str(err.value)
    assert "pump at TCPIP::127.0.0.1::" in text and "not a Keithley 2450" in text and "a keithley2400" in text
    assert "nothing but *IDN? was sent" in text
    assert pump_state(station) == (True, pytest.approx(1.25e-3))   # no *RST, no setup, no safe()


def test_a_heater_pointed_at_the_pump_smu_is_refused_under_another_spelling(station, tmp_path):
    set_pump_by_hand(station)
    port = station.ports["pump"]
    for spelling in (f"TCPIP0::127.0.0.1::{port}::SOCKET", f"TCPIP::localhost::{port}::SOCKET"):
        url = station_file(station, tmp_path, heater={"resource": spelling})
        with pytest.raises(IdentityError, match=r"heater\.resource .* is the same instrument as pump\.resource"):
            VisaFrontEnd.from_url(url)
    assert pump_state(station) == (True, pytest.approx(1.25e-3))


def test_a_heater_on_the_wrong_supply_model_is_refused(station, tmp_path):
    url = station_file(station, tmp_path, heater={"model": "keysight_e36312a", "channel": 2,
                                                          "current_limit_a": 1.0})
    with pytest.raises(IdentityError, match=r"heater at .*\*IDN\? says 'RIGOL TECHNOLOGIES,DP832.*a rigol_dp832"):
        VisaFrontEnd.from_url(url)


@pytest.mark.parametrize("name,reply,problem", [
    ("echo", lambda line: line + b"\n", "answered *IDN? with '*IDN?', which is not an instrument's identity"),
    ("garbage", lambda line: b"\x1b[31mSSH-2.0-OpenSSH\x07\x00 hello\n", "which is not an instrument's identity"),
    ("http", lambda line: b"HTTP/1.1 400 Bad Request\n", "not an instrument's identity"),
])
def test_a_tcp_service_that_is_no_instrument_is_refused(station, tmp_path, name, reply, problem):
    service = FakeService(reply)
    try:
        url = station_file(station, tmp_path, pump={"resource": service.resource})
        with pytest.raises(IdentityError) as err:
            VisaFrontEnd.from_url(url)
        text = str(err.value)
        assert problem in text, text
        assert "\x1b" not in text and "\x07" not in text and "\x00" not in text
        assert service.received == b"*IDN?\n"          # nothing else was sent to it
    finally:
        service.close()
    # The station's own heater was never touched either: still off at 0 V.
    heater = station.snapshot()["heater"]["channels"][0]
    assert heater["output"] is False and heater["v_set"] == 0.0


def test_a_silent_service_is_link_lost_after_one_timeout_naming_idn(station, tmp_path):
    service = FakeService(lambda line: None)
    try:
        url = station_file(station, tmp_path, pump={"resource": service.resource, "timeout_ms": 200})
        with pytest.raises(LinkLost, match=r"pump \(keithley2400\) at .*: no answer to \*IDN\? within 200 ms"):
            VisaFrontEnd.from_url(url)
        assert service.received == b"*IDN?\n"
    finally:
        service.close()


def test_an_identity_error_is_a_front_end_error_for_the_command_line():
    assert issubclass(IdentityError, FrontEndError) and not issubclass(IdentityError, LinkLost)


def test_resource_spellings_of_one_instrument_compare_equal():
    a = instrument_address("TCPIP::localhost::5025::SOCKET")
    assert a == instrument_address("TCPIP0::127.0.0.1::5025::SOCKET") or duplicate_roles(
        {"pump": "TCPIP::localhost::5025::SOCKET", "heater": "TCPIP0::127.0.0.1::5025::SOCKET"})
    assert instrument_address("USB0::0x1AB1::0x0E11::DP8C1::INSTR") == instrument_address(
        "usb::6833::3601::dp8c1::INSTR")
    assert instrument_address("GPIB0::24::INSTR") == instrument_address("GPIB::24::INSTR")
    assert instrument_address("GPIB0::24::INSTR") != instrument_address("GPIB0::25::INSTR")
    assert duplicate_roles({"pump": "TCPIP::127.0.0.1::5025::SOCKET",
                            "heater": "TCPIP::127.0.0.1::5026::SOCKET"}) == []


def test_every_emulated_instrument_identifies_as_its_catalogue_model():
    from lambdarig.emulator.instruments.station import EMULATED_MODELS
    assert set(EMULATED_MODELS) == set(IDENTITIES)
    for key, cls in EMULATED_MODELS.items():
        assert model_of_idn(cls.IDN) == key, (key, cls.IDN)
        assert identity_problem(key, cls.IDN) is None
    # Real instruments' replies, as their manuals print them.
    assert model_of_idn("KEITHLEY INSTRUMENTS INC.,MODEL 2400,1234567,C30   Mar 17 2006") == "keithley2400"
    assert model_of_idn("Agilent Technologies,E3631A,0,2.1-5.0-1.0") == "keysight_e3631a"
    assert model_of_idn("RIGOL TECHNOLOGIES,DP832A,DP8A0000001,00.01.16") == "rigol_dp832"


def test_instrument_text_is_printed_without_control_characters():
    assert printable("\x1b[2J\x1b[31mKEITHLEY\x1b[0m,MODEL 2400\r\n") == "KEITHLEY,MODEL 2400"
    assert printable("a\x00b\x07c\x85d\x7f") == "a b c d"
    assert printable("\x1b]0;title\x07x") == "x"
    assert len(printable("A" * 10_000)) == 200


def test_run_refuses_a_stranger_in_one_line_with_exit_3(station, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    service = FakeService(lambda line: b"\x1b[31mhello\x1b[0m " + line + b"\n")
    try:
        url = station_file(station, tmp_path, pump={"resource": service.resource})
        proc = subprocess.run([sys.executable, "-m", "lambdarig", "run", "--hal", url, "--duration", "1"],
                              cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)}, capture_output=True, text=True,
                              timeout=60)
    finally:
        service.close()
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "answered *IDN? with 'hello *IDN?', which is not an instrument's identity" in lines[0]
    assert "\x1b" not in proc.stderr


def test_one_instrument_under_two_addresses_is_refused_by_its_serial_number(station, tmp_path):
    """Two emulated 2400s answer with the same serial: to the front end, one instrument reached
    under two addresses (as a LAN instrument is over VXI-11 and a raw socket)."""
    with InstrumentStation("lsu49", "default", seed=1, nernst_model=None) as other:
        url = station_file(station, tmp_path, nernst={
            "model": "keithley2400", "resource": other.resource("pump"), "reference_current_a": 20e-6,
            "esr_step_a": 100e-6, "compliance_v": 3.0})
        with pytest.raises(IdentityError, match=r"nernst at .* and pump at .* are one instrument \(\*IDN\? "):
            VisaFrontEnd.from_url(url)
        assert other.snapshot()["pump"]["output"] is False
