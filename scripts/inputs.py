"""Checks of the package API's inputs, shared with the command line, which names them its own way.

Every check raises an input error (a ValueError) naming the caller (`lambdarig.simulate()`,
"command line"), the argument in the caller's words (`duration_s` in Python, `--duration` on the
command line) and what is allowed, before anything runs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdarig.emulator.errors import EmulatorInputError

from .telemetry import check_plot_available

OutputPath = str | os.PathLike[str] | None


@dataclass(frozen=True)
class Caller:
    """Who gives the inputs, and what it calls each of the API's arguments (when not the same)."""

    source: str
    names: Mapping[str, str] = field(default_factory=dict)

    def name(self, argument: str) -> str:
        return self.names.get(argument, argument)

    def refuse(self, argument: str, problem: str) -> EmulatorInputError:
        return EmulatorInputError(self.source, self.name(argument), problem)


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
    """The output path, if its folder exists and it is not a folder itself."""
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise caller.refuse(argument, f"needs a {suffix} file name")
    path = Path(value)
    if path.is_dir():
        raise caller.refuse(argument, f"{value} is a folder; give a {suffix} file name")
    if not path.parent.is_dir():
        raise caller.refuse(argument, f"folder {str(path.parent)!r} does not exist")
    if not os.access(path if path.exists() else path.parent, os.W_OK):
        raise caller.refuse(argument, f"{value} cannot be written (no permission)")
    return path


def check_outputs(log: OutputPath, plot: OutputPath, caller: Caller) -> tuple[Path | None, Path | None]:
    """The log and plot paths, checked (and matplotlib present for a plot) before anything runs."""
    log_path = check_output_path(log, caller, "log", ".csv")
    plot_path = check_output_path(plot, caller, "plot", ".png")
    if log_path is not None and plot_path is not None and log_path.resolve() == plot_path.resolve():
        raise caller.refuse("plot", f"must not be the same file as {caller.name('log')}")
    if plot_path is not None:
        check_plot_available()
    return log_path, plot_path
