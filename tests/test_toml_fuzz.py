"""Seeded fuzz of every TOML input and of the option values written in TOML or URL text (issue 16).

Readers: settings files (`load_settings`), element files (`load_element`), scenario files
(`load_scenario`), station files (`load_station`), `element --set` overrides (`load_element(...,
overrides=)`), and front-end URLs: `sim:` (with `override=`, `scenario=`, ...), `serial:` and `visa:`
query values. Documents are mutations of the shipped files (tests/toml_fuzz.py) plus documents past
the parser's limits. The only allowed outcomes: success, or an InputError (for a URL whose options
are valid: a LambdarigError saying the port or station is not there) with a non-empty one-line
message. Never another exception; every case is bounded (an interval timer interrupts a case that
takes longer than CASE_LIMIT_S, which is a failure).
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from toml_fuzz import dumps, hostile_texts, hostile_values, mutants

from lambdarig.common.errors import InputError, LambdarigError
from lambdarig.common.toml_file import read_toml_file
from lambdarig.controller.settings import Settings, load_settings, settings_from_toml_text
from lambdarig.emulator.element_spec import element_path, load_element
from lambdarig.emulator.scenario import builtin_path, builtin_scenarios, load_scenario
from lambdarig.hal.registry import open_frontend
from lambdarig.protocol.station import load_station

SEED = 20261207
CASE_LIMIT_S = 2.0
MESSAGE_MAX_CHARS = 2000
ELEMENTS = ("lsu49", "hc-mixed", "barrier-layer", "outer-ref", "sealed-ref")

STATION = '''\
[station]
name = "fuzz station"
loop_hz = 50.0
supply_equivalent_v = 13.5
[pump]
model = "keithley2400"
resource = "TCPIP::127.0.0.1::40001::SOCKET"
read_termination = "\\n"
write_termination = "\\n"
timeout_ms = 200
compliance_v = 2.5
current_limit_a = 0.01
[heater]
model = "rigol_dp832"
resource = "TCPIP::127.0.0.1::40002::SOCKET"
channel = 1
timeout_ms = 200
voltage_limit_v = 13.0
current_limit_a = 3.0
[nernst]
model = "keithley2450"
resource = "TCPIP::127.0.0.1::40003::SOCKET"
timeout_ms = 200
reference_current_a = 20e-6
esr_step_a = 100e-6
compliance_v = 3.0
'''


class Hang(Exception):
    """A case ran past CASE_LIMIT_S."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def expire(signum, frame):
        raise Hang(f"took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Outcomes:
    """Runs cases; collects every one whose outcome is not allowed."""

    def __init__(self, allowed: tuple[type[BaseException], ...] = (InputError,), limit_s: float = CASE_LIMIT_S):
        self.allowed = allowed
        self.limit_s = limit_s
        self.bad: list[str] = []
        self.counts = {"ok": 0, "refused": 0}
        self.slowest_s = 0.0

    def run(self, label: str, case: Callable[[], object], closing: Callable[[object], None] | None = None) -> None:
        start = time.perf_counter()
        try:
            with time_limit(self.limit_s):
                result = case()
            if closing is not None:
                closing(result)
            self.counts["ok"] += 1
        except self.allowed as exc:
            message = str(exc)
            if not message.strip() or "\n" in message or "\r" in message or len(message) > MESSAGE_MAX_CHARS:
                self.bad.append(f"{label}: {type(exc).__name__} with a bad message ({len(message)} chars): "
                                f"{message[:300]!r}")
            elif "Traceback" in message:
                self.bad.append(f"{label}: message carries a traceback: {message[:300]!r}")
            else:
                self.counts["refused"] += 1
        except Exception as exc:   # Hang, or anything that is not an allowed refusal
            self.bad.append(f"{label}: {type(exc).__name__}: {str(exc)[:300]}")
        self.slowest_s = max(self.slowest_s, time.perf_counter() - start)

    def check(self) -> None:
        assert not self.bad, f"{len(self.bad)} bad outcomes, e.g.:\n" + "\n".join(self.bad[:8])
        assert self.counts["refused"] > 0   # the fuzz reached the checks, not only the happy path


def fuzz_files(tmp_path: Path, name: str, bases: list[dict], count: int, loader: Callable[[Path], object],
               seed: int) -> Outcomes:
    rng = random.Random(seed)
    outcomes = Outcomes()
    texts = hostile_texts() + [dumps(base) for base in bases]
    per_base = max(1, count // len(bases))
    for base in bases:
        texts += mutants(base, rng, per_base)
    for index, text in enumerate(texts):
        path = tmp_path / f"{name}-{index}.toml"
        path.write_text(text, encoding="utf-8")
        outcomes.run(f"{name} case {index} (seed {seed}): {text[:160]!r}", lambda path=path: loader(path))
        path.unlink()
    return outcomes


def _settings_bases() -> list[dict]:
    from lambdarig.common.toml_file import parse_toml_text

    bases = []
    for element in ELEMENTS:
        text = Settings().to_toml()
        bases.append(parse_toml_text(text.replace('element = "lsu49"', f'element = "{element}"'), "base"))
    return bases


def test_settings_files(tmp_path):
    outcomes = fuzz_files(tmp_path, "settings", _settings_bases(), 400, load_settings, SEED)
    outcomes.check()


def test_settings_text_as_a_rig_stores_it():
    """The settings text a rig hands back (`run` with the device's stored settings) takes the same
    checks without a file: settings_from_toml_text on the same kind of documents."""
    rng = random.Random(SEED + 8)
    outcomes = Outcomes()
    texts = hostile_texts()
    for base in _settings_bases():
        texts += mutants(base, rng, 40)
    for index, text in enumerate(texts):
        outcomes.run(f"stored settings case {index}: {text[:160]!r}",
                     lambda text=text: settings_from_toml_text(text, "rig (stored settings)"))
    outcomes.check()


def test_element_files(tmp_path):
    bases = [read_toml_file(element_path(name)) for name in ELEMENTS]
    outcomes = fuzz_files(tmp_path, "element", bases, 400, lambda path: load_element(str(path)), SEED + 1)
    outcomes.check()


def test_scenario_files(tmp_path):
    bases = [read_toml_file(builtin_path(name)) for name in builtin_scenarios()]
    outcomes = fuzz_files(tmp_path, "scenario", bases, 400, lambda path: load_scenario(str(path)), SEED + 2)
    outcomes.check()


def test_station_files(tmp_path):
    from lambdarig.common.toml_file import parse_toml_text

    bases = [parse_toml_text(STATION, "base")]
    outcomes = fuzz_files(tmp_path, "station", bases, 400, load_station, SEED + 3)
    outcomes.check()


# --- overrides and URL option values -------------------------------------------------------------------

def _value_texts(rng: random.Random) -> list[str]:
    """Override values as written on a command line: TOML values, bare text, broken TOML."""
    texts = [dumps({"v": value})[6:-1] for value in hostile_values(rng)]
    texts += ["", "=", "[", "{", '"', "abc", "1e999", "-1e999", "0x10", "1_000", "9" * 5000, "nan", "inf",
              "[" * 3000 + "]" * 3000, "{a=" * 3000 + "1" + "}" * 3000, "\x00", "\udcff"[:0] + "ÿ"]
    return texts


def _override_keys(rng: random.Random) -> list[str]:
    data = read_toml_file(element_path(rng.choice(ELEMENTS)))
    keys = [f"{section}.{key}" for section, table in data.items() if isinstance(table, dict) for key in table]
    keys += [key for key, value in data.items() if not isinstance(value, dict)]
    keys += ["", ".", "..", "heater.", ".heater", "nosuch.key", "heater.nosuch", "λ.λ", "a" * 400,
             "heater.r_cold_ohm.x", "heater .r_cold_ohm", "HEATER.R_COLD_OHM"]
    return keys


def _assignments(rng: random.Random, count: int) -> list[str]:
    keys = _override_keys(rng)
    values = _value_texts(rng)
    made = ["", "=", "==", "heater", "=1", "heater.r_cold_ohm", "heater.r_cold_ohm==1"]
    while len(made) < count:
        made.append(f"{rng.choice(keys)}{rng.choice(['=', ' = ', '='])}{rng.choice(values)}")
    return made


def test_element_set_overrides():
    rng = random.Random(SEED + 4)
    outcomes = Outcomes()
    for index, assignment in enumerate(_assignments(rng, 500)):
        element = rng.choice(ELEMENTS)
        extra = [a for a in _assignments(rng, rng.randint(0, 2))][7:]
        outcomes.run(f"--set case {index}: {element} {assignment[:160]!r}",
                     lambda element=element, a=[assignment, *extra]: load_element(element, overrides=a))
    outcomes.check()


def _close(frontend: object) -> None:
    close = getattr(frontend, "close", None)
    if close is not None:
        close()


def _query(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(key, safe='')}={quote(value, safe='')}" for key, value in pairs)


def test_sim_url_values():
    rng = random.Random(SEED + 5)
    values = _value_texts(rng) + ["3", "0", "-1", "1.5", "default", "faults", "cold-start", "nosuch",
                                  "/nonexistent/x.toml", "/dev/null", "/proc/version", "0.001", "1e-9", "10"]
    keys = ["seed", "scenario", "override", "link_loss_s", "max_step_s", "Seed", "overide", "", "λ"]
    assignments = _assignments(rng, 60)
    targets = ["lsu49", "hc-mixed", "", "nosuch", "/dev/null", "/nonexistent/e.toml", "LSU49", "λ", "a" * 400]
    outcomes = Outcomes()
    for index in range(220):
        pairs = []
        for _ in range(rng.randint(1, 3)):
            key = rng.choice(keys)
            value = rng.choice(assignments) if key == "override" and rng.random() < 0.7 else rng.choice(values)
            pairs.append((key, value))
        target = rng.choice(targets) if rng.random() < 0.2 else "lsu49"
        url = f"sim:{quote(target, safe='/')}?{_query(pairs)}"
        outcomes.run(f"sim case {index}: {url[:200]!r}", lambda url=url: open_frontend(url), _close)
    outcomes.check()


def test_serial_url_values(tmp_path):
    rng = random.Random(SEED + 6)
    values = _value_texts(rng) + ["1", "0", "500", "65535", "65536", "0.2", "0.005", "60", "yes", "off", "2"]
    keys = ["rate_hz", "watchdog_ms", "timeout_s", "retries", "link_timeout_s", "reconnect", "exclusive",
            "rate", "Retries", "λ", ""]
    port = str(tmp_path / "no-such-tty")
    # A URL with valid options gets as far as opening the port, which is not there: a FrontEndError.
    outcomes = Outcomes(allowed=(LambdarigError,))
    for index in range(300):
        pairs = [(rng.choice(keys), rng.choice(values)) for _ in range(rng.randint(1, 3))]
        url = f"serial://{port}?{_query(pairs)}"
        outcomes.run(f"serial case {index}: {url[:200]!r}", lambda url=url: open_frontend(url), _close)
    for url in ["serial:", "serial://", "serial:?rate_hz=5", "serial://?x=1", f"serial://{port}?" + "&" * 5000]:
        outcomes.run(f"serial {url[:60]!r}", lambda url=url: open_frontend(url), _close)
    outcomes.check()
    assert outcomes.counts["ok"] == 0


def test_visa_url_values(tmp_path):
    rng = random.Random(SEED + 7)
    values = _value_texts(rng) + ["1", "0", "10", "100", "0.01", "10", "auto", "sense", "stop", "warn", "@py",
                                  "@sim", "", " "]
    keys = ["heater_every", "esr_every", "error_every", "supply_sense", "on_compliance", "nplc", "visa_library",
            "NPLC", "nplcs", "λ", ""]
    station = str(tmp_path / "no-such-station.toml")
    # Valid options get as far as reading the station file, which is not there: a StationError.
    outcomes = Outcomes()
    for index in range(300):
        pairs = [(rng.choice(keys), rng.choice(values)) for _ in range(rng.randint(1, 3))]
        url = f"visa:{station}?{_query(pairs)}"
        outcomes.run(f"visa case {index}: {url[:200]!r}", lambda url=url: open_frontend(url), _close)
    for url in ["visa:", "visa:?nplc=1", "visa://", "visa:/dev/null", "visa:/proc/version", f"visa:{tmp_path}"]:
        outcomes.run(f"visa {url!r}", lambda url=url: open_frontend(url), _close)
    outcomes.check()
    assert outcomes.counts["ok"] == 0


def test_the_harness_catches_a_traceback_and_a_hang():
    """The fuzz would see what it is looking for: another exception and a case that does not end."""
    outcomes = Outcomes(limit_s=0.2)
    outcomes.run("raises", lambda: int("x"))
    outcomes.run("hangs", lambda: time.sleep(5))
    outcomes.run("two lines", lambda: (_ for _ in ()).throw(InputError("s", "f", "a\nb")))
    assert len(outcomes.bad) == 3
    assert "ValueError" in outcomes.bad[0] and "Hang" in outcomes.bad[1] and "bad message" in outcomes.bad[2]


@pytest.mark.parametrize("name", sorted(builtin_scenarios()))
def test_every_shipped_scenario_survives_the_writer(name):
    """The fuzz's TOML writer reproduces each shipped file (so mutants start from the real thing)."""
    from lambdarig.common.toml_file import parse_toml_text

    data = read_toml_file(builtin_path(name))
    assert parse_toml_text(dumps(data), "again") == data


LONG_NAME = "a" * 300   # longer than a file name may be (255 bytes): stat() raises ENAMETOOLONG


def test_an_element_name_too_long_for_the_system_is_an_unknown_element():
    """Before: OSError [Errno 36] File name too long, a traceback from `lambdarig element aaa...`."""
    with pytest.raises(InputError, match="unknown element") as caught:
        load_element(LONG_NAME)
    assert len(str(caught.value)) < MESSAGE_MAX_CHARS


def test_a_scenario_name_too_long_for_the_system_is_refused():
    with pytest.raises(InputError):
        load_scenario(LONG_NAME)
