"""Identify before touching: what an *IDN? reply must be for a role to be driven, and the text an
instrument sends made safe to print.

    printable(text) -> text without control characters or terminal escape sequences, bounded
    identity_problem(model_key, idn) -> None, or why the reply is not that model
    IdentityError: the instrument at the resource is not the one the station file names (a
    FrontEndError, not a LinkLost: trying again would not change whom it talks to)
"""

from __future__ import annotations

import re

from lambdarig.protocol.instrument_identity import identity_matches, idn_fields, model_of_idn
from lambdarig.protocol.instrument_models import MODELS

from ..types import FrontEndError

PRINTABLE_MAX_CHARS = 200
# ANSI/VT escape sequences (CSI ... final byte, OSC ... BEL/ST, two-byte ESC x), then any other
# C0/C1 control character or DEL.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|\x9b[0-?]*[ -/]*[@-~]")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class IdentityError(FrontEndError):
    """The instrument at a role's resource is not the model the station file names, or not an
    instrument at all, or another role's instrument."""


def printable(text: str) -> str:
    """Instrument text fit for a terminal or a log: escapes and control characters removed (a tab
    or newline becomes a space), at most PRINTABLE_MAX_CHARS characters."""
    cleaned = _CONTROLS.sub(" ", _ESCAPES.sub("", text)).strip()
    if len(cleaned) > PRINTABLE_MAX_CHARS:
        cleaned = cleaned[:PRINTABLE_MAX_CHARS - 3] + "..."
    return cleaned


def identity_problem(model_key: str, idn: str) -> str | None:
    """None when the *IDN? reply is the model; else what it is instead, in words."""
    if identity_matches(model_key, idn):
        return None
    expected = MODELS[model_key].description
    fields = idn_fields(idn)
    if not fields.is_idn:
        shown = repr(idn) if idn else "an empty line"
        return f"answered *IDN? with {shown}, which is not an instrument's identity; expected a {expected}"
    other = model_of_idn(idn)
    hint = f" (a {other}: is the station file's model or resource wrong?)" if other else ""
    return f"*IDN? says {idn!r}: not a {expected}{hint}"
