"""Instrument drivers (hal/instruments): the exact SCPI each driver sends, checked by a
protocol-expectation helper over real pyvisa + pyvisa-py and loopback TCP.

`ExpectServer` is a tiny TCP server that expects an exact sequence of (command, reply) pairs
(reply None: a command that gets no reply) and records every line it received. A driver is pointed
at it through pyvisa (`TCPIP::127.0.0.1::PORT::SOCKET`, read_termination "\\n"); the test then
compares what the server got with what was expected. Out-of-range set-points must raise before
anything is sent: the server saw nothing.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from contextlib import contextmanager

import pytest

pyvisa = pytest.importorskip("pyvisa")
pytest.importorskip("pyvisa_py")

from lambdarig.hal.instruments import (  # noqa: E402
    MODELS,
    Keithley2400,
    Keithley2450,
    Keysight34465A,
    KeysightE3631A,
    KeysightE36312A,
    RigolDP832,
)
from lambdarig.hal.types import FrontEndError, LinkLost  # noqa: E402
from lambdarig.hal.visa_frontend import disable_nagle  # noqa: E402

pytestmark = pytest.mark.usefixtures("no_gc_pauses")  # on the wall clock: see tests/conftest.py

IDN_2400 = "KEITHLEY INSTRUMENTS INC.,MODEL 2400,4105252,C32   Oct  4 2010 14:20:11/A02  /S/K"
IDN_2450 = "KEITHLEY INSTRUMENTS,MODEL 2450,04096331,1.7.3b"
IDN_DP832 = "RIGOL TECHNOLOGIES,DP832,DP8C0000000001,00.01.14"
IDN_E36312A = "Keysight Technologies,E36312A,MY00000001,2.1.0-1.0.4-1.12"
IDN_E3631A = "HEWLETT-PACKARD,E3631A,0,2.1-5.0-1.0"
IDN_34465A = "Keysight Technologies,34465A,MY00000001,A.02.14-02.40-02.14-00.49-01-01"
OK = '0,"No error"'
TIMEOUT_MS = 300


class ExpectServer:
    """Expects exact (command, reply) pairs on one TCP connection; records what it received."""

    def __init__(self, pairs=(), host: str = "127.0.0.1", auto: dict[str, str] | None = None):
        self.pairs: list[tuple[str, str | None]] = list(pairs)
        self.auto = dict(auto or {})  # replies to commands outside the expected sequence (still recorded)
        self.received: list[str] = []
        self.silent = False           # True: record, never reply
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self._sock.listen(4)
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def resource(self) -> str:
        return f"TCPIP::127.0.0.1::{self.port}::SOCKET"

    def expect(self, *pairs) -> None:
        """Append expected pairs (after those already consumed)."""
        with self._lock:
            self.pairs += list(pairs)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self._conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        buf = b""
        conn.settimeout(0.05)
        while not self._stop.is_set():
            try:
                data = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self._answer(conn, line.decode().rstrip("\r"))

    def _answer(self, conn: socket.socket, line: str) -> None:
        with self._lock:
            index = len(self.received)
            self.received.append(line)
            expected = self.pairs[index] if index < len(self.pairs) else None
        if self.silent:
            return
        if (expected is None or expected[0] != line) and line in self.auto:
            expected = (line, self.auto[line])
        if expected is None or expected[0] != line or expected[1] is None:
            return
        try:
            conn.sendall(expected[1].encode() + b"\n")
        except OSError:
            pass

    def drop_connections(self) -> None:
        for conn in self._conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            except OSError:
                pass

    def wait_for(self, count: int, timeout_s: float = 2.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.002)

    def wait_until_received(self, command: str, timeout_s: float = 1.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while command not in self.received and time.monotonic() < deadline:
            time.sleep(0.002)
        return command in self.received

    def check(self) -> None:
        """Everything expected was received, in order, and nothing else."""
        self.wait_for(len(self.pairs))
        assert self.received == [cmd for cmd, _ in self.pairs]

    def close(self) -> None:
        self._stop.set()
        self.drop_connections()
        self._sock.close()
        self._thread.join(1.0)


@pytest.fixture(scope="module")
def rm():
    manager = pyvisa.ResourceManager("@py")  # resources are opened by exact name, never listed
    yield manager
    manager.close()


@contextmanager
def expect_session(rm, pairs=(), timeout_ms: int = TIMEOUT_MS):
    server = ExpectServer(pairs)
    resource = rm.open_resource(server.resource, read_termination="\n", write_termination="\n",
                                timeout=timeout_ms)
    disable_nagle(resource)   # as the visa front end does: no delayed-ACK wait after a write
    try:
        yield server, resource
    finally:
        try:
            resource.close()
        finally:
            server.close()


def with_checks(*commands: str) -> list[tuple[str, str | None]]:
    """Each set command followed by the error-queue check, as setup sends them."""
    pairs: list[tuple[str, str | None]] = []
    for cmd in commands:
        pairs += [(cmd, None), (":SYST:ERR?", OK)]
    return pairs


RESET = [("*RST", None), ("*CLS", None), (":SYST:ERR?", OK)]
CLEAR = [("*CLS", None), (":SYST:ERR?", OK)]


# --- Keithley 2400 ----------------------------------------------------------------------------

SETUP_2400 = [("*IDN?", IDN_2400)] + RESET + with_checks(
    ":SOUR:FUNC CURR", ":SOUR:CURR:MODE FIX", ":SOUR:CURR:RANG 0.01", ":SOUR:CURR:LEV 0", ":SENS:FUNC:CONC ON",
    ':SENS:FUNC "VOLT","CURR"', ":SENS:VOLT:PROT 2.5", ":SENS:VOLT:RANG:AUTO ON", ":SENS:VOLT:NPLC 0.1",
    ":FORM:ELEM VOLT,CURR,RES,TIME,STAT", ":OUTP ON")


def pump_2400(resource) -> Keithley2400:
    return Keithley2400(resource, "pump", limits={"source_current_a": (-0.01, 0.01, "pump.current_limit_a")},
                        resource_name="TCPIP::127.0.0.1::1::SOCKET")


def test_keithley2400_setup_read_set_and_shutdown_send_exactly_these_commands(rm):
    pairs = SETUP_2400 + [
        (":READ?", "+4.512300E-01,+1.000000E-03,+9.910000E+37,+1.234500E+02,+1.740800E+04"),
        (":SOUR:CURR:LEV 0.004", None),
        (":READ?", "+2.500000E+00,+2.100000E-03,+9.910000E+37,+1.235000E+02,+1.741600E+04"),
        (":SOUR:CURR:LEV 0.003", None), (":SOUR:CURR:LEV 0.002", None), (":SOUR:CURR:LEV 0.001", None),
        (":SOUR:CURR:LEV 0", None), (":OUTP OFF", None),
    ]
    with expect_session(rm, pairs) as (server, resource):
        smu = pump_2400(resource)
        smu.identify()
        smu.setup(current_range_a=smu.range_for(0.01), compliance_v=2.5, nplc=0.1)
        first = smu.read()
        assert first.voltage_v == pytest.approx(0.45123)
        assert first.current_a == pytest.approx(1e-3)
        assert not first.compliance            # status 17408: bit 3 clear
        smu.set_current(0.004)
        second = smu.read()
        assert second.compliance               # status 17416 = 17408 + 8: in compliance
        smu.safe_shutdown()
        server.check()
    assert smu.idn == IDN_2400
    snap = smu.snapshot()
    assert snap["model"] == "keithley2400" and snap["idn"] == IDN_2400
    assert snap["settings"]["compliance_v"] == 2.5
    assert snap["settings"]["current_range_a"] == 0.01
    assert snap["settings"]["output"] is False and snap["settings"]["source_current_a"] == 0


def test_keithley2400_out_of_range_set_points_raise_before_anything_is_sent(rm):
    with expect_session(rm) as (server, resource):
        smu = pump_2400(resource)
        with pytest.raises(ValueError, match=r"source_current_a: 0.02 is outside the station's limit -0.01 to "
                                             r"0.01 A \(pump.current_limit_a\)"):
            smu.set_current(0.02)
        with pytest.raises(ValueError, match=r"source_current_a: 2 is outside the allowed range -1.05 to 1.05 A"):
            smu.set_current(2.0)
        with pytest.raises(ValueError, match=r"compliance_v: 300 is outside the allowed range"):
            smu.set("compliance_v", 300)
        with pytest.raises(ValueError, match=r"not a finite number"):
            smu.set_current(float("nan"))
        with pytest.raises(ValueError, match=r"current_range_a: 0.02 is not one of"):
            smu.setup(current_range_a=0.02, compliance_v=2.5)   # setup validates everything first
        time.sleep(0.05)
        assert server.received == []


def test_keithley2400_scpi_error_in_setup_names_role_instrument_error_and_command(rm):
    pairs = [("*IDN?", IDN_2400)] + RESET + [(":SOUR:FUNC CURR", None),
                                             (":SYST:ERR?", '-113,"Undefined header"')]
    with expect_session(rm, pairs) as (server, resource):
        smu = pump_2400(resource)
        smu.identify()
        with pytest.raises(FrontEndError) as err:
            smu.setup(current_range_a=0.01, compliance_v=2.5)
        server.check()
    text = str(err.value)
    assert "pump" in text and IDN_2400 in text and '-113,"Undefined header"' in text and ":SOUR:FUNC CURR" in text
    assert not isinstance(err.value, LinkLost)


def test_silent_instrument_is_link_lost_naming_role_and_instrument_within_bounded_time(rm):
    with expect_session(rm, [("*IDN?", IDN_2400)], timeout_ms=150) as (server, resource):
        smu = pump_2400(resource)
        smu.identify()
        server.silent = True
        start = time.monotonic()
        with pytest.raises(LinkLost) as err:
            smu.read()
        elapsed = time.monotonic() - start
        # the query and one :SYST:ERR? probe, 150 ms each (a loaded machine may add to that)
        assert 2 * 0.15 - 0.02 <= elapsed < 2 * 0.15 + 1.0, elapsed
        assert server.received[1:] == [":READ?", ":SYST:ERR?"]
        start = time.monotonic()
        with pytest.raises(LinkLost):          # stays lost: no second timeout, nothing sent
            smu.read()
        assert time.monotonic() - start < 0.15
        assert server.received[1:] == [":READ?", ":SYST:ERR?"]
    assert "pump" in str(err.value) and IDN_2400 in str(err.value) and ":READ?" in str(err.value)


def test_query_refused_with_a_scpi_error_is_a_frontend_error_not_link_loss(rm):
    pairs = [("*IDN?", IDN_2400), (":READ?", None), (":SYST:ERR?", '-222,"Data out of range"')]
    with expect_session(rm, pairs, timeout_ms=150) as (server, resource):
        smu = pump_2400(resource)
        smu.identify()
        with pytest.raises(FrontEndError) as err:
            smu.read()
        server.check()
    assert not isinstance(err.value, LinkLost)
    assert '-222,"Data out of range"' in str(err.value) and IDN_2400 in str(err.value)


def test_closed_connection_is_link_lost(rm):
    with expect_session(rm, [("*IDN?", IDN_2400)], timeout_ms=150) as (server, resource):
        smu = pump_2400(resource)
        smu.identify()
        server.drop_connections()
        time.sleep(0.05)
        start = time.monotonic()
        with pytest.raises(LinkLost, match="pump"):
            for _ in range(3):  # the first write may still land in the socket buffer
                smu.read()
        assert time.monotonic() - start < 1.0


def test_every_command_and_query_is_logged_at_debug_on_the_role_logger(rm, caplog):
    pairs = [("*IDN?", IDN_2400), (":SOUR:CURR:LEV 0.001", None)]
    caplog.set_level(logging.DEBUG, logger="lambdarig.visa.pump")
    with expect_session(rm, pairs) as (server, resource):
        smu = pump_2400(resource)
        smu.identify()
        smu.set_current(0.001)
        server.check()
    records = [(r.name, r.levelno, r.getMessage()) for r in caplog.records if r.name == "lambdarig.visa.pump"]
    assert ("lambdarig.visa.pump", logging.DEBUG, f"QUERY *IDN? -> {IDN_2400}") in records
    assert ("lambdarig.visa.pump", logging.DEBUG, "WRITE :SOUR:CURR:LEV 0.001") in records


# --- Keithley 2450 ----------------------------------------------------------------------------

def test_keithley2450_setup_read_compliance_and_shutdown(rm):
    pairs = [("*IDN?", IDN_2450), ("*LANG?", "SCPI")] + RESET + with_checks(
        ":SOUR:FUNC CURR", ":SOUR:CURR:RANG 0.001", ":SOUR:CURR 2e-05", ":SOUR:CURR:VLIM 3", ':SENS:FUNC "VOLT"',
        ":SENS:VOLT:RANG:AUTO ON", ":SENS:VOLT:NPLC 0.1", ":OUTP ON") + [
        (':READ? "defbuffer1", READ, SOUR', "4.501234E-01,2.000000E-05"),     # far from the limit: no trip query
        (':READ? "defbuffer1", READ, SOUR;:SOUR:CURR 0.00012;:READ? "defbuffer1", READ, SOUR;:SOUR:CURR 2e-05',
         "4.501000E-01,2.000000E-05;4.801000E-01,1.200000E-04"),               # the ESR step, one message
        (":SOUR:CURR 0.00012", None),
        (':READ? "defbuffer1", READ, SOUR', "2.999000E+00,9.000000E-05"),     # at the limit: ask
        (":SOUR:CURR:VLIM:TRIP?", "1"),
        (":SOUR:CURR 9e-05", None), (":SOUR:CURR 6e-05", None), (":SOUR:CURR 3e-05", None), (":SOUR:CURR 0", None),
        (":OUTP OFF", None),
    ]
    with expect_session(rm, pairs) as (server, resource):
        smu = Keithley2450(resource, "nernst", limits={"source_current_a": (-1.2e-4, 1.2e-4, "nernst")})
        smu.identify()
        smu.setup(current_range_a=smu.range_for(1.2e-4), compliance_v=3.0, nplc=0.1, level_a=20e-6)
        r = smu.read()
        assert (r.voltage_v, r.current_a, r.compliance) == (pytest.approx(0.4501234), pytest.approx(2e-5), False)
        low, high = smu.step_read(20e-6, 100e-6)
        assert (high.voltage_v - low.voltage_v) / 100e-6 == pytest.approx(300.0)
        assert smu.level_a == pytest.approx(20e-6)
        with pytest.raises(ValueError, match="outside the station's limit"):
            smu.step_read(20e-6, 200e-6)          # validated before anything is sent
        smu.set_current(120e-6)
        r = smu.read()
        assert r.compliance and r.current_a == pytest.approx(9e-5)
        smu.safe_shutdown()
        server.check()


def test_keithley2450_in_another_command_set_is_refused_naming_it(rm):
    with expect_session(rm, [("*IDN?", IDN_2450), ("*LANG?", "TSP")]) as (server, resource):
        smu = Keithley2450(resource, "pump")
        smu.identify()
        with pytest.raises(FrontEndError, match=r"pump \(KEITHLEY INSTRUMENTS,MODEL 2450.*'TSP', not SCPI"):
            smu.setup(current_range_a=0.01, compliance_v=2.5)
        server.check()


def test_keithley2450_limits_voltage_from_0_02_v():
    assert Keithley2450.COMPLIANCE_RANGE.lo == 0.02
    with pytest.raises(ValueError, match="compliance_v: 0.01 is outside the allowed range 0.02 to 210 V"):
        Keithley2450(None, "pump").validate("compliance_v", 0.01)


# --- supplies ---------------------------------------------------------------------------------

def test_rigol_dp832_channel_commands(rm):
    # OVP armed from the station's voltage limit (13 V + 5 %); no current limit given: no OCP.
    pairs = [("*IDN?", IDN_DP832)] + CLEAR + with_checks(
        ":SOUR2:CURR 3.000", ":SOUR2:VOLT 0.000", ":OUTP:OVP:VAL CH2,13.650", ":OUTP:OVP CH2,ON", ":OUTP CH2,ON") + [
        (":SOUR2:VOLT 7.500", None),
        (":MEAS:ALL? CH2", "7.4980,0.9950,7.4605"),
        (":MEAS:VOLT? CH2", "7.4980"), (":MEAS:CURR? CH2", "0.9950"),
        (":OUTP:MODE? CH2", "CV"),
        (":SOUR2:VOLT 5.625", None), (":SOUR2:VOLT 3.750", None), (":SOUR2:VOLT 1.875", None),
        (":SOUR2:VOLT 0.000", None), (":OUTP CH2,OFF", None),
    ]
    with expect_session(rm, pairs) as (server, resource):
        psu = RigolDP832(resource, "heater", channel=2, limits={"voltage_v": (0, 13.0, "heater.voltage_limit_v")})
        psu.identify()
        psu.setup(current_limit_a=3.0)
        psu.set_voltage(7.5)
        assert psu.measure() == (pytest.approx(7.498), pytest.approx(0.995))
        assert (psu.measure_voltage(), psu.measure_current()) == (pytest.approx(7.498), pytest.approx(0.995))
        assert psu.mode() == "CV"
        psu.safe_shutdown()
        server.check()
    assert psu.snapshot()["channel"] == 2


def test_rigol_dp832_channel_ranges_refuse_before_sending(rm):
    with expect_session(rm) as (server, resource):
        ch3 = RigolDP832(resource, "heater", channel=3)
        with pytest.raises(ValueError, match=r"voltage_v: 13 is outside the allowed range 0 to 5 V"):
            ch3.set_voltage(13.0)
        ch1 = RigolDP832(resource, "heater", channel=1, limits={"voltage_v": (0, 13.0, "heater.voltage_limit_v")})
        with pytest.raises(ValueError,
                           match=r"13.5 is outside the station's limit 0 to 13 V \(heater.voltage_limit_v\)"):
            ch1.set_voltage(13.5)
        with pytest.raises(ValueError, match=r"current_limit_a: 3.5 is outside the allowed range 0 to 3 A"):
            ch1.setup(current_limit_a=3.5)
        with pytest.raises(ValueError, match="channel 4 is not one of 1, 2, 3"):
            RigolDP832(resource, "heater", channel=4)
        time.sleep(0.05)
        assert server.received == []


def test_keysight_e36312a_channel_commands(rm):
    pairs = [("*IDN?", IDN_E36312A)] + CLEAR + with_checks("CURR 1.000, (@2)", "VOLT 0.000, (@2)", "OUTP ON, (@2)") + [
        ("VOLT 12.000, (@2)", None),
        ("MEAS:VOLT? (@2);:MEAS:CURR? (@2)", "+1.15000000E+01;+9.90000000E-01"),
        ("VOLT 9.000, (@2)", None), ("VOLT 6.000, (@2)", None), ("VOLT 3.000, (@2)", None), ("VOLT 0.000, (@2)", None),
        ("OUTP OFF, (@2)", None),
    ]
    with expect_session(rm, pairs) as (server, resource):
        psu = KeysightE36312A(resource, "heater", channel=2)
        psu.identify()
        psu.setup(current_limit_a=1.0)
        psu.set_voltage(12.0)
        v, a = psu.measure()
        assert (v, a) == (pytest.approx(11.5), pytest.approx(0.99))
        assert psu.infer_mode(v, a) == "CC"     # at the 1 A limit, below the set-point
        psu.safe_shutdown()
        server.check()
    with pytest.raises(ValueError, match="voltage_v: 7 is outside the allowed range 0 to 6 V"):
        KeysightE36312A(None, "heater", channel=1).validate("voltage_v", 7.0)


def test_keysight_e3631a_channel_commands(rm):
    pairs = [("*IDN?", IDN_E3631A)] + CLEAR + with_checks(
        "INST:NSEL 2;:CURR 1.000", "INST:NSEL 2;:VOLT 0.000", "OUTP ON") + [
        ("INST:NSEL 2;:VOLT 8.000", None),
        ("INST:NSEL 2;:MEAS:VOLT?;:MEAS:CURR?", "+7.99800000E+00;+6.50000000E-01"),
        ("INST:NSEL 2;:VOLT 6.000", None), ("INST:NSEL 2;:VOLT 4.000", None), ("INST:NSEL 2;:VOLT 2.000", None),
        ("INST:NSEL 2;:VOLT 0.000", None), ("OUTP OFF", None),
    ]
    with expect_session(rm, pairs) as (server, resource):
        psu = KeysightE3631A(resource, "heater", channel=2)
        psu.identify()
        psu.setup(current_limit_a=1.0)
        psu.set_voltage(8.0)
        assert psu.measure() == (pytest.approx(7.998), pytest.approx(0.65))
        psu.safe_shutdown()
        server.check()
    with pytest.raises(ValueError, match=r"channel 3 \(N25V\) is a negative output"):
        KeysightE3631A(None, "heater", channel=3)


# --- meter ------------------------------------------------------------------------------------

def test_keysight_34465a_setup_and_read(rm):
    pairs = [("*IDN?", IDN_34465A)] + RESET + with_checks(":CONF:VOLT:DC AUTO", ":SENS:VOLT:DC:NPLC 0.2") + [
        (":READ?", "+4.49871234E-01"),
    ]
    with expect_session(rm, pairs) as (server, resource):
        meter = Keysight34465A(resource, "nernst")
        meter.identify()
        meter.setup(nplc=0.2)
        assert meter.read_voltage() == pytest.approx(0.449871234)
        meter.safe_shutdown()   # nothing to switch off: sends nothing
        server.check()
    with pytest.raises(ValueError, match="nplc: 0.5 is not one of"):
        Keysight34465A(None, "nernst").validate("nplc", 0.5)


def test_malformed_reply_is_a_frontend_error_naming_the_instrument(rm):
    with expect_session(rm, [("*IDN?", IDN_34465A), (":READ?", "garbage")]) as (server, resource):
        meter = Keysight34465A(resource, "nernst")
        meter.identify()
        with pytest.raises(FrontEndError, match=r"nernst \(Keysight Technologies,34465A.*'garbage'"):
            meter.read_voltage()


def test_model_table_names_every_supported_model():
    assert set(MODELS) == {"keithley2400", "keithley2450", "rigol_dp832", "keysight_e36312a", "keysight_e3631a",
                           "keysight_34465a"}
