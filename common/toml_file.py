"""The one TOML file reader: every way a file can be unreadable becomes an InputError naming it.

Missing files, folders, FIFOs and devices (refused by type, so a FIFO with no writer cannot hang
the reader), text that is not UTF-8, TOML syntax errors (with their line), nesting deep enough to
exhaust the parser's recursion, and integers past Python's digit limit all end as
`InputError(source, "file", ...)`; nothing else escapes.
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from .errors import InputError
from .file_kind import file_kind

FILE_FIELD = "file"


def _read_bytes(path: Path, source: str, error: type[InputError]) -> bytes:
    def refuse(problem: str) -> InputError:
        return error(source=source, field=FILE_FIELD, problem=problem, allowed="a TOML text file")

    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise refuse(f"is {file_kind(mode)}, not a file")
        # O_NONBLOCK: should the path have become a FIFO since the check, opening it does not wait
        # for a writer; fstat on the open descriptor is then the check that counts.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise refuse(f"is {file_kind(mode)}, not a file")
            return handle.read()
    except FileNotFoundError:
        raise refuse("no such file") from None
    except OSError as exc:
        raise refuse(f"cannot read: {exc.strerror or exc}") from None


def parse_toml_text(text: str, source: str, *, error: type[InputError] = InputError) -> dict[str, Any]:
    """A TOML document as a dict; InputError(source, "file", ...) when it cannot be parsed."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problem = f"not valid TOML: {exc}"   # tomllib's message carries the line and column ...
        if "line" not in problem:            # ... except at the end of the document
            problem += f" (the document ends on line {text.count(chr(10)) + 1})"
    except RecursionError:
        problem = "not valid TOML here: arrays or tables nested too deeply to read"
    except ValueError as exc:
        # int() refuses integer strings past sys.get_int_max_str_digits (4300 by default).
        problem = f"not valid TOML here: a number too long to read ({exc})"
    raise error(source=source, field=FILE_FIELD, problem=problem)


def read_toml_file(path: str | os.PathLike[str], source: str | None = None, *,
                   error: type[InputError] = InputError) -> dict[str, Any]:
    """Read and parse one TOML file. `source` names it in errors (default: the path as given)."""
    path = Path(path)
    source = str(path) if source is None else source
    raw = _read_bytes(path, source, error)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise error(source=source, field=FILE_FIELD,
                    problem=f"is not UTF-8 text (byte {raw[exc.start]:#04x} on line {line})") from None
    return parse_toml_text(text, source, error=error)
