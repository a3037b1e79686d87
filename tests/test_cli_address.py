"""One address grammar for `--hal` and `--port` (lambdarig.hal.address): bare device paths, pyserial
URLs, serial:/visa:/sim: URLs and auto; `baudrate=` for boards on a UART bridge; the frame trace of
the serial link at DEBUG. Run against the emulated rig on a real pty, and over TCP through a relay."""

from __future__ import annotations

import json
import logging

import pytest
from rig_cli_helpers import main
from test_serial_frontend import TOLERANT, Relay

from lambdarig.common.errors import InputError
from lambdarig.hal.address import BAUDRATES, check_baudrate, frontend_url
from lambdarig.hal.registry import open_frontend

pytestmark = [pytest.mark.timeout(90)]


@pytest.mark.parametrize("typed, url", [
    ("/dev/ttyUSB0", "serial:///dev/ttyUSB0"),
    (" /dev/ttyUSB0?baudrate=921600 ", "serial:///dev/ttyUSB0?baudrate=921600"),
    ("./pty0", "serial://./pty0"),
    ("COM3", "serial://COM3"),
    ("socket://127.0.0.1:5000", "serial://socket://127.0.0.1:5000"),
    ("rfc2217://host:2217", "serial://rfc2217://host:2217"),
    ("loop://", "serial://loop://"),
    ("hwgrep://0483:5740", "serial://hwgrep://0483:5740"),
    ("auto", "serial:auto"),
    ("AUTO", "serial:auto"),
    ("serial:///dev/ttyUSB0?baudrate=921600", "serial:///dev/ttyUSB0?baudrate=921600"),
    ("sim:lsu49", "sim:lsu49"),
    ("visa:station.toml", "visa:station.toml"),
    ("foo:bar", "foo:bar"),
])
def test_what_a_user_types_becomes_a_frontend_url(typed, url):
    assert frontend_url(typed) == url


def test_baudrate_is_one_of_the_supported_rates_and_a_bad_one_names_them_and_the_nearest():
    assert check_baudrate("921600", "x") == 921600
    assert 921600 in BAUDRATES and 115200 in BAUDRATES
    with pytest.raises(InputError) as caught:
        check_baudrate("921601", "serial front end", "option 'baudrate'")
    text = str(caught.value)
    assert "baudrate" in text and "115200" in text and "did you mean '921600'?" in text
    with pytest.raises(InputError, match="fast"):
        check_baudrate("fast", "x")


def test_loop_url_opens_through_the_registry_as_a_serial_port():
    # loop:// echoes our own frames: nothing answers HELLO, so it is a front end that is silent.
    from lambdarig.hal.types import FrontEndError
    with pytest.raises(FrontEndError, match="loop://"):
        open_frontend("loop://", timeout_s=0.05, retries=0)


@pytest.mark.parametrize("argv, words", [
    (["run", "--hal", "foo:bar", "--duration", "1"], ["scheme", "serial", "sim", "visa"]),
    (["run", "--hal", "/dev/null?baudrate=921601", "--duration", "1"], ["baudrate", "115200", "'921600'?"]),
    (["settings", "read", "--port", "/dev/null?baudrate=12"], ["baudrate", "1200"]),
    (["settings", "read", "--port", "visa:station.toml"], ["--port", "socket://", "serial"]),
])
def test_bad_addresses_are_bad_input(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    for word in words:
        assert word in err, err


def test_bare_pty_path_at_921600_with_the_frame_trace(rig, capsys):
    """`--hal /dev/pts/N?baudrate=921600` runs; -vv shows one line per frame each way."""
    code = main(["-vv", "run", "--hal", f"{rig.path}?baudrate=921600&{TOLERANT}", "--duration", "0.3", "--json",
                 "--default-settings"])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    assert summary["frontend"] == f"serial://{rig.path}"
    trace = [line for line in err.splitlines() if "lambdarig.hal.frames DEBUG" in line]
    assert any(" TX HELLO seq " in line for line in trace), err[-2000:]
    assert any(" RX SAMPLE seq " in line and " len " in line for line in trace), err[-2000:]
    assert any(" TX SETPOINT " in line for line in trace)
    assert logging.getLogger("lambdarig").level == logging.NOTSET   # the command leaves logging as it was


def test_settings_read_on_a_bare_path_with_baudrate(rig, capsys):
    code = main(["settings", "read", "--port", f"{rig.path}?baudrate=921600"])
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err     # a fresh rig has no settings: said plainly, no traceback
    assert "Traceback" not in captured.err and "not a supported baud rate" not in captured.err


def test_socket_url_as_hal_and_as_port(rig, capsys):
    relay = Relay(rig.path, tcp=True)
    try:
        code = main(["run", "--hal", f"{relay.url}?{TOLERANT}", "--duration", "0.3", "--json",
                     "--default-settings"])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert json.loads(out)["frontend"] == f"serial://{relay.url}"
    finally:
        relay.close()
    relay = Relay(rig.path, tcp=True)      # the relay serves one connection
    try:
        code = main(["settings", "read", "--port", relay.url])
        captured = capsys.readouterr()
        assert code in (0, 1) and "Traceback" not in captured.err, captured.err
        assert "LR0001" in captured.out + captured.err     # the rig answered over TCP
    finally:
        relay.close()


def test_a_run_on_the_rig_reports_its_run_time_not_sim_time(rig, capsys):
    code = main(["run", "--hal", f"{rig.path}?{TOLERANT}", "--duration", "0.3", "--quiet", "--default-settings"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "run time" in out and "sim time" not in out and "real-time factor" not in out, out


def test_a_timed_run_on_the_rig_reports_progress_in_run_time_off_a_terminal(rig, capsys, monkeypatch):
    monkeypatch.setattr("lambdarig.progress.PLAIN_EVERY_S", 0.1)
    code = main(["run", "--hal", f"{rig.path}?{TOLERANT}", "--duration", "0.5", "--json", "--default-settings"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["virtual_time"] is False
    assert "%, ETA" in err and "of 0.5 s run)" in err and "simulated" not in err, err
