"""The one way a small text output file is written: checked first, then written atomically, never
leaving a stray file behind, every failure an InputError naming the option or field.

    check_output_file(path, place, overwrite=False)    refuse before any work starts
    write_text_atomic(path, text, place, overwrite=False) -> Path

Refused, each with a one-line reason: a directory, a device or FIFO (`/dev/full`, `/dev/null`:
never opened, so never written to), a folder that does not exist or is not a folder, an existing
file unless `overwrite`, and whatever the system refuses (read-only places, a full disk). The text
goes to a temporary file in the target's own folder, is flushed to disk, then renamed onto the
target (a reader never sees half a file); on any failure the temporary file is removed.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .file_kind import file_kind
from .validators import Place

ALLOWED = "a new file in an existing, writable folder"


def check_output_file(path: str | os.PathLike[str], at: Place, *, overwrite: bool = False,
                      replace_hint: str = "--force") -> Path:
    """The path, when a file can be written there; the Place's InputError otherwise.
    `replace_hint`: how the caller asks for an existing file to be replaced (for the message)."""
    target = Path(path)
    allowed = ALLOWED + (" (or an existing file, which is replaced)" if overwrite else "")
    if not target.name or target.name in (".", ".."):
        raise at.refuse(f"{str(path)!r} names no file", allowed=allowed)
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise at.refuse(f"{target}: cannot check: {exc.strerror or exc}", allowed=allowed) from None
    if mode is not None:
        if not stat.S_ISREG(mode):
            raise at.refuse(f"{target} is {file_kind(mode)}, not a file", allowed=allowed)
        if not overwrite:
            raise at.refuse(f"{target} already exists; it is not replaced without {replace_hint}", allowed=allowed)
    folder = target.parent
    if not folder.exists():
        raise at.refuse(f"folder {folder} does not exist", allowed=allowed)
    if not folder.is_dir():
        raise at.refuse(f"{folder} is not a folder", allowed=allowed)
    return target


def write_text_atomic(path: str | os.PathLike[str], text: str, at: Place, *, overwrite: bool = False,
                      replace_hint: str = "--force") -> Path:
    """Write `text` (UTF-8) to path atomically after check_output_file; returns the path."""
    target = check_output_file(path, at, overwrite=overwrite, replace_hint=replace_hint)
    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp_name, target)
        else:
            _place_new(tmp_name, target)
        tmp_name = None
    except FileExistsError:
        raise at.refuse(f"{target} already exists; it is not replaced without {replace_hint}",
                        allowed=ALLOWED) from None
    except OSError as exc:
        raise at.refuse(f"cannot write {target}: {exc.strerror or exc}", allowed=ALLOWED) from None
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass
    return target


def _place_new(tmp_name: str, target: Path) -> None:
    """Give the written file its name without replacing a file that appeared since the check (a
    hard link refuses an existing name); where hard links are not supported, check and rename."""
    try:
        os.link(tmp_name, target)
    except FileExistsError:
        raise
    except OSError:
        if os.path.lexists(target):
            raise FileExistsError(str(target)) from None
        os.rename(tmp_name, target)
        return
    os.unlink(tmp_name)
