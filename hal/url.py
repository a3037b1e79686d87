"""The grammar every front-end URL shares: ``SCHEME:[//]TARGET[?key=value&...]``.

Each backend (sim, serial, visa) keeps its own target meaning, its own keys and its own error
texts; this module only splits the URL and walks the query, calling back for the refusals so that
each backend's messages stay its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

Refusal = Callable[[str], Exception]     # a key (or the URL) -> the exception to raise


def split_url(url: str, scheme: str, not_this_scheme: Refusal, *, decode: bool = True) -> tuple[str, str]:
    """(target, query text) of `url` when its scheme is `scheme` (case-insensitive), else raise
    `not_this_scheme(url)`. A leading ``//`` of the target is dropped and the target stripped;
    with `decode` its %-escapes are decoded first (a pyserial port is passed on as written)."""
    given, _, rest = url.strip().partition(":")
    if given.strip().lower() != scheme:
        raise not_this_scheme(url)
    target, _, query = rest.partition("?")
    if target.startswith("//"):
        target = target[2:]
    return (unquote(target) if decode else target).strip(), query


def query_options(query: str, known: tuple[str, ...], *, twice: Refusal, unknown: Refusal | None = None,
                  renamed: Mapping[str, str] | None = None,
                  repeatable: tuple[str, ...] = ()) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """(options, foreign pairs) from a URL query, in order, blank values kept.

    A key not in `known` raises `unknown(key)`, or, with no `unknown`, is returned among the foreign
    pairs for the caller to judge. A known key is stored under `renamed[key]` (default: itself);
    an option in `repeatable` collects a list, any other given twice raises `twice(key)`."""
    renamed = renamed or {}
    options: dict[str, Any] = {}
    foreign: list[tuple[str, str]] = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in known:
            if unknown is not None:
                raise unknown(key)
            foreign.append((key, value))
            continue
        option = renamed.get(key, key)
        if option in repeatable:
            options.setdefault(option, []).append(value)
        elif option in options:
            raise twice(key)
        else:
            options[option] = value
    return options, foreign
