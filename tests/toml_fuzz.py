"""A seeded generator of hostile-but-parseable TOML documents, for the TOML-input fuzz tests.

`mutants(base, rng)` yields TOML texts made from a real document (`base`, a parsed dict) by one to
three mutations each: wrong types, huge/NaN/inf numbers, 400-digit integers, deep nesting, unknown
and unicode keys, empty tables, arrays where tables belong, missing keys, duplicate-ish keys (case,
spaces, a near spelling). `hostile_values` are the values the mutations draw from; `hostile_texts`
are whole documents that cannot be written as a dict (nesting past the parser's recursion limit).
Everything is decided by the `random.Random` it is given: a seed reproduces a case.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import random
from typing import Any

NESTING_DEEP = 3000   # past tomllib's recursion: the reader must refuse, not raise RecursionError


def hostile_values(rng: random.Random) -> list[Any]:
    return [
        10 ** 400, -(10 ** 400), 2 ** 63, -(2 ** 63) - 1, 0, -1, 1, 7,
        math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -0.0, 0.5, 1e-30, 123456.789,
        True, False,
        "", " ", "λ", "\u202egnp.evil", "é" * 3, "x" * 5000, "\x1b[2J\x07", "nan", "1e999", "lsu49 ",
        "9" * 400, "calibrated", "gasoline", "keithley2400", "TCPIP::127.0.0.1::1::SOCKET",
        [], [1, 2, 3], [math.nan], ["a", "b"], [[]], [{}], [{"t_s": 1}], [10 ** 400],
        {}, {"x": 1}, {"": 1}, {"λ": "λ"},
        dt.datetime(1979, 5, 27, 7, 32), dt.date(2024, 2, 29), dt.time(23, 59, 59),
        _nested_list(rng.randint(20, 60)), _nested_table(rng.randint(20, 60)),
        [rng.random() for _ in range(rng.randint(200, 2000))],
    ]


def _nested_list(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _nested_table(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def hostile_texts() -> list[str]:
    """Documents past the parser's limits, as text (a dict of them cannot be built and dumped)."""
    return [
        "x = " + "[" * NESTING_DEEP + "]" * NESTING_DEEP + "\n",
        "x = " + "{a = " * NESTING_DEEP + "1" + "}" * NESTING_DEEP + "\n",
        "x = " + "9" * 5000 + "\n",
        "[" + ".".join(["a"] * 5000) + "]\n",
        "",
        "\ufeffschema_version = 1\n",
        "# only a comment\n",
    ]


# --- mutations --------------------------------------------------------------------------------------

def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (keys and list indexes) inside `data`, tables and leaves alike."""
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            found.append(prefix + (key,))
            found.extend(_paths(value, prefix + (key,)))
    elif isinstance(data, list):
        for index, value in enumerate(data[:8]):
            found.append(prefix + (index,))
            found.extend(_paths(value, prefix + (index,)))
    return found


def _parent(data: Any, path: tuple) -> Any:
    for step in path[:-1]:
        data = data[step]
    return data


def _near_spelling(key: str, rng: random.Random) -> str:
    forms = [key.upper(), key.capitalize(), key + " ", " " + key, key.replace("_", "-"), key + "s",
             key[:-1] if len(key) > 1 else key + key, key.replace("_", ""), key + "\u200b", "λ" + key]
    return rng.choice(forms)


def mutate(data: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """One random mutation of `data` (in place; also returned)."""
    paths = _paths(data)
    kind = rng.randrange(9)
    if not paths:
        kind = 4
    if kind <= 2:    # replace a value (a leaf or a whole table) with a hostile one
        path = rng.choice(paths)
        _parent(data, path)[path[-1]] = copy.deepcopy(rng.choice(hostile_values(rng)))
    elif kind == 3:  # drop a key (a required one, sometimes)
        path = rng.choice([p for p in paths if isinstance(p[-1], str)] or paths)
        parent = _parent(data, path)
        if isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
    elif kind == 4:  # add an unknown key, maybe a unicode one, at the top or in a table
        tables = [data] + [v for p in paths if isinstance(v := _parent(data, p + (None,)), dict)]
        target = rng.choice(tables)
        key = rng.choice(["unknown", "λ", "\u202e", "ÿ" * 40, "x" * 300, "", " ", "schema_version", "a.b"])
        target[key] = copy.deepcopy(rng.choice(hostile_values(rng)))
    elif kind == 5:  # a duplicate-ish key: the same key spelt nearly the same, next to it
        keyed = [p for p in paths if isinstance(p[-1], str)]
        if keyed:
            path = rng.choice(keyed)
            parent = _parent(data, path)
            parent[_near_spelling(path[-1], rng)] = copy.deepcopy(parent[path[-1]])
    elif kind == 6:  # an array where a table belongs (and the other way round)
        path = rng.choice(paths)
        parent = _parent(data, path)
        value = parent[path[-1]]
        if isinstance(value, dict):
            parent[path[-1]] = rng.choice([[value], [], [value, value], list(value.values())])
        elif isinstance(value, list):
            parent[path[-1]] = rng.choice([{}, value[0] if value else {}, {"0": value}])
        else:
            parent[path[-1]] = rng.choice([{}, [value], {"value": value}])
    elif kind == 7:  # empty a table
        tables = [p for p in paths if isinstance(_parent(data, p + (None,)), dict)]
        if tables:
            _parent(data, rng.choice(tables) + (None,)).clear()
    else:            # shuffle a list, or duplicate its entries (times out of order, repeated)
        lists = [p for p in paths if isinstance(_parent(data, p + (None,)), list)]
        if lists:
            items = _parent(data, rng.choice(lists) + (None,))
            if rng.random() < 0.5:
                rng.shuffle(items)
            else:
                items.extend(copy.deepcopy(items[: rng.randint(1, 3)]))
    return data


def mutants(base: dict[str, Any], rng: random.Random, count: int) -> list[str]:
    """`count` TOML texts, each `base` after 1 to 3 mutations."""
    texts = []
    for _ in range(count):
        data = copy.deepcopy(base)
        for _ in range(rng.randint(1, 3)):
            data = mutate(data, rng)
        texts.append(dumps(data))
    return texts


# --- a TOML writer for any dict (inline tables, so any shape and order can be written) ---------------

def _string(text: str) -> str:
    out = ['"']
    for char in text:
        code = ord(char)
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\uFFFD")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_string(str(k))} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def dumps(data: dict[str, Any]) -> str:
    """`data` as TOML: every top-level key on a line of its own, tables as inline tables."""
    return "".join(f"{_string(str(key))} = {_value(value)}\n" for key, value in data.items())
