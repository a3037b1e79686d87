"""The one set of value validators: each takes a value and its Place, returns the checked value or
raises the Place's InputError naming the field, what is wrong and what is allowed.

Values come from TOML (any type), from Python callers (any type) or from command-line text
(`number_text`, `integer_text`). Huge integers (a 400-digit one is valid TOML) are compared exactly
and never converted to float before they are known to be in range, so they are refused, not an
OverflowError.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import InputError, nearest

SHOW_MAX_CHARS = 60
# Integers longer than this (about 4000 decimal digits, below the 4300 Python converts to text) are
# shown by their approximate length.
LONG_INT_BITS = 13000


@dataclass(frozen=True)
class Place:
    """Where a value came from (source, dotted field) and which InputError type refuses it."""

    source: str
    field: str
    error: type[InputError] = InputError

    def refuse(self, problem: str, *, allowed: str | None = None, suggestions: Iterable[str] = ()) -> InputError:
        return self.error(source=self.source, field=self.field, problem=problem, allowed=allowed,
                          suggestions=tuple(suggestions))

    def key(self, key: str) -> Place:
        return Place(self.source, f"{self.field}.{key}" if self.field else key, self.error)

    def item(self, index: int) -> Place:
        return Place(self.source, f"{self.field}[{index}]", self.error)


def show(value: Any) -> str:
    """A value as an error message quotes it: repr, but short (a 400-digit integer is not quoted whole)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10 ** 18:
        bits = abs(value).bit_length()
        if bits > LONG_INT_BITS:
            # str() of an integer past sys.get_int_max_str_digits raises (valid TOML in hex: 0xfff...).
            return f"an integer of about {int(bits * math.log10(2)) + 1} digits"
        return f"a {len(str(abs(value)))}-digit integer"
    text = repr(value)
    return text if len(text) <= SHOW_MAX_CHARS else text[:SHOW_MAX_CHARS - 3] + "..."


def range_text(lo: float | None, hi: float | None, unit: str = "", *, lo_open: bool = False) -> str:
    unit_text = f" {unit}" if unit else ""
    if lo is None and hi is None:
        return f"any number{unit_text}"
    if hi is None:
        return f"{'above' if lo_open else 'at least'} {lo:g}{unit_text}"
    if lo is None:
        return f"at most {hi:g}{unit_text}"
    if lo_open:
        return f"above {lo:g} and at most {hi:g}{unit_text}"
    return f"{lo:g} to {hi:g}{unit_text}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _in_range(value: float, lo: float | None, hi: float | None, lo_open: bool) -> bool:
    # int vs float comparisons are exact in Python, whatever the size of the int.
    above = lo is None or (value > lo if lo_open else value >= lo)
    return above and (hi is None or value <= hi)


def number(value: Any, at: Place, lo: float | None, hi: float | None, unit: str = "", *,
           lo_open: bool = False, also: str = "") -> float:
    """A finite number in [lo, hi] (or (lo, hi] with lo_open); `also` names other accepted forms
    for the message (e.g. ' or "air"')."""
    allowed = range_text(lo, hi, unit, lo_open=lo_open) + also
    if not _is_number(value):
        raise at.refuse(f"{show(value)} is not a number", allowed=allowed)
    if isinstance(value, float) and not math.isfinite(value):
        raise at.refuse(f"{show(value)} is not a finite number", allowed=allowed)
    if not _in_range(value, lo, hi, lo_open):
        if isinstance(value, float) or abs(value) < 10 ** 18:
            shown = f"{value:g}{' ' + unit if unit else ''}"
        else:
            shown = show(value)
        raise at.refuse(f"{shown} is outside the allowed range", allowed=allowed)
    return float(value)


def integer(value: Any, at: Place, lo: int | None = None, hi: int | None = None, *,
            whole_floats: bool = False) -> int:
    """A whole number in [lo, hi]. `whole_floats` accepts 3.0 as 3 (never 2.5 as 2)."""
    allowed = "a whole number" + ("" if lo is None and hi is None else ", " + range_text(lo, hi))
    if whole_floats and isinstance(value, float) and math.isfinite(value) and value == int(value):
        value = int(value)
    if not _is_number(value) or (isinstance(value, float) and not math.isfinite(value)):
        raise at.refuse(f"{show(value)} is not a whole number", allowed=allowed)
    if not isinstance(value, int):
        raise at.refuse(f"{show(value)} is not a whole number", allowed=allowed)
    if not _in_range(value, lo, hi, False):
        raise at.refuse(f"{show(value)} is outside the allowed range", allowed=allowed)
    return value


def boolean(value: Any, at: Place) -> bool:
    if not isinstance(value, bool):
        raise at.refuse(f"{show(value)} is not true or false", allowed="true or false")
    return value


def text(value: Any, at: Place) -> str:
    if not isinstance(value, str):
        raise at.refuse(f"{show(value)} is not a string", allowed="a string in quotes")
    return value


def choice(value: Any, at: Place, choices: Sequence[str], *, what: str = "value") -> str:
    """One of `choices` (exact); a near miss gets the nearest choices as suggestions."""
    allowed = ", ".join(choices)
    if not isinstance(value, str):
        raise at.refuse(f"{show(value)} is not a name", allowed=allowed)
    if value not in choices:
        raise at.refuse(f"unknown {what} {show(value)}", allowed=allowed, suggestions=nearest(value, choices))
    return value


def table(value: Any, at: Place) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise at.refuse(f"{show(value)} is not a table", allowed=f"a table: [{at.field}] or {{key = value, ...}}")
    return value


def table_list(value: Any, at: Place) -> list[dict[str, Any]]:
    """An array of tables ([[key]] entries)."""
    name = at.field.rsplit(".", 1)[-1]
    if not isinstance(value, list):
        raise at.refuse(f"{show(value)} is not an array of tables", allowed=f"entries written as [[{name}]]")
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise at.item(index).refuse(f"{show(entry)} is not a table", allowed=f"an entry written as [[{name}]]")
    return value


def known_keys(keys: Iterable[str], known: Sequence[str], at: Place, *, what: str = "key") -> None:
    """Refuse the first key not in `known`, with the nearest known keys as suggestions."""
    for key in keys:
        if key not in known:
            raise at.key(key).refuse(f"unknown {what}", allowed=", ".join(known), suggestions=nearest(key, known))


def number_text(raw: str, at: Place, lo: float | None, hi: float | None, unit: str = "", *,
                also: str = "") -> float:
    """A number written as text (a command-line option, a URL query value), checked like `number`."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise at.refuse(f"{show(raw)} is not a number", allowed=range_text(lo, hi, unit) + also) from None
    return number(value, at, lo, hi, unit, also=also)


def integer_text(raw: str, at: Place, lo: int | None = None, hi: int | None = None) -> int:
    try:
        value = int(str(raw).strip())
    except ValueError:
        allowed = "a whole number" + ("" if lo is None and hi is None else ", " + range_text(lo, hi))
        raise at.refuse(f"{show(raw)} is not a whole number", allowed=allowed) from None
    return integer(value, at, lo, hi)
