"""Reading TOML tables with checks: every value typed and range-checked, unknown keys refused.

Errors name the source file, the dotted field and the allowed range, and are raised before anything
uses the data, so a bad file changes nothing.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

from .errors import EmulatorInputError

REQUIRED = object()


def load_toml(path: Path | str, source: str | None = None) -> dict[str, Any]:
    path = Path(path)
    source = source or str(path)
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise EmulatorInputError(source, "file", "no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise EmulatorInputError(source, "file", f"not valid TOML: {exc}") from None


class TableReader:
    """Takes typed values out of one TOML table; `finish()` refuses whatever was not taken."""

    def __init__(self, table: dict[str, Any], source: str, prefix: str = ""):
        if not isinstance(table, dict):
            raise EmulatorInputError(source, prefix.rstrip(".") or "file", "must be a table")
        self.table = table
        self.source = source
        self.prefix = prefix
        self.taken: set[str] = set()

    def _field(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def has(self, key: str) -> bool:
        return key in self.table

    def _get(self, key: str, default: Any) -> Any:
        self.taken.add(key)
        if key not in self.table:
            if default is REQUIRED:
                raise EmulatorInputError(self.source, self._field(key), "is required")
            return default
        return self.table[key]

    def number(self, key: str, lo: float, hi: float, default: Any = REQUIRED, unit: str = "") -> float:
        value = self._get(key, default)
        if value is None:
            return value
        unit_text = f" {unit}" if unit else ""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise EmulatorInputError(self.source, self._field(key),
                                     f"{value!r} is not a number; allowed range {lo:g} to {hi:g}{unit_text}")
        if not lo <= value <= hi:
            raise EmulatorInputError(self.source, self._field(key),
                                     f"{value:g}{unit_text} is outside the allowed range {lo:g} to {hi:g}{unit_text}")
        return float(value)

    def integer(self, key: str, lo: int, hi: int, default: Any = REQUIRED) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise EmulatorInputError(self.source, self._field(key),
                                     f"{value!r} is not a whole number in the allowed range {lo} to {hi}")
        return value

    def boolean(self, key: str, default: Any = REQUIRED) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise EmulatorInputError(self.source, self._field(key), f"{value!r} must be true or false")
        return value

    def text(self, key: str, choices: tuple[str, ...] | None = None, default: Any = REQUIRED) -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            raise EmulatorInputError(self.source, self._field(key), f"{value!r} must be a string")
        if choices is not None and value not in choices:
            raise EmulatorInputError(self.source, self._field(key),
                                     f"{value!r} is not one of: {', '.join(choices)}")
        return value

    def sub(self, key: str, required: bool = True) -> TableReader | None:
        value = self._get(key, REQUIRED if required else None)
        if value is None:
            return None
        return TableReader(value, self.source, f"{self._field(key)}.")

    def tables(self, key: str, required: bool = True) -> list[TableReader]:
        value = self._get(key, REQUIRED if required else [])
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise EmulatorInputError(self.source, self._field(key), "must be a list of tables ([[...]])")
        return [TableReader(item, self.source, f"{self._field(key)}[{i}].") for i, item in enumerate(value)]

    def finish(self) -> None:
        unknown = sorted(set(self.table) - self.taken)
        if unknown:
            known = ", ".join(sorted(self.taken))
            raise EmulatorInputError(self.source, self._field(unknown[0]), f"unknown key; known keys here: {known}")


def apply_override(data: dict[str, Any], assignment: str, source: str) -> None:
    """Apply `section.key=value` (value parsed as TOML) to a raw table, for what-if runs."""
    path, sep, raw = assignment.partition("=")
    if not sep or not path.strip():
        raise EmulatorInputError(source, assignment, "an override must look like section.key=value")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    keys = path.strip().split(".")
    table = data
    for key in keys[:-1]:
        if not isinstance(table.get(key), dict):
            raise EmulatorInputError(source, path.strip(), f"there is no table {key!r} to override in")
        table = table[key]
    if keys[-1] not in table:
        raise EmulatorInputError(source, path.strip(), "there is no such parameter to override")
    table[keys[-1]] = value
