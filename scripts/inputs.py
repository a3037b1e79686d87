"""Checks of the package API's inputs, shared with the command line, which names them its own way.

Every check raises an input error (a ValueError) naming the caller (`lambdarig.simulate()`,
"command line"), the argument in the caller's words (`duration_s` in Python, `--duration` on the
command line) and what is allowed, before anything runs.
"""

from __future__ import annotations

import math
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdarig.common.errors import nearest
from lambdarig.common.file_kind import file_kind
from lambdarig.emulator.errors import EmulatorInputError

from .plot import check_plot_available

OutputPath = str | os.PathLike[str] | None


@dataclass(frozen=True)
class Caller:
    """Who gives the inputs, and what it calls each of the API's arguments (when not the same)."""

    source: str
    names: Mapping[str, str] = field(default_factory=dict)

    def name(self, argument: str) -> str:
        return self.names.get(argument, argument)

    def refuse(self, argument: str, problem: str, *, allowed: str | None = None) -> EmulatorInputError:
        return EmulatorInputError(self.source, self.name(argument), problem, allowed=allowed)


def check_number(value: Any, caller: Caller, argument: str, lo: float, hi: float, unit: str = "s") -> float:
    """A number within [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise caller.refuse(argument, f"must be a number from {lo:g} to {hi:g} {unit}, got {value!r}")
    if not lo <= value <= hi:
        raise caller.refuse(argument, f"{value:g} is outside the allowed range {lo:g} to {hi:g} {unit}")
    return float(value)


def check_name(value: Any, caller: Caller, argument: str, what: str) -> str:
    """A non-empty name or path, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise caller.refuse(argument, f"needs {what}, got {value!r}")
    return value.strip()


def check_output_path(value: OutputPath, caller: Caller, argument: str, suffix: str) -> Path | None:
    """The output path, when a file can be written there: a new name in an existing folder that takes
    files, or an existing regular file (replaced). Folders, devices (`/dev/full`, `/dev/null`), FIFOs
    (opening one waits for a reader), missing folders and places the system refuses (read-only, /proc,
    /sys) are refused before anything runs. Writability is probed, not guessed (root passes
    os.access everywhere): the existing file is opened for writing without truncating it, or a
    temporary file is made in the folder and removed at once."""
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise caller.refuse(argument, f"needs a {suffix} file name")
    path = Path(value)
    allowed = f"a {suffix} file in an existing, writable folder (an existing file is replaced)"
    try:
        mode: int | None = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise caller.refuse(argument, f"{value}: cannot check: {exc.strerror or exc}", allowed=allowed) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise caller.refuse(argument, f"{value} is a folder; give a {suffix} file name", allowed=allowed)
    if mode is not None and not stat.S_ISREG(mode):
        raise caller.refuse(argument, f"{value} is {file_kind(mode)}, not a file", allowed=allowed)
    try:
        folder_ok = path.parent.is_dir()
    except OSError:
        folder_ok = False
    if not folder_ok:
        raise caller.refuse(argument, f"folder {str(path.parent)!r} does not exist", allowed=allowed)
    try:
        if mode is not None:
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NONBLOCK", 0)))
        else:
            fd, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:64]}.", suffix=".probe")
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        raise caller.refuse(argument, f"{value} cannot be written: {exc.strerror or exc}", allowed=allowed) from None
    return path


def check_outputs(log: OutputPath, plot: OutputPath, caller: Caller) -> tuple[Path | None, Path | None]:
    """The log and plot paths, checked (and matplotlib present for a plot) before anything runs."""
    log_path = check_log_path(log, caller)
    plot_path = check_output_path(plot, caller, "plot", ".png")
    if plot_path is not None and plot_path.suffix.lower() != ".png":   # the plot is a PNG whatever the name
        given = f"suffix {plot_path.suffix!r}" if plot_path.suffix else "no suffix"
        raise caller.refuse("plot", f"{str(plot_path)!r} has {given}: the plot is written as PNG",
                            allowed="a file name ending in .png")
    if log_path is not None and plot_path is not None and log_path.resolve() == plot_path.resolve():
        raise caller.refuse("plot", f"must not be the same file as {caller.name('log')}")
    if plot_path is not None:
        check_plot_available()
    return log_path, plot_path


def check_log_path(log: OutputPath, caller: Caller) -> Path | None:
    """The log path: a writable place (check_output_path), a suffix naming a log format (.csv, .mf4,
    .mdf, .msl), asammdf present for MDF4, and a writable place for a text log's sidecar JSON."""
    if log is None:
        return None
    # The log formats' modules only for a run with a log.
    from .logs import LOG_FORMATS, SIDECAR_FORMATS, check_mdf_available, log_format, sidecar_path
    allowed = ", ".join(LOG_FORMATS)
    path = check_output_path(log, caller, "log", f"log ({allowed})")
    if path is None:
        return None
    suffix = log_format(path)
    if suffix is None:
        given = path.suffix or "no suffix"
        guess = nearest(path.suffix.lower(), LOG_FORMATS) if path.suffix else ()
        raise EmulatorInputError(caller.source, caller.name("log"),
                                 f"{str(path)!r} has {given}: the suffix picks the log format",
                                 allowed=allowed, suggestions=guess)
    if suffix in (".mf4", ".mdf"):
        try:
            check_mdf_available()
        except ValueError as exc:
            raise caller.refuse("log", str(exc)) from None
    if suffix in SIDECAR_FORMATS:
        check_output_path(sidecar_path(path), caller, "log", f"{suffix}.json (the log's metadata)")
    return path
