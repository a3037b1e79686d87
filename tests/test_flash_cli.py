"""`lambdarig flash` and `lambdarig settings read|diff` against the emulated rig on a real
pseudo-terminal (emulator.serial_rig.RigServer, hal.rig_link.RigLink over pyserial): the flash
sequence, read/diff, every refusal before anything is written (the rig's flash file is byte-for-byte
unchanged), --json, and a power loss at every flash operation (a subprocess rig killed mid-write)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from realtime import STARTUP_S, RigProcess
from rig_cli_helpers import main

from lambdarig.cli.flash import STEPS
from lambdarig.controller.settings import SCHEMA_VERSION, Settings, load_settings, settings_from_toml_text
from lambdarig.controller.settings_image import decode_image, encode_settings
from lambdarig.emulator.serial_rig import RigServer
from lambdarig.hal.rig_link import RigLink
from lambdarig.protocol.codes import MAX_WRITE
from lambdarig.protocol.image import image_crc

pytestmark = pytest.mark.usefixtures("no_gc_pauses")  # on the wall clock: see tests/conftest.py

ROOT = Path(__file__).resolve().parents[1]
SERIAL = "LR-TEST-7"
GOOD = """\
schema_version = 1
[heater]
target_temp_c = 800.0
kp_v_per_k = 0.5
[conversion]
fuel = "e85"
pressure_compensation = false
[diagnostics]
max_retries = 3
"""


@pytest.fixture
def rig(tmp_path):
    server = RigServer(element="lsu49", scenario="free-air", flash_path=tmp_path / "flash.bin", serial_number=SERIAL)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def toml_file(tmp_path: Path, text: str, name: str = "settings.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def rig_info(rig: RigServer):
    link = RigLink(rig.path)
    try:
        return link.settings_info(), link.settings_read_active()
    finally:
        link.close()


def flash_bytes(rig: RigServer) -> bytes:
    return Path(rig.flash_path).read_bytes()


def test_flash_writes_verifies_commits_and_confirms(rig, tmp_path, monkeypatch, capsys):
    path = toml_file(tmp_path, GOOD)
    assert main(["flash", path, "--port", rig.path], monkeypatch) == 0
    out = capsys.readouterr().out
    assert f"flashed {path} to rig {SERIAL} (lsu49, firmware 0.1.0) on {rig.path}" in out
    assert "committed  no settings -> slot 0, generation 1" in out
    info, image = rig_info(rig)
    expected = encode_settings(load_settings(path), SERIAL)
    assert image == expected
    assert info.generation == 1 and info.image_crc == image_crc(expected) and info.image_length == len(expected)
    assert decode_image(image, SERIAL) == load_settings(path)
    assert rig.settings == expected  # what the emulated firmware booted into


def test_flash_json_and_second_flash_switches_slot(rig, tmp_path, monkeypatch, capsys):
    path = toml_file(tmp_path, GOOD)
    assert main(["flash", path, "--port", f"serial://{rig.path}", "--json"], monkeypatch) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["ok"] is True and first["steps"] == list(STEPS)
    assert first["serial_number"] == SERIAL and first["element"] == "lsu49"
    assert first["generation_before"] == 0 and first["generation_after"] == 1
    assert first["active_slot_before"] is None and first["active_slot_after"] == 0
    assert first["image_crc"] == f"0x{image_crc(encode_settings(load_settings(path), SERIAL)):08X}"
    assert first["schema_version"] == SCHEMA_VERSION and first["unchanged"] is False
    assert first["chunks"] == -(-first["image_length"] // MAX_WRITE)

    other = toml_file(tmp_path, GOOD.replace("800.0", "790.0"), "other.toml")
    assert main(["flash", other, "--port", rig.path, "--json"], monkeypatch) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["generation_before"] == 1 and second["generation_after"] == 2
    assert second["active_slot_before"] == 0 and second["active_slot_after"] == 1
    assert second["previous_crc"] == first["image_crc"] and second["unchanged"] is False
    info, image = rig_info(rig)
    assert decode_image(image).heater.target_temp_c == 790.0


def test_settings_read_prints_toml_and_writes_file(rig, tmp_path, monkeypatch, capsys):
    path = toml_file(tmp_path, GOOD)
    assert main(["flash", path, "--port", rig.path], monkeypatch) == 0
    capsys.readouterr()
    assert main(["settings", "read", "--port", rig.path], monkeypatch) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# read from rig {SERIAL} (lsu49) on {rig.path}: generation 1, image made for {SERIAL}")
    assert settings_from_toml_text(out) == load_settings(path)
    saved = tmp_path / "saved.toml"
    assert main(["settings", "read", "--port", rig.path, "--out", str(saved)], monkeypatch) == 0
    assert f"to {saved}" in capsys.readouterr().out
    assert load_settings(saved) == load_settings(path)


def test_settings_read_without_stored_settings(rig, monkeypatch, capsys):
    assert main(["settings", "read", "--port", rig.path], monkeypatch) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"the rig {SERIAL} has no stored settings" in captured.err
    assert "defaults for lsu49" in captured.err


def test_settings_diff(rig, tmp_path, monkeypatch, capsys):
    path = toml_file(tmp_path, GOOD)
    # Empty rig: compared with the defaults it runs with.
    assert main(["settings", "diff", path, "--port", rig.path], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "no stored settings: the defaults it runs with" in out
    assert "5 field(s) would change" in out
    row = next(line.split() for line in out.splitlines() if "heater.target_temp_c" in line)
    assert row == ["heater.target_temp_c", "780.0", "800.0", "°C"]
    assert any(line.split() == ["conversion.pressure_compensation", "true", "false"] for line in out.splitlines())
    assert any(line.split() == ["conversion.fuel", "gasoline", "e85"] for line in out.splitlines())
    assert any(line.split() == ["diagnostics.max_retries", "5", "3", "-"] for line in out.splitlines())  # no blank UNIT

    assert main(["flash", path, "--port", rig.path], monkeypatch) == 0
    capsys.readouterr()
    assert main(["settings", "diff", path, "--port", rig.path], monkeypatch) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"no differences: {path} matches the settings of rig {SERIAL} (generation 1)")

    changed = toml_file(tmp_path, GOOD.replace("kp_v_per_k = 0.5", "kp_v_per_k = 0.7"), "changed.toml")
    assert main(["settings", "diff", changed, "--port", rig.path, "--json"], monkeypatch) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["stored"] is True and data["generation"] == 1 and data["element_mismatch"] is None
    assert data["changes"] == [{"field": "heater.kp_v_per_k", "rig": 0.5, "file": 0.7, "unit": "V/K"}]


def test_diff_notes_an_element_mismatch(rig, tmp_path, monkeypatch, capsys):
    path = toml_file(tmp_path, '[sensor]\nelement = "outer-ref"\n')
    assert main(["settings", "diff", path, "--port", rig.path], monkeypatch) == 0
    out = capsys.readouterr().out
    assert any(line.split() == ["sensor.element", "lsu49", "outer-ref"] for line in out.splitlines())
    assert "refuses it without --force-element" in out


# What `lambdarig calibrate --free-air` stored on the trial's rig (the value from /work/wt/notes/trial.md).
MEASURED_SPAN = 0.9858812242747164


def stored_settings(rig: RigServer) -> Settings:
    return decode_image(rig_info(rig)[1])


def test_flash_keeps_the_rigs_calibration_unless_the_file_sets_it(rig, tmp_path, monkeypatch, capsys):
    """A flash of unrelated settings keeps conversion.span_correction (the calibration of the sensor
    on the rig) and says so; --reset-calibration or a file that sets it writes the file's value; the
    report lists each changed field old -> new; settings diff shows what flash would write."""
    calibrated = toml_file(tmp_path, f"[conversion]\nspan_correction = {MEASURED_SPAN!r}\n", "cal.toml")
    assert main(["flash", calibrated, "--port", rig.path], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "changed    conversion.span_correction  1.0 -> 0.985881  (the rig's calibration" in out

    path = toml_file(tmp_path, GOOD)                 # does not set span_correction
    assert main(["settings", "diff", path, "--port", rig.path], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "5 field(s) would change" in out
    assert not any(line.split()[:1] == ["conversion.span_correction"] for line in out.splitlines())
    assert "kept: conversion.span_correction = 0.985881, the rig's calibration" in out
    assert main(["settings", "diff", path, "--port", rig.path, "--reset-calibration"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert any(line.split() == ["conversion.span_correction", "0.985881", "1.0", "-"] for line in out.splitlines())

    assert main(["flash", path, "--port", rig.path], monkeypatch) == 0
    out = capsys.readouterr().out
    assert stored_settings(rig).conversion.span_correction == MEASURED_SPAN
    assert stored_settings(rig).heater.target_temp_c == 800.0
    assert "changed    heater.target_temp_c              780.0 -> 800.0 °C" in out
    assert "conversion.fuel                   gasoline -> e85" in out
    assert (f"kept       conversion.span_correction = 0.985881: the rig's calibration (`lambdarig calibrate "
            f"--free-air`); {path} does not set it (--reset-calibration writes 1.0)") in out
    assert main(["settings", "diff", path, "--port", rig.path], monkeypatch) == 0
    assert capsys.readouterr().out.startswith("no differences")

    assert main(["flash", path, "--port", rig.path, "--reset-calibration", "--json"], monkeypatch) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kept"] == []
    assert report["changes"] == [{"field": "conversion.span_correction", "before": MEASURED_SPAN, "after": 1.0,
                                  "unit": ""}]
    assert stored_settings(rig).conversion.span_correction == 1.0

    assert main(["flash", calibrated, "--port", rig.path], monkeypatch) == 0
    capsys.readouterr()
    explicit = toml_file(tmp_path, GOOD.replace('fuel = "e85"', 'fuel = "e85"\nspan_correction = 1.1'),
                         "explicit.toml")
    assert main(["flash", explicit, "--port", rig.path, "--json"], monkeypatch) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kept"] == [] and stored_settings(rig).conversion.span_correction == 1.1


def test_settings_diff_prints_floats_readably(rig, tmp_path, monkeypatch, capsys):
    calibrated = toml_file(tmp_path, f"[conversion]\nspan_correction = {MEASURED_SPAN!r}\n", "cal.toml")
    assert main(["flash", calibrated, "--port", rig.path], monkeypatch) == 0
    capsys.readouterr()
    close = toml_file(tmp_path, f"[conversion]\nspan_correction = {MEASURED_SPAN + 1e-9!r}\n", "close.toml")
    assert main(["settings", "diff", close, "--port", rig.path], monkeypatch) == 0
    row = next(line.split() for line in capsys.readouterr().out.splitlines() if "span_correction" in line)
    assert row == ["conversion.span_correction", repr(MEASURED_SPAN), repr(MEASURED_SPAN + 1e-9), "-"]  # told apart


@pytest.mark.slow
@pytest.mark.usefixtures("no_gc_pauses")   # on the wall clock
def test_flash_after_a_real_free_air_calibration_keeps_it(tmp_path, monkeypatch, capsys):
    """The trial's sequence: `calibrate --free-air` on the emulated rig, then `flash` of a file that
    changes only the heater target: the measured span stays in the rig."""
    server = RigServer(element="lsu49", scenario="free-air", flash_path=tmp_path / "flash.bin",
                       serial_number=SERIAL).start()
    fast = toml_file(tmp_path, "[heater]\ncondensation_s = 1.0\n", "fast.toml")   # a short warm-up
    hot = toml_file(tmp_path, "[heater]\ncondensation_s = 1.0\ntarget_temp_c = 790.0\n", "hot.toml")
    try:
        url = f"serial://{server.path}?link_timeout_s=1.0&watchdog_ms=1000"
        assert main(["calibrate", "--free-air", "--hal", url, "--settings", fast, "--duration", "25",
                     "--json"], monkeypatch) == 0
        span = json.loads(capsys.readouterr().out)["span_correction"]
        assert span != 1.0
        assert main(["flash", hot, "--port", server.path], monkeypatch) == 0
        assert "kept       conversion.span_correction" in capsys.readouterr().out
        stored = stored_settings(server)
    finally:
        server.stop()
    assert stored.heater.target_temp_c == 790.0
    assert stored.conversion.span_correction == pytest.approx(span, rel=1e-5)


BAD_FILES = {
    "unknown key": ("[heater]\ntarget_temp = 800.0\n", ["heater.target_temp", "unknown setting"]),
    "unknown section": ("[heaters]\ntarget_temp_c = 800.0\n", ["heaters", "unknown section"]),
    "out of range": ("[heater]\ntarget_temp_c = 1200.0\n", ["heater.target_temp_c", "600 to 900 °C"]),
    "over the LSU heater rule": ("[heater]\nboost_max_v = 14.0\n", ["heater.boost_max_v", "0 to 13 V"]),
    "wrong type": ("[diagnostics]\nmax_retries = 2.5\n", ["diagnostics.max_retries", "whole number"]),
    "wrong schema version": ("schema_version = 2\n[heater]\ntarget_temp_c = 800.0\n", ["schema_version", "2"]),
    "cross-field rule": ("[supply]\non_v = 8.0\noff_v = 9.0\n", ["supply.off_v", "below supply.on_v"]),
    "not TOML": ("[heater\n", ["not valid TOML"]),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_bad_settings_are_refused_before_anything_is_written(rig, tmp_path, monkeypatch, capsys, case):
    good = toml_file(tmp_path, GOOD, "good.toml")
    assert main(["flash", good, "--port", rig.path], monkeypatch) == 0
    capsys.readouterr()
    before = flash_bytes(rig)
    text, expected = BAD_FILES[case]
    path = toml_file(tmp_path, text)
    assert main(["flash", path, "--port", rig.path], monkeypatch) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    for fragment in expected:
        assert fragment in captured.err
    assert flash_bytes(rig) == before                     # not a byte of flash touched
    info, image = rig_info(rig)
    assert info.generation == 1 and image == encode_settings(load_settings(good), SERIAL)
    # Checked before the port is even opened: a port that does not exist changes nothing.
    assert main(["flash", path, "--port", str(tmp_path / "no-such-port")], monkeypatch) == 2


def test_wrong_device_serial_is_refused_before_writing(rig, tmp_path, monkeypatch, capsys):
    path = toml_file(tmp_path, GOOD)
    before = flash_bytes(rig)
    assert main(["flash", path, "--port", rig.path, "--device-serial", "LR-OTHER"], monkeypatch) == 2
    err = capsys.readouterr().err
    assert "--device-serial" in err and SERIAL in err and "LR-OTHER" in err and "nothing was written" in err
    assert flash_bytes(rig) == before
    assert rig_info(rig)[0].generation == 0
    assert main(["flash", path, "--port", rig.path, "--device-serial", SERIAL], monkeypatch) == 0


def test_element_mismatch_is_refused_unless_forced(rig, tmp_path, monkeypatch, capsys):
    path = toml_file(tmp_path, '[sensor]\nelement = "barrier-layer"\n')
    before = flash_bytes(rig)
    assert main(["flash", path, "--port", rig.path], monkeypatch) == 2
    err = capsys.readouterr().err
    assert "sensor.element" in err and "'barrier-layer'" in err and "'lsu49'" in err and "--force-element" in err
    assert flash_bytes(rig) == before
    assert main(["flash", path, "--port", rig.path, "--force-element"], monkeypatch) == 0
    assert "warning: --force-element" in capsys.readouterr().out
    assert decode_image(rig_info(rig)[1]).sensor.element == "barrier-layer"


def test_image_made_for_another_rig_is_refused_when_read(rig, monkeypatch, capsys):
    image = encode_settings(Settings(), "LR-ELSEWHERE")       # written with the raw link, bypassing flash
    link = RigLink(rig.path)
    try:
        link.settings_erase()
        link.settings_write(0, image)
        link.settings_commit(image_crc(image))
    finally:
        link.close()
    assert main(["settings", "read", "--port", rig.path], monkeypatch) == 2
    err = capsys.readouterr().err
    assert "LR-ELSEWHERE" in err and SERIAL in err and "device serial" in err


def test_port_errors_exit_3(rig, tmp_path, monkeypatch, capsys):
    path = toml_file(tmp_path, GOOD)
    assert main(["flash", path, "--port", str(tmp_path / "nope")], monkeypatch) == 3
    assert "does not exist" in capsys.readouterr().err
    holder = RigLink(rig.path, exclusive=True)   # e.g. a `lambdarig run` on the same port
    try:
        before = flash_bytes(rig)
        assert main(["flash", path, "--port", rig.path], monkeypatch) == 3
        assert "in use" in capsys.readouterr().err
        assert flash_bytes(rig) == before
        assert main(["settings", "read", "--port", rig.path], monkeypatch) == 3
    finally:
        holder.close()


# --- power loss during `lambdarig flash` ---------------------------------------------------------

def rig_process(flash: Path, die_after: int | None = None) -> RigProcess:
    """`lambdarig serve rig` in a subprocess (so a simulated power cut can end it)."""
    return RigProcess(flash, scenario="free-air", serial_number=SERIAL, die_after_flash_ops=die_after)


@pytest.mark.slow
def test_power_loss_at_every_flash_operation_leaves_old_or_new_settings(tmp_path, monkeypatch, capsys):
    old = toml_file(tmp_path, GOOD, "old.toml")
    new = toml_file(tmp_path, GOOD.replace("800.0", "760.0").replace('"e85"', '"methanol"'), "new.toml")
    old_settings, new_settings = load_settings(old), load_settings(new)
    flash = tmp_path / "flash.bin"
    rig = rig_process(flash)
    try:
        assert main(["flash", old, "--port", rig.path], monkeypatch) == 0
        capsys.readouterr()
        rig.stop()
        image_ops = 2 + -(-len(encode_settings(new_settings, SERIAL)) // MAX_WRITE) + 1  # erases, writes, record
        for op in range(1, image_ops + 1):
            rig = rig_process(flash, die_after=op)
            code = main(["flash", new, "--port", rig.path], monkeypatch)
            err = capsys.readouterr().err
            assert code == 3, f"op {op}: {err}"
            assert rig.proc.wait(STARTUP_S) == 70                 # the rig died in that operation
            assert "flash failed at step" in err
            if op < image_ops:
                assert "nothing was committed, the rig's active settings were not touched" in err, err
            else:
                assert "step 'commit'" in err and "either the old or the new settings" in err, err
            rig = rig_process(flash)                            # power back on
            assert main(["settings", "read", "--port", rig.path], monkeypatch) == 0, capsys.readouterr().err
            booted = settings_from_toml_text(capsys.readouterr().out)
            rig.stop()
            # A torn commit record boots the old settings; never a mix, never garbage.
            assert booted == old_settings, f"power loss in flash op {op}/{image_ops}"
        rig = rig_process(flash, die_after=image_ops + 1)       # this time the power holds
        assert main(["flash", new, "--port", rig.path], monkeypatch) == 0
        capsys.readouterr()
        rig.stop()
        rig = rig_process(flash)
        assert main(["settings", "read", "--port", rig.path], monkeypatch) == 0
        assert settings_from_toml_text(capsys.readouterr().out) == new_settings
    finally:
        rig.stop()


def test_port_auto_uses_discovery(rig, tmp_path, monkeypatch, capsys):
    from serial.tools.list_ports_common import ListPortInfo

    from lambdarig.hal import ports

    path = toml_file(tmp_path, GOOD)
    monkeypatch.setattr(ports, "system_ports", lambda: [])
    assert main(["flash", path, "--port", "auto"], monkeypatch) == 3
    assert "no lambdarig bench board found" in capsys.readouterr().err
    # pyserial never lists a pty; describe the emulated rig's pty as the board it stands for.
    board = ListPortInfo(rig.path, skip_link_detection=True)
    board.vid, board.pid, board.serial_number, board.product = 0x0483, 0x5740, SERIAL, "lambdarig bench board"
    monkeypatch.setattr(ports, "system_ports", lambda: [board])
    assert main(["flash", path, "--port", "serial:auto"], monkeypatch) == 0
    assert f"on {rig.path}" in capsys.readouterr().out
    assert main(["settings", "diff", path, "--port", "auto"], monkeypatch) == 0
    assert "no differences" in capsys.readouterr().out


def test_run_uses_the_rigs_flashed_settings_unless_told_otherwise(rig, tmp_path, monkeypatch, capsys):
    """After a flash, `run --hal serial://...` runs the firmware with the rig's settings (the flashed
    800 °C target shows in its log header line); --default-settings ignores them."""
    from lambdarig.controller.settings_image import image_to_toml

    path = toml_file(tmp_path, GOOD)
    assert main(["flash", path, "--port", rig.path], monkeypatch) == 0
    capsys.readouterr()
    # the rig is a thread of this process: link timeouts a loaded machine's stall does not reach
    url = f"serial://{rig.path}?link_timeout_s=1.0&watchdog_ms=1000"
    assert main(["run", "--hal", url, "--duration", "0.3", "--json"], monkeypatch) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["final_state"] == "stopped"
    _, image = rig_info(rig)
    stored = settings_from_toml_text(image_to_toml(image))
    assert stored.heater.target_temp_c == 800.0 and stored.conversion.fuel == "e85"

    from lambdarig import api  # `run` goes through the package API
    seen = {}
    real_controller = api.Controller

    def spy(settings, *args, **kwargs):
        seen["settings"] = settings
        return real_controller(settings, *args, **kwargs)

    monkeypatch.setattr(api, "Controller", spy)
    assert main(["run", "--hal", url, "--duration", "0.2", "--quiet"], monkeypatch) == 0
    assert "settings from device" in capsys.readouterr().err
    assert seen["settings"].heater.target_temp_c == 800.0
    assert main(["run", "--hal", url, "--duration", "0.2", "--quiet", "--default-settings"], monkeypatch) == 0
    assert "settings from defaults" in capsys.readouterr().err
    assert seen["settings"].heater.target_temp_c == 780.0


def test_the_flash_example_in_the_docs_has_todays_image_size():
    """docs/settings.md shows a flash report; its image size and chunk count are those of today's schema
    (the trial found 557 bytes / 3 chunks there while the rig wrote more)."""
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    size, chunks = re.search(r"image +(\d+) bytes.*\n +written +(\d+) chunk", text).groups()
    image = encode_settings(Settings({"heater.target_temp_c": 800.0}), "LR0001")
    assert (int(size), int(chunks)) == (len(image), -(-len(image) // MAX_WRITE))


def test_flash_keeps_the_rigs_pore_constant_too(rig, tmp_path, monkeypatch, capsys):
    """conversion.pressure_k_kpa (measured by a free-air calibration at a second pressure) is the
    sensor's calibration as much as the span: an unrelated flash keeps it, --reset-calibration not."""
    calibrated = toml_file(tmp_path, "[conversion]\npressure_k_kpa = 97.5\n", "cal.toml")
    assert main(["flash", calibrated, "--port", rig.path], monkeypatch) == 0
    capsys.readouterr()
    path = toml_file(tmp_path, GOOD)
    assert main(["flash", path, "--port", rig.path, "--json"], monkeypatch) == 0
    report = json.loads(capsys.readouterr().out)
    assert [k["field"] for k in report["kept"]] == ["conversion.pressure_k_kpa"]
    assert stored_settings(rig).conversion.pressure_k_kpa == 97.5
    assert main(["flash", path, "--port", rig.path, "--reset-calibration"], monkeypatch) == 0
    assert stored_settings(rig).conversion.pressure_k_kpa == 0.0
