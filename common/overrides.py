"""`section.key=value` overrides of a raw TOML table, for what-if runs (`element --set`)."""

from __future__ import annotations

import tomllib
from typing import Any

from .errors import InputError, nearest
from .validators import SHOW_MAX_CHARS, Place, show


def apply_override(data: dict[str, Any], assignment: str, source: str, *,
                   error: type[InputError] = InputError) -> None:
    """Set one existing value of `data` in place; the value is read as TOML (bare text stays text).

    Only keys that exist can be overridden, so a typo cannot add a key the loader then ignores or
    refuses far from the option that caused it; the check of the new value is the loader's."""
    path, sep, raw = assignment.partition("=")
    path = path.strip()
    if not sep or not path:
        # The field is the assignment as given; a long one is quoted short (it may be 12 kB of braces).
        field = assignment if len(assignment) <= SHOW_MAX_CHARS else show(assignment)
        raise Place(source, field, error).refuse("an override must look like section.key=value",
                                                      allowed="section.key=value, the value written as in TOML")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError, ValueError):
        value = raw.strip()
    keys = path.split(".")
    table = data
    for depth, key in enumerate(keys[:-1]):
        if not isinstance(table.get(key), dict):
            tables = sorted(k for k, v in table.items() if isinstance(v, dict))
            where = ".".join(keys[:depth + 1])
            raise Place(source, path, error).refuse(f"there is no table {where!r} to override in",
                                                    allowed=", ".join(tables) or "(no tables here)",
                                                    suggestions=nearest(key, tables))
        table = table[key]
    if keys[-1] not in table:
        names = sorted(table)
        raise Place(source, path, error).refuse("there is no such parameter to override",
                                                allowed=", ".join(names), suggestions=nearest(keys[-1], names))
    existing = table[keys[-1]]
    if isinstance(existing, dict) and not isinstance(value, dict):
        # A table (a spread: mean, sd, min, max) given one value: name its parameters, not "not a table".
        names = sorted(existing)
        raise Place(source, path, error).refuse(
            f"{show(value)} is one value, but this is a table: set one of its parameters",
            allowed=", ".join(f"{path}.{name}" for name in names) + ", or a whole table {key = value, ...}")
    table[keys[-1]] = value
