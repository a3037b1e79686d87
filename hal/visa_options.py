"""The visa front end's URL and options: `visa:STATION.toml?key=value&...` and keyword options,
each checked by the common validators, so a bad value is an InputError naming the key, what is
allowed and, for a mistyped key or choice, the nearest valid name (never "could not convert
string to float"). See hal/visa_frontend.py for what each option does.
"""

from __future__ import annotations

from typing import Any

from lambdarig.common import validators as check
from lambdarig.common.errors import nearest
from lambdarig.common.validators import Place

from .url import query_options, split_url

SOURCE = "visa front end"
OPTION_KEYS = ("visa_library", "heater_every", "esr_every", "error_every", "supply_sense", "on_compliance", "nplc",
               "pressure_every")
SUPPLY_SENSE = ("infer", "fixed")
ON_COMPLIANCE = ("flag", "error")
EVERY_RANGE = (1, 1000)
ERROR_EVERY_RANGE = (0, 1000)      # 0: never poll the error queues
NPLC_RANGE = (0.01, 10.0)


def _at(key: str) -> Place:
    return Place(SOURCE, key)


def parse_visa_url(url: str) -> tuple[str, dict[str, Any]]:
    """(station path, options as text) from a visa URL; InputError naming an unknown or repeated key."""
    path, query = split_url(url, "visa", lambda _: _at("url").refuse(f"{check.show(url)} is not a visa URL",
                                                                     allowed="visa:STATION.toml?key=value"))
    if not path:
        raise _at("url").refuse(f"{check.show(url)} names no station file", allowed="visa:STATION.toml")
    options, _ = query_options(
        query, OPTION_KEYS,
        unknown=lambda key: _at(key).refuse("unknown query key", allowed=", ".join(OPTION_KEYS),
                                            suggestions=nearest(key, OPTION_KEYS)),
        twice=lambda key: _at(key).refuse("given twice in the URL", allowed="each key once"))
    return path, options


def _whole(key: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, str):
        return check.integer_text(value, _at(key), lo, hi)
    return check.integer(value, _at(key), lo, hi)


def _number(key: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, str):
        return check.number_text(value, _at(key), lo, hi)
    return check.number(value, _at(key), lo, hi)


def _choice(key: str, value: Any, choices: tuple[str, ...]) -> str:
    return check.choice(value.strip() if isinstance(value, str) else value, _at(key), choices)


def front_end_options(url_options: dict[str, Any], options: dict[str, Any],
                      visa_library: str | None = None) -> dict[str, Any]:
    """The VisaFrontEnd keyword arguments from URL query values and keyword options (which win)."""
    check.known_keys(options, OPTION_KEYS, Place(SOURCE, ""), what="option")
    merged = {**url_options, **options}
    if visa_library is not None:
        merged["visa_library"] = visa_library
    library = merged.get("visa_library", "@py")
    if not isinstance(library, str) or not library.strip():
        raise _at("visa_library").refuse(f"{check.show(library)} is not a VISA library",
                                         allowed='a pyvisa backend such as "@py"')
    kwargs: dict[str, Any] = {"visa_library": library.strip()}
    for key in ("heater_every", "esr_every", "pressure_every"):
        if merged.get(key) is not None:
            kwargs[key] = _whole(key, merged[key], *EVERY_RANGE)
    if merged.get("error_every") is not None:
        kwargs["error_every"] = _whole("error_every", merged["error_every"], *ERROR_EVERY_RANGE)
    if merged.get("supply_sense") is not None:
        kwargs["supply_sense"] = _choice("supply_sense", merged["supply_sense"], SUPPLY_SENSE)
    if merged.get("on_compliance") is not None:
        kwargs["on_compliance"] = _choice("on_compliance", merged["on_compliance"], ON_COMPLIANCE)
    if merged.get("nplc") is not None:
        kwargs["nplc"] = _number("nplc", merged["nplc"], *NPLC_RANGE)
    return kwargs
