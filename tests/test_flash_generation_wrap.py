"""A stored state never kills the board (issue 16, item 8): the commit generation wraps from
0xFFFFFFFF to 0 and stays ordered (serial-number arithmetic, docs/protocol.md section 9), and a
corrupt flash boots to the safe default (no settings, outputs safe) and can be flashed again."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from rig_cli_helpers import main
from test_flash_cli import GOOD, SERIAL, toml_file

from lambdarig.emulator.flash_store import RECORD_SECTOR, FlashStore
from lambdarig.emulator.serial_rig import RigServer
from lambdarig.hal.rig_link import RigLink
from lambdarig.protocol.commit_record import CommitRecord, is_newer_generation, next_generation  # noqa
from lambdarig.protocol.image import check_image, image_crc, pack_image

SLOT = 1024
RIG_SLOT = 4096               # the emulated rig's slot size
OLD = pack_image(1, b"old settings " * 5)
NEW = pack_image(2, b"the new settings " * 9)
LAST = 0xFFFFFFFF


def flash_sequence(store: FlashStore, image: bytes) -> None:
    store.erase()
    store.write(0, image)
    store.commit(image_crc(image))


def set_generation(path: Path, slot: int, slot_size: int, generation: int, image: bytes) -> None:
    """Rewrite a slot's commit record with another generation (as a long-lived board would have)."""
    record = CommitRecord(generation, image_crc(image)).pack().ljust(RECORD_SECTOR, b"\xff")
    with open(path, "r+b") as handle:
        handle.seek(2 * slot_size + slot * RECORD_SECTOR)
        handle.write(record)


def test_generation_order_across_the_wrap():
    assert next_generation(LAST) == 0 and next_generation(41) == 42
    assert is_newer_generation(0, LAST) and not is_newer_generation(LAST, 0)
    assert is_newer_generation(2, 1) and not is_newer_generation(1, 2) and not is_newer_generation(7, 7)
    assert not is_newer_generation(1 << 31, 0) and not is_newer_generation(0, 1 << 31)   # a tie: slot 0


def test_commit_at_the_last_generation_wraps_to_zero_and_keeps_working(tmp_path):
    path = tmp_path / "flash.bin"
    with FlashStore(path, slot_size=SLOT) as store:
        flash_sequence(store, OLD)
    set_generation(path, 0, SLOT, LAST, OLD)
    with FlashStore(path, slot_size=SLOT) as store:
        assert (store.active_slot, store.generation) == (0, LAST)
        flash_sequence(store, NEW)                      # crashed with struct.error before the fix
        assert (store.active_slot, store.generation) == (1, 0)
    with FlashStore(path, slot_size=SLOT) as store:     # the boot rule agrees: 0 is newer than 0xFFFFFFFF
        assert (store.active_slot, store.generation) == (1, 0)
        assert store.active_image() == NEW
        flash_sequence(store, OLD)
        assert (store.active_slot, store.generation) == (0, 1)


def test_flash_cli_across_the_wrap_over_the_wire(tmp_path, monkeypatch, capsys):
    flash = tmp_path / "flash.bin"
    with FlashStore(flash, slot_size=RIG_SLOT) as store:
        flash_sequence(store, OLD)
    set_generation(flash, 0, RIG_SLOT, LAST, OLD)
    rig = RigServer(scenario="free-air", flash_path=flash, serial_number=SERIAL).start()
    try:
        path = toml_file(tmp_path, GOOD)
        assert main(["flash", path, "--port", rig.path, "--json"], monkeypatch) == 0, capsys.readouterr().err
        assert '"generation_after": 0' in capsys.readouterr().out
        assert main(["flash", path, "--port", rig.path], monkeypatch) == 0, capsys.readouterr().err
        link = RigLink(rig.path)
        try:
            assert link.settings_info().generation == 1
        finally:
            link.close()
        assert rig._thread is not None and rig._thread.is_alive()
    finally:
        rig.stop()


@pytest.mark.parametrize("seed", range(3))
def test_corrupt_flash_boots_to_no_settings_and_can_be_flashed(tmp_path, seed):
    """Random bytes, and a valid flash with random damage: the boot never raises, the active slot is
    a valid image or none, and a flash sequence afterwards works."""
    rng = random.Random(seed)
    size = 2 * SLOT + 2 * RECORD_SECTOR
    for case in range(150):
        path = tmp_path / f"flash-{case}.bin"
        if case % 3 == 0:
            path.write_bytes(rng.randbytes(size))
        else:
            with FlashStore(path, slot_size=SLOT) as store:
                flash_sequence(store, OLD)
                flash_sequence(store, NEW)
            raw = bytearray(path.read_bytes())
            for _ in range(rng.randrange(1, 12)):
                at = rng.choice((rng.randrange(size), 2 * SLOT + rng.randrange(2 * RECORD_SECTOR),
                                 rng.randrange(16), SLOT + rng.randrange(16)))
                raw[at] = rng.randrange(256)
            path.write_bytes(bytes(raw))
        with FlashStore(path, slot_size=SLOT) as store:
            image = store.active_image()
            assert image is None or check_image(image)
            flash_sequence(store, NEW)
            assert store.active_image() == NEW


def test_rig_on_a_garbage_flash_boots_safe_without_settings(tmp_path):
    flash = tmp_path / "flash.bin"
    flash.write_bytes(random.Random(7).randbytes(2 * RIG_SLOT + 2 * RECORD_SECTOR))
    rig = RigServer(scenario="free-air", flash_path=flash).start()
    try:
        assert rig.outputs()[:2] == (0.0, 0.0) and rig.settings is None
        link = RigLink(rig.path)
        try:
            info = link.settings_info()
            assert info.active_slot is None and info.image_length == 0
        finally:
            link.close()
    finally:
        rig.stop()


def test_a_flash_write_error_is_answered_and_the_rig_keeps_running(tmp_path):
    """The flash file cannot be written past 4 KiB (RLIMIT_FSIZE, as a full disk would refuse): the
    rig answers E_FLASH_FAILED, `lambdarig flash` fails with one line naming the step, and the rig
    (its own process) still answers afterwards."""
    import os
    import resource
    import signal
    import subprocess
    import sys

    from test_flash_cli import ROOT

    flash = tmp_path / "flash.bin"
    FlashStore(flash).close()                  # made while writes are allowed

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)     # EFBIG instead of the signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "lambdarig", "serve", "rig", "--flash", str(flash),
                             "--scenario", "free-air", "--serial-number", SERIAL], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limit_file_size)
    try:
        assert proc.stdout is not None
        path = proc.stdout.readline().decode().strip()
        assert path.startswith("/dev/"), path
        code = main(["flash", toml_file(tmp_path, GOOD), "--port", path])
        assert code == 3
        link = RigLink(path)
        try:
            assert link.identity().serial_number == SERIAL
            assert link.settings_info().active_slot is None
        finally:
            link.close()
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and b"Traceback" not in err, err
