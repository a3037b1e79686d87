"""The emulated rig's settings flash: NOR erase/write rules, two slots, atomic commit, power loss."""

from __future__ import annotations

import struct
import zlib

import pytest

from lambdarig.emulator.flash_store import RECORD_SECTOR, FlashError, FlashStore
from lambdarig.protocol.codes import E_CRC_MISMATCH, E_IMAGE_INVALID, E_NOT_ERASED, E_OUT_OF_RANGE
from lambdarig.protocol.image import check_image, image_crc, pack_image

SLOT = 1024
OLD = pack_image(1, b"old settings " * 5)
NEW = pack_image(2, b"the new settings, longer than the old ones " * 7)


class PowerCut(Exception):
    """Raised by the die callable: the in-process stand-in for os._exit."""


def _cut() -> None:
    raise PowerCut()


def flash_sequence(store: FlashStore, image: bytes, chunk: int = 64) -> None:
    """What the host does: erase the inactive slot, write it in chunks, verify, commit."""
    store.erase()
    for offset in range(0, len(image), chunk):
        store.write(offset, image[offset:offset + chunk])
    state = store.verify()
    assert state.image_valid, state.problem
    store.commit(image_crc(image))


def make_store(path, image: bytes | None = None, **kw) -> FlashStore:
    store = FlashStore(path, slot_size=SLOT, **kw)
    if image is not None:
        flash_sequence(store, image)
    return store


def test_fresh_store_is_erased_and_has_no_settings(tmp_path):
    path = tmp_path / "flash.bin"
    with make_store(path) as store:
        info = store.info()
        assert info.active_slot is None and info.image_length == 0 and info.generation == 0
        assert store.active_image() is None
        assert store.inactive_slot == 0
    assert path.read_bytes() == b"\xff" * (2 * SLOT + 2 * RECORD_SECTOR)


def test_flash_commit_and_boot_survive_reopen(tmp_path):
    path = tmp_path / "flash.bin"
    with make_store(path, OLD) as store:
        info = store.info()
        assert info.active_slot == 0 and info.generation == 1
        assert info.image_length == len(OLD) and info.image_crc == zlib.crc32(OLD[:-4])
        assert store.active_image() == OLD
        assert store.inactive_slot == 1
    with FlashStore(path, slot_size=SLOT) as store:        # a restart boots the same settings
        assert store.active_image() == OLD and store.generation == 1
        flash_sequence(store, NEW)
        assert store.active_slot == 1 and store.generation == 2 and store.active_image() == NEW
        flash_sequence(store, OLD)                          # back to slot 0, generation 3
        assert store.active_slot == 0 and store.generation == 3 and store.active_image() == OLD
    with FlashStore(path, slot_size=SLOT) as store:
        assert store.active_image() == OLD and store.generation == 3


def test_write_only_clears_bits_and_refuses_non_erased(tmp_path):
    with make_store(tmp_path / "flash.bin") as store:
        store.erase()
        store.write(0, b"\xf0\x0f")
        store.write(0, b"\xa0\x0f")                         # clears bits only: allowed
        assert store.read(1, 0, 2) == b"\xa0\x0f"
        with pytest.raises(FlashError) as err:
            store.write(0, b"\x0f\x0f")                     # needs 0 -> 1
        assert err.value.code == E_NOT_ERASED
        assert store.read(1, 0, 2) == b"\xa0\x0f"           # unchanged
        with pytest.raises(FlashError) as err:
            store.write(SLOT - 1, b"ab")
        assert err.value.code == E_OUT_OF_RANGE
        store.erase()
        assert store.read(1, 0, 4) == b"\xff" * 4


def test_commit_refuses_invalid_image_and_wrong_crc(tmp_path):
    with make_store(tmp_path / "flash.bin", OLD) as store:
        store.erase()
        store.write(0, NEW[:40])                            # half an image
        with pytest.raises(FlashError) as err:
            store.commit(image_crc(NEW))
        assert err.value.code == E_IMAGE_INVALID
        store.write(40, NEW[40:])
        with pytest.raises(FlashError) as err:
            store.commit(image_crc(NEW) ^ 1)
        assert err.value.code == E_CRC_MISMATCH
        assert store.active_image() == OLD and store.generation == 1
        store.commit(image_crc(NEW))
        assert store.active_image() == NEW


def test_reads_select_active_or_inactive_slot(tmp_path):
    with make_store(tmp_path / "flash.bin") as store:
        with pytest.raises(FlashError) as err:
            store.read(0, 0, 16)                            # no settings: no active slot
        assert err.value.code == E_IMAGE_INVALID
        flash_sequence(store, OLD)
        assert store.read(0, 0, len(OLD)) == OLD
        assert store.read(0, SLOT - 4, 100) == b"\xff" * 4   # clipped to the slot
        with pytest.raises(FlashError):
            store.read(2, 0, 1)


def test_torn_commit_record_boots_old(tmp_path):
    path = tmp_path / "flash.bin"
    with make_store(path, OLD) as store:
        store.erase()
        store.write(0, NEW)
    # Tear the record by hand: generation and crc written, the record crc not.
    record_at = 2 * SLOT + 1 * RECORD_SECTOR
    head = struct.pack("<II", 2, image_crc(NEW))
    with open(path, "r+b") as f:
        f.seek(record_at)
        f.write(head + struct.pack("<I", zlib.crc32(head))[:2])
    with FlashStore(path, slot_size=SLOT) as store:
        assert store.active_image() == OLD
        assert "torn" in store.slot_state(1).problem
    # A whole record that names another image does not boot either.
    with open(path, "r+b") as f:
        head = struct.pack("<II", 2, 0x12345678)
        f.seek(record_at)
        f.write(head + struct.pack("<I", zlib.crc32(head)))
    with FlashStore(path, slot_size=SLOT) as store:
        assert store.active_image() == OLD


def test_size_mismatch_and_lock(tmp_path):
    path = tmp_path / "flash.bin"
    with make_store(path):
        with pytest.raises(ValueError, match="in use"):
            FlashStore(path, slot_size=SLOT)
    with pytest.raises(ValueError, match="expected"):
        FlashStore(path, slot_size=2 * SLOT)


def _count_ops(path, image) -> int:
    with FlashStore(path, slot_size=SLOT) as store:
        before = store.ops
        flash_sequence(store, image)
        return store.ops - before


@pytest.mark.parametrize("start", [None, OLD], ids=["from-empty", "from-old"])
@pytest.mark.parametrize("fraction", [0.0, 0.5, 1.0])
def test_power_loss_at_every_op_boots_old_or_new(tmp_path, start, fraction):
    probe = tmp_path / "probe.bin"
    make_store(probe, start).close()
    n_ops = _count_ops(probe, NEW)
    assert n_ops >= 2 + 2 + 1                 # erase (record + data), several writes, the record
    seen = set()
    for k in range(1, n_ops + 1):
        path = tmp_path / f"flash-{k}.bin"
        make_store(path, start).close()
        store = FlashStore(path, slot_size=SLOT, die_after_ops=k, die=_cut, die_fraction=fraction)
        try:
            with pytest.raises(PowerCut):
                flash_sequence(store, NEW)
        finally:
            store.close()
        with FlashStore(path, slot_size=SLOT) as booted:
            image = booted.active_image()
            assert image in (start, NEW), f"op {k}/{n_ops}: booted {image!r}"
            if image is not None:
                check_image(image)
                assert booted.info().image_crc == image_crc(image)
            # Only the commit record's write may switch to the new settings, and only when complete.
            expect_new = k == n_ops and fraction == 1.0
            assert (image == NEW) == expect_new, f"op {k}/{n_ops}"
            seen.add(image)
            # The store keeps working after the cut: the next flash succeeds.
            flash_sequence(booted, NEW)
            assert booted.active_image() == NEW
    assert start in seen
