"""The package's error root and the one shape every bad-input error takes.

Every error lambdarig raises on purpose is a LambdarigError, so an application (and the command
line) can catch the package's refusals apart from programming errors. Bad input (a file, an option,
a URL query key) is an InputError: it names where the input came from, the field, what is wrong,
what is allowed and, when a name was mistyped, the nearest valid names.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

SUGGEST_CUTOFF = 0.6   # difflib's own default for get_close_matches
SUGGEST_SPREAD = 0.1   # suggest only names this close to the best match's score


class LambdarigError(Exception):
    """Root of every error the package raises on purpose."""


class InputError(LambdarigError, ValueError):
    """Bad input, refused before anything uses it.

    source:      the file or option group ("settings.toml", "command line", "sim front end")
    field:       the dotted key or option ("heater.target_temp_c", "--lambda", "at[2].t_s")
    problem:     what is wrong with it, in words
    allowed:     what would be accepted (a range with its unit, a list of names), or None
    suggestions: the nearest valid names when a name was mistyped (see `nearest`)

    Subclasses (SettingsError, EmulatorInputError, StationError) must accept these five as keyword
    arguments: the readers in lambdarig.common construct whichever subclass they are given that way.
    It is still a ValueError because callers caught bad values as ValueError before the root existed.
    """

    def __init__(self, source: str, field: str, problem: str, *, allowed: str | None = None,
                 suggestions: Iterable[str] = ()):
        self.source = source
        self.field = field
        self.problem = problem
        self.allowed = allowed
        self.suggestions = tuple(suggestions)
        super().__init__(self.message())

    def message(self) -> str:
        notes = []
        if self.allowed:
            notes.append(f"allowed: {self.allowed}")
        if self.suggestions:
            notes.append(f"did you mean {_or_list(self.suggestions)}?")
        tail = f" ({'; '.join(notes)})" if notes else ""
        return f"{self.source}: {self.field}: {self.problem}{tail}"

    def __str__(self) -> str:
        return self.message()

    def parts(self) -> dict[str, Any]:
        return {"source": self.source, "field": self.field, "problem": self.problem,
                "allowed": self.allowed, "suggestions": self.suggestions}

    def replace(self, **changes: Any) -> InputError:
        """The same error (same type) with some parts changed, e.g. a field re-rooted under a table."""
        return type(self)(**{**self.parts(), **changes})

    def __reduce__(self):
        # Exceptions pickle as type(self)(*self.args); ours are built from keyword parts (sweeps
        # send errors back from worker processes).
        return _rebuild, (type(self), self.parts())


def _rebuild(cls: type[InputError], parts: dict[str, Any]) -> InputError:
    return cls(**parts)


def _or_list(names: tuple[str, ...]) -> str:
    quoted = [f"'{name}'" for name in names]
    if len(quoted) == 1:
        return quoted[0]
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def nearest(name: object, candidates: Iterable[str], count: int = 3) -> tuple[str, ...]:
    """The valid names closest to a mistyped one, best first (case-insensitive); () when none is close.

    Only names about as close as the best are given: one clear answer is not diluted by far ones."""
    if not isinstance(name, str):
        return ()
    by_folded: dict[str, str] = {}
    for candidate in candidates:
        by_folded.setdefault(candidate.lower(), candidate)
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(name.lower())
    scored = []
    for folded, candidate in by_folded.items():
        matcher.set_seq1(folded)
        score = matcher.ratio()
        if score >= SUGGEST_CUTOFF:
            scored.append((-score, candidate))
    scored.sort()
    if not scored:
        return ()
    best = -scored[0][0]
    return tuple(candidate for neg_score, candidate in scored[:count] if -neg_score >= best - SUGGEST_SPREAD)
