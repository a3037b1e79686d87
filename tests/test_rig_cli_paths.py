"""Paths given to the serial-side commands (issue 16, item 7): `serve rig --flash` at a folder, a
missing folder, /dev/full, /dev/null, /proc/version, a FIFO, an existing empty or foreign file;
`flash` / `settings diff` with a FIFO as the settings file; `settings read --out` at a folder, a FIFO,
a device or a missing folder. Each is one clear line on stderr, exit 2, no traceback, no hang and
nothing written, created or overwritten."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rig_cli_helpers import main
from test_flash_cli import GOOD, SERIAL, toml_file

from lambdarig.emulator.serial_rig import RigServer

ROOT = Path(__file__).resolve().parents[1]
HANG_LIMIT_S = 30.0          # a refusal takes well under a second; only a hang gets near this


def serve_rig_flash_cases(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """name -> (the --flash path, a word the error must contain)."""
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    foreign = tmp_path / "notes.txt"
    foreign.write_text("my notes, not a flash image\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    return {
        "directory": (str(folder), "directory"),
        "missing-folder": (str(tmp_path / "no" / "such" / "flash.bin"), "does not exist"),
        "dev-full": ("/dev/full", "device"),
        "dev-null": ("/dev/null", "device"),
        "proc-version": ("/proc/version", "empty file"),
        "fifo": (str(fifo), "FIFO"),
        "empty-file": (str(empty), "empty file"),
        "foreign-file": (str(foreign), "bytes"),
    }


def test_serve_rig_refuses_every_flash_path_that_is_not_a_flash_file(tmp_path):
    cases = serve_rig_flash_cases(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = {name: subprocess.Popen([sys.executable, "-m", "lambdarig", "serve", "rig", "--flash", path],
                                    cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for name, (path, _) in cases.items()}
    failures = []
    for name, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=HANG_LIMIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            failures.append(f"{name}: still serving after {HANG_LIMIT_S:g} s")
            continue
        text = err.decode()
        word = cases[name][1]
        if proc.returncode != 2 or "Traceback" in text or word not in text or len(text.strip().splitlines()) != 1:
            failures.append(f"{name}: exit {proc.returncode}, stderr {text!r}")
        if out:
            failures.append(f"{name}: printed {out!r} (a pty path: it started serving)")
    assert not failures, "\n".join(failures)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before, "a refused --flash path changed or created a file"
    assert not (tmp_path / "no").exists(), "a missing folder was created"
    assert list((tmp_path / "folder").iterdir()) == []


def test_serve_rig_makes_a_new_flash_file_and_reuses_it(tmp_path):
    flash = tmp_path / "new.bin"
    RigServer(flash_path=flash).close()
    made = flash.read_bytes()
    assert len(made) == 2 * 4096 + 32 and set(made) == {0xFF}
    RigServer(flash_path=flash).close()            # an existing flash file of the right size is reused
    assert flash.read_bytes() == made


@pytest.fixture
def rig(tmp_path):
    server = RigServer(scenario="free-air", flash_path=tmp_path / "flash.bin", serial_number=SERIAL).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("command", [["flash"], ["settings", "diff"]], ids=["flash", "settings-diff"])
def test_a_fifo_as_the_settings_file_is_refused_without_waiting(rig, tmp_path, capsys, command):
    fifo = tmp_path / "settings.toml"
    os.mkfifo(fifo)                    # no writer: opening it to read would wait for ever
    flash_before = Path(rig.flash_path).read_bytes()
    assert main([*command, str(fifo), "--port", rig.path]) == 2
    err = capsys.readouterr().err
    assert "FIFO" in err and str(fifo) in err and len(err.strip().splitlines()) == 1, err
    assert Path(rig.flash_path).read_bytes() == flash_before


def test_settings_read_out_paths_are_refused_before_the_rig_is_asked(rig, tmp_path, capsys):
    assert main(["flash", toml_file(tmp_path, GOOD), "--port", rig.path]) == 0
    capsys.readouterr()
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    cases = {str(tmp_path): "directory", str(fifo): "FIFO", "/dev/full": "device",
             str(tmp_path / "no" / "x.toml"): "does not exist"}
    for out, word in cases.items():
        assert main(["settings", "read", "--port", rig.path, "--out", out]) == 2, out
        err = capsys.readouterr().err
        assert word in err and "--out" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "no").exists()
    good = tmp_path / "read.toml"
    assert main(["settings", "read", "--port", rig.path, "--out", str(good)]) == 0
    assert "target_temp_c = 800.0" in good.read_text()
    # An existing file is replaced only with --force (as calibrate --out, serve instruments --station-out).
    good.write_text("# my notes\n")
    assert main(["settings", "read", "--port", rig.path, "--out", str(good)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err and len(err.strip().splitlines()) == 1, err
    assert good.read_text() == "# my notes\n"
    assert main(["settings", "read", "--port", rig.path, "--out", str(good), "--force"]) == 0
    assert "target_temp_c = 800.0" in good.read_text()


# --- which rig, and what it says (issue 16, item 10) ----------------------------------------------

def test_flash_names_the_rig_before_writing_and_strips_escapes_from_device_text(tmp_path, capsys):
    hostile = "LR\x1b[2J\x1b]0;x\x07"         # clears the screen and retitles the terminal
    rig = RigServer(scenario="free-air", flash_path=tmp_path / "flash.bin", serial_number=hostile).start()
    try:
        path = toml_file(tmp_path, GOOD)
        assert main(["flash", path, "--port", rig.path]) == 0
        captured = capsys.readouterr()
        assert f"writing to rig LR (lsu49, firmware 0.1.0) on {rig.path}" in captured.err, captured.err
        assert main(["settings", "read", "--port", rig.path]) == 0
        read = capsys.readouterr()
        assert main(["flash", path, "--port", rig.path, "--device-serial", "LR0001"]) == 2
        refused = capsys.readouterr()
        for text in (captured.out, captured.err, read.out, read.err, refused.out, refused.err):
            assert "\x1b" not in text and "\x07" not in text, repr(text)
        assert "writing to rig" not in refused.err     # refused before anything is written
    finally:
        rig.stop()


def test_the_host_port_is_exclusive(rig):
    from lambdarig.hal.rig_link import RigLink
    from lambdarig.hal.types import FrontEndError

    first = RigLink(rig.path)
    try:
        with pytest.raises(FrontEndError, match="in use"):
            RigLink(rig.path)
    finally:
        first.close()


def test_a_refused_link_leaves_no_new_flash_file(tmp_path, capsys):
    flash = tmp_path / "new.bin"
    assert main(["serve", "rig", "--flash", str(flash), "--link", str(tmp_path / "no" / "link")]) == 2
    err = capsys.readouterr().err
    assert "--link" in err and len(err.strip().splitlines()) == 1, err
    assert not flash.exists() and not (tmp_path / "no").exists()


@pytest.mark.parametrize("command", [["flash", "SETTINGS", "--port"], ["settings", "read", "--port"],
                                     ["run", "--duration", "0.1", "--quiet", "--hal"]], ids=["flash", "read", "run"])
def test_a_port_that_is_not_a_serial_port_is_said_in_words(tmp_path, capsys, command):
    """The trial saw pyserial's raw text: "([Errno 2] could not open port ...: [Errno 2] No such file
    ...)", "Could not configure port: (25, 'Inappropriate ioctl for device')"."""
    settings = toml_file(tmp_path, GOOD)
    argv = [settings if word == "SETTINGS" else word for word in command]
    plain = tmp_path / "notes.txt"
    plain.write_text("not a port\n")
    for port, words in ((str(plain), f"{plain} is not a serial port"), ("/dev/null", "/dev/null is not a serial port"),
                        (str(tmp_path / "gone"), f"rig port {tmp_path / 'gone'} does not exist")):
        assert main([*argv, port]) == 3, port
        err = capsys.readouterr().err
        assert words in err and "Errno" not in err and "ioctl" not in err, err
        assert len(err.strip().splitlines()) == 1, err
