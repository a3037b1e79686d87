"""TableReader: takes typed, checked values out of one TOML table; whatever is not taken is refused.

    top = TableReader(data, "lsu49.toml")
    temp_c = top.number("operating_temp_c", 300, 1100, unit="°C")
    heater = top.sub("heater")                 # a nested table, fields named "heater.<key>"
    heater.finish()                            # unknown keys in [heater] -> InputError with suggestions
    top.finish()

Pass `keys=` when the table's keys are known up front: unknown keys are then refused at once, before
a misspelt required key could be reported as missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, overload

from . import validators as check
from .errors import InputError, nearest
from .validators import Place

REQUIRED: Any = object()   # default meaning "no default: the key must be there"


class TableReader:
    def __init__(self, table: Any, source: str, prefix: str = "", *, error: type[InputError] = InputError,
                 keys: Sequence[str] | None = None):
        self.place = Place(source, prefix.rstrip("."), error)
        if not isinstance(table, dict):
            where = self.place if self.place.field else Place(source, "file", error)
            raise where.refuse(f"{check.show(table)} is not a table", allowed="a table of key = value")
        self.table: dict[str, Any] = table
        self.source = source
        self.error = error
        self.taken: set[str] = set()
        self.keys = tuple(keys) if keys is not None else None
        if self.keys is not None:
            check.known_keys(table, self.keys, self.place)

    def at(self, key: str) -> Place:
        """The Place of one key, for checks the reader has no method for."""
        return self.place.key(key)

    def has(self, key: str) -> bool:
        return key in self.table

    def value(self, key: str, default: Any = REQUIRED, *, requirement: str = "") -> Any:
        """The raw value (marked as taken); `requirement` says what a missing required key should be."""
        self.taken.add(key)
        if key not in self.table:
            if default is REQUIRED:
                raise self.at(key).refuse("is required" + self._misspelling_hint(key), allowed=requirement or None)
            return default
        return self.table[key]

    def _misspelling_hint(self, missing: str) -> str:
        # Without `keys=` an unknown key is only found by finish(), after the required ones; a key
        # close to the missing one is then most likely its misspelling (or a key read later).
        strays = [k for k in self.table if k not in self.taken and (self.keys is None or k not in self.keys)]
        close = nearest(missing, strays, count=1)
        return f"; is {close[0]!r} (in this table) a misspelling of it?" if close else ""

    def number(self, key: str, lo: float | None, hi: float | None, default: Any = REQUIRED, unit: str = "", *,
               lo_open: bool = False, also: str = "") -> float:
        value = self.value(key, default, requirement=check.range_text(lo, hi, unit, lo_open=lo_open) + also)
        return check.number(value, self.at(key), lo, hi, unit, lo_open=lo_open, also=also)

    def optional_number(self, key: str, lo: float | None, hi: float | None, unit: str = "", *,
                        lo_open: bool = False) -> float | None:
        """None when the key is absent (meaning "not set"), else checked like `number`."""
        if key not in self.table:
            self.taken.add(key)
            return None
        return self.number(key, lo, hi, unit=unit, lo_open=lo_open)

    def integer(self, key: str, lo: int | None = None, hi: int | None = None, default: Any = REQUIRED) -> int:
        return check.integer(self.value(key, default), self.at(key), lo, hi)

    def boolean(self, key: str, default: Any = REQUIRED) -> bool:
        return check.boolean(self.value(key, default, requirement="true or false"), self.at(key))

    def text(self, key: str, choices: Sequence[str] | None = None, default: Any = REQUIRED) -> str:
        value = self.value(key, default, requirement=", ".join(choices) if choices else "")
        if choices is not None:
            return check.choice(value, self.at(key), choices)
        return check.text(value, self.at(key))

    @overload
    def sub(self, key: str, required: Literal[True] = True, *, keys: Sequence[str] | None = None) -> TableReader: ...

    @overload
    def sub(self, key: str, required: bool, *, keys: Sequence[str] | None = None) -> TableReader | None: ...

    def sub(self, key: str, required: bool = True, *, keys: Sequence[str] | None = None) -> TableReader | None:
        value = self.value(key, REQUIRED if required else None, requirement="a table")
        if value is None:
            return None
        return TableReader(value, self.source, self.at(key).field, error=self.error, keys=keys)

    def tables(self, key: str, required: bool = True, *, keys: Sequence[str] | None = None) -> list[TableReader]:
        value = self.value(key, REQUIRED if required else [], requirement=f"entries written as [[{key}]]")
        entries = check.table_list(value, self.at(key))
        return [TableReader(entry, self.source, self.at(key).item(i).field, error=self.error, keys=keys)
                for i, entry in enumerate(entries)]

    def finish(self) -> None:
        """Refuse the keys nothing took: unknown ones with the nearest known ones as suggestions, and
        known ones that do not apply here (e.g. a key of another kind of reference)."""
        left = sorted(set(self.table) - self.taken)
        if self.keys is None:
            check.known_keys(left, tuple(sorted(self.taken)), self.place)
            return
        if left:   # unknown keys were refused on construction
            raise self.at(left[0]).refuse("does not apply here", allowed=", ".join(sorted(self.taken)))
