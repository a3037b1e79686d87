"""Fuzz of the emulated SCPI instruments (issue 16): seeded random and mutated program messages into
every model's parser and executor through the station's own entry (the path a TCP line takes), and
random bytes over loopback TCP into the line servers. Never an exception out of the parser, never a
slow line, the station lock free afterwards, the instruments still answering. Bounded: a few
seconds, the same cases every run.
"""

from __future__ import annotations

import random
import re
import socket
import threading
import time

import pytest

from lambdarig.emulator.instruments import InstrumentStation
from lambdarig.emulator.instruments.line_server import MAX_CONNECTIONS, MAX_LINE_BYTES

SEED = 16
LINES_PER_ROLE = 600
SLOW_LINE_S = 0.5          # a quadratic parser took seconds to minutes on lines this long
BLOBS = 150

STATIONS = (
    {"pump_model": "keithley2400", "heater_model": "rigol_dp832", "nernst_model": "keithley2450"},
    {"pump_model": "keithley2450", "heater_model": "keysight_e36312a", "nernst_model": "keysight_34465a",
     "heater_channel": 2},
    {"pump_model": "keithley2400", "heater_model": "keysight_e3631a", "nernst_model": "keithley2400"},
)
PARAMS = ("1", "0", "-1", "1e999", "-1e999", "4294967296", "1e9",
          "1e-3", "2.5mA", "5 V", "MIN", "MAX", "DEF", "ON", "OFF", "CH1", "CH2", "(@1)",
          "(@1:3)", "(@2,3)", '"VOLT"', '"CURR"', "'x'", "1e999", "-0", ".5", "5.", "nan", "inf", "9" * 300,
          "1" * 3000 + "x", "(@" + "1," * 200 + "1)", '"' + "a" * 500, "(@", "((", "))", "(@1:99999)", "#H1F")
SPECIALS = ("*IDN?", "*RST", "*CLS", "*OPC?", "*ESR?", "*STB?", ":SYST:ERR?", ":SYST:ERR:ALL?", "*WAI", "*TRG")
NOISE = ";,:?*()\"' \t@#\x00\x1b\xff\r0123456789eE.+-"


def headers_of(instrument) -> list[str]:
    """Concrete headers from the instrument's command patterns (optional nodes in or out, a suffix)."""
    out = []
    for command in instrument._commands:
        pattern = command.pattern
        full = re.sub(r"[\[\]]", "", pattern).replace("#", "2")
        bare = re.sub(r"\[[^\]]*\]", "", pattern).replace("#", "")
        out += [full, bare or full, full.lower()]
    return out


def random_line(rng: random.Random, headers: list[str]) -> str:
    units = []
    for _ in range(rng.choice((1, 1, 1, 2, 3, 8))):
        header = rng.choice(headers) if rng.random() < 0.85 else rng.choice(SPECIALS)
        if rng.random() < 0.5 and not header.endswith("?"):
            header += "?"
        params = ",".join(rng.choice(PARAMS) for _ in range(rng.choice((0, 1, 1, 2, 3))))
        units.append(f"{header} {params}" if params else header)
    return ";".join(units)


def mutate(rng: random.Random, line: str) -> str:
    chars = list(line)
    for _ in range(rng.randint(1, 6)):
        action = rng.random()
        position = rng.randint(0, len(chars))
        if action < 0.4:
            chars.insert(position, rng.choice(NOISE))
        elif action < 0.7 and chars:
            del chars[min(position, len(chars) - 1)]
        elif action < 0.85 and chars:
            start = min(position, len(chars) - 1)
            chars[start:start] = chars[start:start + rng.randint(1, 20)] * rng.randint(2, 50)
        else:
            chars.insert(position, rng.choice(("9" * 2000, ";" * 100, "(@" * 50, "\x00" * 10, ":" * 300)))
    return "".join(chars)


def lock_is_free(station) -> bool:
    """The station lock can be taken by another thread (an RLock is re-entrant for its owner)."""
    free = []

    def take() -> None:
        if station.lock.acquire(timeout=2.0):
            station.lock.release()
            free.append(True)

    t = threading.Thread(target=take)
    t.start()
    t.join(timeout=5)
    return bool(free)


@pytest.mark.parametrize("options", STATIONS, ids=lambda o: "-".join(str(v) for v in o.values()))
def test_random_and_mutated_lines_never_escape_stall_or_hold_the_lock(options):
    rng = random.Random(SEED)
    station = InstrumentStation("lsu49", "default", seed=0, noise=False, **options).start()
    try:
        for role, instrument in station.instruments.items():
            headers = headers_of(instrument)
            worst = 0.0
            for k in range(LINES_PER_ROLE):
                line = random_line(rng, headers)
                if k % 2:
                    line = mutate(rng, line)
                line = line[:MAX_LINE_BYTES]       # what the line server lets through
                start = time.perf_counter()
                try:
                    reply = station._execute(role, line)
                except Exception as exc:   # the test's finding: an exception out of parse/run
                    pytest.fail(f"{role} ({instrument.model_key}): {type(exc).__name__}: {exc} on {line[:200]!r}")
                worst = max(worst, time.perf_counter() - start)
                assert reply is None or isinstance(reply, str)
                internal = [entry for entry in instrument.errors if "internal" in entry[1]]
                assert not internal, f"{role} ({instrument.model_key}): {internal[0]} on {line[:200]!r}"
                if k % 50 == 0:
                    station._execute(role, "*RST;*CLS")   # keep the outputs from wandering for long
            assert worst < SLOW_LINE_S, (role, worst)
            assert len(instrument.errors) <= instrument.error_queue_size
            assert station._execute(role, "*CLS;*IDN?") == instrument.idn
        assert lock_is_free(station)
    finally:
        station.stop()


def test_random_bytes_over_tcp_leave_the_servers_answering():
    rng = random.Random(SEED)
    station = InstrumentStation("lsu49", "default", seed=0, noise=False).start()
    try:
        before = threading.active_count()
        for k in range(BLOBS):
            role = rng.choice(station.roles)
            size = rng.choice((1, 10, 100, 1000, MAX_LINE_BYTES - 1, MAX_LINE_BYTES + 1, 3 * MAX_LINE_BYTES))
            blob = bytes(rng.getrandbits(8) for _ in range(min(size, 2000)))
            blob = (blob * (size // len(blob) + 1))[:size]
            if k % 3 == 0:
                blob += b"\n"
            with socket.create_connection(("127.0.0.1", station.ports[role]), timeout=2.0) as s:
                try:
                    s.sendall(blob)
                except OSError:
                    pass        # refused over the connection cap, or closed by the instrument
        assert threading.active_count() <= before + len(station.roles) * MAX_CONNECTIONS + 2
        for role, instrument in station.instruments.items():
            deadline = time.monotonic() + 5.0
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", station.ports[role]), timeout=2.0) as s:
                        s.sendall(b"*CLS;*IDN?\n")
                        reply = s.recv(4096)
                    if reply:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, f"{role} stopped answering"
                time.sleep(0.05)
            assert reply.decode("latin-1").strip() == instrument.idn
        assert lock_is_free(station)
        assert station.physics_error is None
    finally:
        station.stop()
