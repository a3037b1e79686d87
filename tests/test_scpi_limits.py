"""The emulated SCPI instruments against hostile clients (issue 16, item 5): a number parser in
linear time, a bounded line length (-223 Too much data, the connection keeps serving), a bounded
number of connections, and the station lock never held over parsing. Raw loopback TCP sockets
against a real InstrumentStation; bounds are generous (a loaded 2-core machine), the failures
they catch were seconds to minutes.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from lambdarig.emulator.instruments import InstrumentStation
from lambdarig.emulator.instruments.line_server import MAX_CONNECTIONS, MAX_LINE_BYTES
from lambdarig.emulator.instruments.scpi import MAX_UNITS_PER_LINE, ScpiError, parse_number

GENEROUS_S = 2.0   # what the quadratic parser took minutes for


@pytest.fixture
def station():
    st = InstrumentStation("lsu49", "default", seed=0, nernst_model=None).start()
    yield st
    st.stop()


class Client:
    """A raw '\\n'-terminated line client on one instrument's port."""

    def __init__(self, port: int, timeout_s: float = GENEROUS_S):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def query(self, line: str) -> str:
        self.send(line.encode() + b"\n")
        return self.read_line()

    def read_line(self) -> str:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed by the instrument")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def close(self) -> None:
        self.sock.close()


def test_number_parser_is_linear_on_a_60_kb_token():
    for token in ("1" * 60_000 + "!", "1" * 60_000 + ".5x", "." + "1" * 60_000 + "e"):
        start = time.perf_counter()
        with pytest.raises(ScpiError) as err:
            parse_number(token, "A")
        assert time.perf_counter() - start < 0.5, token[-3:]
        assert len(err.value.text) < 200   # the error quotes the token, shortened
    assert parse_number("1.5mA", "A") == pytest.approx(1.5e-3)
    assert parse_number("5.", "V") == 5.0 and parse_number(".5", "V") == 0.5
    assert parse_number("+2E-3 A", "A") == pytest.approx(2e-3)


def test_a_60_kb_parameter_is_refused_quickly_and_the_connection_keeps_serving(station):
    client = Client(station.ports["pump"])
    try:
        start = time.perf_counter()
        client.send(b":SOUR:CURR:LEV " + b"1" * 60_000 + b"!\n")
        assert client.query("*OPC?") == "1"
        entry = client.query(":SYST:ERR?")
        assert time.perf_counter() - start < GENEROUS_S
        assert entry.startswith("-223,"), entry
        # A parameter within the limit is parsed (and refused as a bad number) just as fast.
        start = time.perf_counter()
        client.send(b":SOUR:CURR:LEV " + b"1" * (MAX_LINE_BYTES - 100) + b"!\n")
        assert client.query(":SYST:ERR?").startswith("-104,")
        assert time.perf_counter() - start < GENEROUS_S
        assert client.query("*IDN?").startswith("KEITHLEY")
    finally:
        client.close()


def test_the_tail_of_an_overlong_line_is_never_executed(station):
    client = Client(station.ports["pump"])
    try:
        # Sent in pieces, as a slow client would: the tail after the limit must not run as a line.
        client.send(b"X" * (MAX_LINE_BYTES + 10))
        time.sleep(0.05)
        client.send(b";*IDN?\n")
        assert client.query("*OPC?") == "1"
        assert client.query(":SYST:ERR?").startswith("-223,")
    finally:
        client.close()


def test_too_many_units_on_one_line_are_refused(station):
    client = Client(station.ports["pump"])
    try:
        assert client.query(";".join(["*OPC?"] * MAX_UNITS_PER_LINE)) == ";".join(["1"] * MAX_UNITS_PER_LINE)
        client.send(";".join(["*WAI"] * (MAX_UNITS_PER_LINE + 1)).encode() + b"\n")
        assert client.query(":SYST:ERR?").startswith("-223,")
    finally:
        client.close()


def test_a_host_keeps_its_round_trips_while_another_client_floods_long_lines(station):
    host = Client(station.ports["heater"])
    stop = threading.Event()

    def flood() -> None:
        with socket.create_connection(("127.0.0.1", station.ports["heater"]), timeout=GENEROUS_S) as s:
            # Digits then a bad character: what the backtracking parser took ~0.6 s for, under the lock.
            line = b":SOUR1:VOLT " + b"9" * (MAX_LINE_BYTES - 20) + b"!\n"
            while not stop.is_set():
                try:
                    s.sendall(line * 8)
                except OSError:
                    return

    flooder = threading.Thread(target=flood, daemon=True)
    flooder.start()
    try:
        worst = 0.0
        for _ in range(20):
            start = time.perf_counter()
            assert host.query("*OPC?") == "1"
            worst = max(worst, time.perf_counter() - start)
        assert worst < 0.5, worst
    finally:
        stop.set()
        flooder.join(timeout=5)
        host.close()


def test_connections_are_capped_and_threads_stay_bounded(station):
    port = station.ports["pump"]
    before = threading.active_count()
    kept = [Client(port) for _ in range(MAX_CONNECTIONS)]
    extra = []
    try:
        for client in kept:
            assert client.query("*OPC?") == "1"
        # Every connection beyond the cap is closed by the instrument at once (no thread is made).
        for _ in range(100):
            sock = socket.create_connection(("127.0.0.1", port), timeout=GENEROUS_S)
            extra.append(sock)
            try:
                sock.sendall(b"*OPC?\n")
                assert sock.recv(16) == b""
            except (ConnectionResetError, BrokenPipeError):
                pass
        assert threading.active_count() <= before + MAX_CONNECTIONS + 2
        assert kept[0].query("*IDN?").startswith("KEITHLEY")
        # A slot comes free when a client goes.
        kept.pop().close()
        deadline = time.monotonic() + GENEROUS_S
        while True:
            fresh = Client(port)
            try:
                assert fresh.query("*OPC?") == "1"
                break
            except (ConnectionError, OSError):
                fresh.close()
                assert time.monotonic() < deadline, "no slot came free"
                time.sleep(0.05)
        kept.append(fresh)
    finally:
        for sock in extra:
            sock.close()
        for client in kept:
            client.close()


def test_a_numeric_suffix_past_the_integer_digit_limit_is_a_scpi_error(station):
    # Longer than int() converts (4,300 digits): a -114, never a ValueError out of the parser.
    heater = station.instruments["heater"]
    assert station._execute("heater", ":SOUR" + "9" * 5000 + ":VOLT 1") is None
    assert heater.pop_error().startswith("-114,")
    assert station._execute("heater", ":OUTP:OVP CH1,1e999") is None
    assert heater.pop_error().startswith("-222,")
