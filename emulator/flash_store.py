"""The emulated rig's settings flash: a file that behaves like NOR flash with two settings slots.

File layout (all offsets in bytes, S = slot_size):

    [0, S)            slot 0 data
    [S, 2S)           slot 1 data
    [2S, 2S+16)       slot 0 commit record sector
    [2S+16, 2S+32)    slot 1 commit record sector

NOR semantics: erase sets bytes to 0xFF; a write can only clear bits (new = old & data) and is
refused (E_NOT_ERASED) when any bit would have to go from 0 to 1. Every mutating operation is one
`os.pwrite` followed by `os.fsync` before it returns.

A commit record (lambdarig.protocol.commit_record: generation, image crc, record crc) is written
in one pwrite + fsync. It is the single atomic step that switches the active
slot: a torn record fails its record crc (an erased one is all 0xFF).

Boot: a slot is valid when its record is valid, its data holds a valid settings image
(lambdarig.protocol.image.check_image) and the record's crc equals the image's crc. The active slot is the valid one
with the newer generation (serial-number order across the 2^32 wrap,
lambdarig.protocol.commit_record.is_newer_generation; slot 0 on a tie); with none, there are no
settings. No stored content can stop the boot: whatever the bytes, a slot is bootable or not.

The host only ever erases and writes the *inactive* slot (erasing a slot also erases its record
sector, record first) and commits it by writing its record with generation = active + 1 (mod 2^32). The active
slot is never touched, so a power loss at any moment boots either the old settings (the record was
not completely written) or the new ones (it was), both valid.

Fault injection (tests): `die_after_ops=N` calls `die()` in the middle of the N-th mutating
operation (1-based: erase of the record sector, erase of the data, a write, a commit record), after
`die_fraction` of its bytes reached the file and before the fsync; the default `die` is
`os._exit(70)`, which ends a subprocess rig as a power cut would.
"""

from __future__ import annotations

import fcntl
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass

from lambdarig.protocol.codes import (
    E_CRC_MISMATCH,
    E_IMAGE_INVALID,
    E_NOT_ERASED,
    E_OUT_OF_RANGE,
    MAX_SLOT_SIZE,
    SLOT_SIZE_UNIT,
)
from lambdarig.protocol.commit_record import RECORD_SIZE, CommitRecord, is_newer_generation, next_generation
from lambdarig.protocol.errors import WireError
from lambdarig.protocol.image import check_image, image_crc, image_length

from .errors import EmulatorInputError

RECORD_SECTOR = 16
ERASED = 0xFF
DIE_EXIT_CODE = 70
MIN_SLOT_SIZE = SLOT_SIZE_UNIT


class FlashError(Exception):
    """A refused flash operation; `code` is a lambdarig.protocol.codes error code (E_NOT_ERASED, ...)."""

    def __init__(self, code: int, message: str):
        self.code = code
        super().__init__(message)


@dataclass(frozen=True)
class SlotState:
    slot: int
    record_valid: bool
    generation: int          # 0 when the record is not valid
    record_crc: int          # the image crc the record names (0 when not valid)
    image_valid: bool
    image_length: int        # 0 when the image is not valid
    image_crc: int           # 0 when the image is not valid
    problem: str             # why the slot is not bootable ("" when it is)

    @property
    def bootable(self) -> bool:
        return self.record_valid and self.image_valid and self.record_crc == self.image_crc


@dataclass(frozen=True)
class FlashInfo:
    active_slot: int | None  # None: no settings
    image_length: int        # 0 without settings
    image_crc: int
    generation: int
    slot_size: int


def _exit_like_power_loss() -> None:
    os._exit(DIE_EXIT_CODE)


NEW_OR_OURS = "a flash file written by `lambdarig serve rig`, or a new file name in an existing folder"


def _refuse(path: str, problem: str, allowed: str = NEW_OR_OURS) -> EmulatorInputError:
    return EmulatorInputError(source=path, field="flash file", problem=problem, allowed=allowed)


def _open_flash_file(path: str, size: int) -> tuple[int, bool]:
    """(descriptor, created) of a flash file: an existing regular file of the flash's size, or a new
    one made here (O_EXCL: nothing that exists is ever truncated or overwritten with 0xFF). Anything
    else (a folder, a device such as /dev/null or /dev/full, a FIFO, /proc, an empty or foreign file,
    a missing folder) is refused before a byte is written."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise _refuse(path, f"the folder {folder} does not exist (it is not created)") from None
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), True
        except OSError as exc:
            raise _refuse(path, f"cannot create it: {exc.strerror or exc}") from None
    except OSError as exc:
        raise _refuse(path, f"cannot use it: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "a device, FIFO or socket"
        raise _refuse(path, f"is {kind}, not a flash file")
    have = os.stat(path).st_size
    if have != size:
        what = "an empty file" if have == 0 else f"a file of {have} bytes"
        raise _refuse(path, f"is {what}, expected {size} bytes (not a rig flash file, or one of another slot "
                           "size); it was not changed")
    try:
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)     # non-blocking: should it have become a FIFO
    except OSError as exc:
        raise _refuse(path, f"cannot open it for reading and writing: {exc.strerror or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):       # swapped for something else since the check
        os.close(fd)
        raise _refuse(path, "is not a regular file")
    return fd, False


class FlashStore:
    def __init__(self, path: str | os.PathLike, slot_size: int = 4096, *, die_after_ops: int | None = None,
                 die: Callable[[], None] | None = None, die_fraction: float = 0.5):
        if slot_size % SLOT_SIZE_UNIT or not MIN_SLOT_SIZE <= slot_size <= MAX_SLOT_SIZE:
            raise ValueError(f"flash slot size {slot_size}: must be a multiple of 256 in "
                             f"[{MIN_SLOT_SIZE}, {MAX_SLOT_SIZE}]")
        if die_after_ops is not None and die_after_ops < 1:
            raise ValueError(f"die_after_ops must be >= 1, got {die_after_ops}")
        if not 0.0 <= die_fraction <= 1.0:
            raise ValueError(f"die_fraction must be in [0, 1], got {die_fraction}")
        self.path = os.fspath(path)
        self.slot_size = slot_size
        self.size = 2 * slot_size + 2 * RECORD_SECTOR
        self.die_after_ops = die_after_ops
        self.die = die or _exit_like_power_loss
        self.die_fraction = die_fraction
        self.ops = 0                       # mutating operations started so far
        self._fd: int | None = None
        fd, created = _open_flash_file(self.path, self.size)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise _refuse(self.path, "in use by another rig (locked)", "a flash file no other rig has open") \
                    from None
            have = os.fstat(fd).st_size
            if created and have == 0:
                try:
                    os.pwrite(fd, bytes([ERASED]) * self.size, 0)   # a factory-fresh, erased chip
                    os.fsync(fd)
                except OSError as exc:
                    os.unlink(self.path)        # we made it: a half-made flash file is not left behind
                    raise _refuse(self.path, f"cannot write a new flash file: {exc.strerror or exc}",
                                  NEW_OR_OURS) from None
                self._fsync_dir()
            elif have != self.size:
                raise _refuse(self.path, f"{have} bytes, expected {self.size} for a slot size of {slot_size} "
                                         "(not a rig flash file, or one of another slot size); it was not changed",
                              NEW_OR_OURS)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self.created = created             # this store made the file (a new, erased chip)
        self.active: SlotState | None = None
        self.boot()

    # -- housekeeping ---------------------------------------------------------------------------

    def _fsync_dir(self) -> None:
        try:
            dfd = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dfd)
        except OSError:
            pass
        finally:
            os.close(dfd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)       # releases the lock
            self._fd = None

    def discard_if_new(self) -> None:
        """Close; and remove the file if this store made it and nothing was written since: a rig
        that fails to start leaves no new file behind."""
        self.close()
        if self.created and self.ops == 0:
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def __enter__(self) -> FlashStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _fdn(self) -> int:
        if self._fd is None:
            raise ValueError(f"flash file {self.path}: closed")
        return self._fd

    # -- raw access -----------------------------------------------------------------------------

    def _read(self, offset: int, length: int) -> bytes:
        return os.pread(self._fdn(), length, offset)

    def _data_offset(self, slot: int) -> int:
        return slot * self.slot_size

    def _record_offset(self, slot: int) -> int:
        return 2 * self.slot_size + slot * RECORD_SECTOR

    def _mutate(self, offset: int, data: bytes) -> None:
        """One mutating operation: a single pwrite then fsync; the fault-injection point."""
        fd = self._fdn()
        self.ops += 1
        if self.die_after_ops is not None and self.ops == self.die_after_ops:
            part = int(len(data) * self.die_fraction)
            if part:
                os.pwrite(fd, data[:part], offset)
            self.die()
            raise RuntimeError("FlashStore die() returned")  # a die callable must not return
        written = os.pwrite(fd, data, offset)
        if written != len(data):
            raise OSError(f"flash file {self.path}: short write ({written} of {len(data)} bytes)")
        os.fsync(fd)

    def _program(self, offset: int, data: bytes) -> None:
        """NOR program: only 1 -> 0 transitions; E_NOT_ERASED otherwise."""
        old = self._read(offset, len(data))
        o = int.from_bytes(old, "little")
        d = int.from_bytes(data, "little")
        if o & d != d:
            raise FlashError(E_NOT_ERASED, f"flash not erased at offset {offset} "
                                                f"(a write would need a 0->1 bit change)")
        self._mutate(offset, bytes(data))

    # -- slots ----------------------------------------------------------------------------------

    def slot_state(self, slot: int) -> SlotState:
        raw = self._read(self._record_offset(slot), RECORD_SIZE)
        record_valid = False
        generation = record_crc = 0
        problem = ""
        if raw == bytes([ERASED]) * RECORD_SIZE:
            problem = "no commit record (erased)"
        else:
            try:
                record = CommitRecord.unpack(raw)
                record_valid, generation, record_crc = True, record.generation, record.image_crc
            except WireError as exc:
                problem = str(exc)
        data = self._read(self._data_offset(slot), self.slot_size)
        image_valid = False
        length = icrc = 0
        try:
            check_image(data)
            image_valid = True
            length = image_length(data)
            icrc = image_crc(data)
        except WireError as exc:
            problem = problem or str(exc)
        if record_valid and image_valid and record_crc != icrc:
            problem = "commit record names another image crc"
        return SlotState(slot, record_valid, generation, record_crc, image_valid, length, icrc, problem)

    def boot(self) -> FlashInfo:
        """Re-scan both slots (what the firmware does at power-up) and pick the active one."""
        best: SlotState | None = None
        for slot in (0, 1):
            state = self.slot_state(slot)
            if state.bootable and (best is None or is_newer_generation(state.generation, best.generation)):
                best = state
        self.active = best
        return self.info()

    @property
    def active_slot(self) -> int | None:
        return None if self.active is None else self.active.slot

    @property
    def inactive_slot(self) -> int:
        return 0 if self.active is None else 1 - self.active.slot

    @property
    def generation(self) -> int:
        return 0 if self.active is None else self.active.generation

    def info(self) -> FlashInfo:
        a = self.active
        if a is None:
            return FlashInfo(None, 0, 0, 0, self.slot_size)
        return FlashInfo(a.slot, a.image_length, a.image_crc, a.generation, self.slot_size)

    def active_image(self) -> bytes | None:
        """The active settings image (exactly its bytes), or None without settings."""
        a = self.active
        if a is None:
            return None
        return self._read(self._data_offset(a.slot), a.image_length)

    def read(self, which: int, offset: int, length: int) -> bytes:
        """Raw bytes of the active (which=0) or inactive (which=1) slot, clipped to the slot.
        Reading the active slot without settings: FlashError E_IMAGE_INVALID."""
        if which not in (0, 1):
            raise FlashError(E_OUT_OF_RANGE, f"slot selector {which}: 0 (active) or 1 (inactive)")
        if which == 0:
            if self.active is None:
                raise FlashError(E_IMAGE_INVALID, "no settings: no active slot")
            slot = self.active.slot
        else:
            slot = self.inactive_slot
        if offset < 0 or length < 0 or offset > self.slot_size:
            raise FlashError(E_OUT_OF_RANGE, f"read at {offset}: outside the slot of {self.slot_size} bytes")
        length = min(length, self.slot_size - offset)
        return self._read(self._data_offset(slot) + offset, length)

    def erase(self) -> None:
        """Erase the inactive slot: its commit record first (it can no longer boot), then its data."""
        slot = self.inactive_slot
        self._mutate(self._record_offset(slot), bytes([ERASED]) * RECORD_SECTOR)
        self._mutate(self._data_offset(slot), bytes([ERASED]) * self.slot_size)

    def write(self, offset: int, data: bytes) -> None:
        """Program bytes of the inactive slot (NOR rules)."""
        if offset < 0 or offset + len(data) > self.slot_size:
            raise FlashError(E_OUT_OF_RANGE, f"write of {len(data)} bytes at {offset}: "
                                                  f"outside the slot of {self.slot_size} bytes")
        if not data:
            return
        self._program(self._data_offset(self.inactive_slot) + offset, bytes(data))

    def verify(self) -> SlotState:
        """The inactive slot's state (image_valid, image_length, image_crc, problem)."""
        return self.slot_state(self.inactive_slot)

    def commit(self, expected_crc: int) -> FlashInfo:
        """Make the inactive slot active: only with a valid image whose crc is expected_crc.
        The record write is the one atomic switch."""
        slot = self.inactive_slot
        state = self.slot_state(slot)
        if not state.image_valid:
            raise FlashError(E_IMAGE_INVALID, f"inactive slot {slot}: {state.problem}")
        if state.image_crc != expected_crc:
            raise FlashError(E_CRC_MISMATCH, f"inactive slot {slot}: image crc 0x{state.image_crc:08X}, "
                                                  f"expected 0x{expected_crc:08X}")
        generation = next_generation(self.generation)
        record = CommitRecord(generation, state.image_crc).pack()
        offset = self._record_offset(slot)
        if self._read(offset, RECORD_SIZE) != bytes([ERASED]) * RECORD_SIZE:
            # Committed twice without an erase: the sector goes back to 0xFF first (the slot is
            # inactive, so its record is older or torn: losing it changes nothing at boot).
            self._mutate(offset, bytes([ERASED]) * RECORD_SECTOR)
        self._program(offset, record)
        self.boot()
        if self.active_slot != slot:      # cannot happen unless the file changed under us
            raise FlashError(E_IMAGE_INVALID, f"slot {slot} did not become active after commit")
        return self.info()
