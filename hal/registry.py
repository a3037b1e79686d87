"""Open a front end by URL: one registry of backends, the way python-can opens buses.

    open_frontend("sim:lsu49")                               # emulated element, virtual time
    open_frontend("sim:lsu49?scenario=cold-start&seed=3")    # query keys are backend options
    open_frontend("sim:lsu49", scenario="free-air", seed=3)  # keyword options override query keys

The scheme is the text before the first ':' (the whole string when there is none), case-insensitive.
It names a backend, resolved in this order:

1. `register_frontend(scheme, factory)`: programmatic registration (tests, applications);
2. the built-in table `BUILTIN_FRONTENDS` (scheme -> "module:Class", imported only when opened);
3. entry points in the group `lambdarig.frontends` from installed distributions, merged at first use.
   A third-party package adds, in its pyproject.toml:

       [project.entry-points."lambdarig.frontends"]
       myboard = "my_package.frontend:MyBoardFrontEnd"

   An entry point whose name is a built-in scheme is ignored: built-ins cannot be hijacked by
   installing a package (use `register_frontend` to replace one on purpose).

A backend is a class with a `from_url(url, **options)` classmethod returning a FrontEnd; a plain
callable `factory(url, **options)` is accepted too. Errors (all under lambdarig's LambdarigError):

- an empty URL, or bad arguments to register_frontend -> InputError naming the field;
- unknown or malformed scheme -> UnknownFrontEndError: an InputError (bad input, with the known
  schemes and the nearest one) that is also a FrontEndError, as callers caught it before;
- a backend that fails to import -> FrontEndError naming the scheme, the known schemes and the
  import reason;
- bad options (unknown key, bad value) -> InputError from the backend, naming the option and the
  allowed values;
- anything else the backend raises while opening (e.g. the emulator's EmulatorInputError for an
  unknown element) propagates unchanged.
"""

from __future__ import annotations

import importlib
import re
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambdarig.common.errors import InputError, nearest

from .address import frontend_url
from .frontend import FrontEnd
from .types import FrontEndError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

ENTRY_POINT_GROUP = "lambdarig.frontends"

# Built-in backends: scheme -> "module:Class", imported lazily. serial and visa join when built.
BUILTIN_FRONTENDS: dict[str, str] = {
    "sim": "lambdarig.hal.sim:SimFrontEnd",
    "serial": "lambdarig.hal.serial_frontend:SerialFrontEnd",
    "visa": "lambdarig.hal.visa_frontend:VisaFrontEnd",
}

_SCHEME_RE = re.compile(r"[a-z][a-z0-9+.\-]*\Z")

SOURCE = "front-end registry"
URL_SOURCE = "front-end URL"


class UnknownFrontEndError(InputError, FrontEndError):
    """A front-end URL whose scheme names no backend: bad input, and a FrontEndError as before."""


_lock = threading.Lock()
_registered: dict[str, Any] = {}              # scheme -> "module:Class" | class | callable
_plugins: dict[str, EntryPoint] | None = None  # merged from entry points at first use
_plugin_error: str = ""                       # why the entry-point scan failed, if it did


def entry_points(**selection: Any) -> Any:
    """importlib.metadata.entry_points, imported when the plugins are first looked up (a scheme that
    is not built in): importing it costs a start-up ~15 ms (email, zipfile, csv, ...)."""
    from importlib.metadata import entry_points as scan
    return scan(**selection)


def _is_entry_point(entry: Any) -> bool:
    metadata = sys.modules.get("importlib.metadata")   # an EntryPoint exists only once that is imported
    return metadata is not None and isinstance(entry, metadata.EntryPoint)


def _plugin_table() -> dict[str, EntryPoint]:
    global _plugins, _plugin_error
    plugins = _plugins
    if plugins is not None:
        return plugins
    with _lock:
        if _plugins is None:
            found: dict[str, EntryPoint] = {}
            try:
                for ep in entry_points(group=ENTRY_POINT_GROUP):
                    scheme = ep.name.strip().lower()
                    if _SCHEME_RE.match(scheme) and scheme not in BUILTIN_FRONTENDS:
                        found.setdefault(scheme, ep)
                _plugin_error = ""
            except Exception as exc:  # broken metadata of some installed distribution
                _plugin_error = f"{type(exc).__name__}: {exc}"
            _plugins = found
        return _plugins


def _check_scheme(scheme: Any) -> str:
    if not isinstance(scheme, str) or not _SCHEME_RE.match(scheme.strip().lower()):
        raise InputError(SOURCE, "scheme", f"{scheme!r} is not a scheme name",
                         allowed="a letter followed by letters, digits, '+', '-' or '.'")
    return scheme.strip().lower()


def register_frontend(scheme: str, factory: str | Callable[..., FrontEnd]) -> None:
    """Register (or replace) the backend for `scheme`.

    `factory` is a "module:Class" string (imported when first opened), a class with
    `from_url(url, **options)`, or a callable `factory(url, **options) -> FrontEnd`.
    """
    scheme = _check_scheme(scheme)
    if isinstance(factory, str):
        if factory.count(":") != 1 or not all(part.strip() for part in factory.split(":")):
            raise InputError(SOURCE, f"factory for {scheme!r}", f"{factory!r} is not a 'module:Class' string",
                             allowed="'module:Class'")
    elif not callable(factory) and not hasattr(factory, "from_url"):
        raise InputError(SOURCE, f"factory for {scheme!r}", f"{factory!r} cannot open a front end",
                         allowed="'module:Class', a class with from_url, or a callable")
    with _lock:
        _registered[scheme] = factory


def unregister_frontend(scheme: str) -> None:
    """Remove a programmatic registration (a built-in it replaced becomes visible again)."""
    with _lock:
        _registered.pop(_check_scheme(scheme), None)


def known_schemes() -> list[str]:
    """Every scheme that open_frontend recognises, sorted (whether or not its backend imports)."""
    return sorted({*_registered, *BUILTIN_FRONTENDS, *_plugin_table()})


def _known_text() -> str:
    text = ", ".join(known_schemes()) or "(none)"
    if _plugin_error:
        text += f" (scanning entry points {ENTRY_POINT_GROUP!r} failed: {_plugin_error})"
    return text


def _import_target(target: str) -> Any:
    module_name, _, attr_path = target.partition(":")
    obj: Any = importlib.import_module(module_name.strip())
    for attr in attr_path.strip().split("."):
        obj = getattr(obj, attr)
    return obj


def _resolve(scheme: str) -> Any:
    entry = _registered.get(scheme)
    origin = "registered"
    if entry is None:
        entry = BUILTIN_FRONTENDS.get(scheme)
        origin = "built-in"
    if entry is None:
        entry = _plugin_table().get(scheme)
        origin = f"entry point in {ENTRY_POINT_GROUP!r}"
    if entry is None:
        raise UnknownFrontEndError(URL_SOURCE, "scheme", f"unknown front-end scheme {scheme!r}",
                                   allowed=f"the schemes {_known_text()}, a device path (/dev/ttyUSB0), a pyserial "
                                           f"URL (socket://HOST:PORT, rfc2217://, loop://, hwgrep://) or auto",
                                   suggestions=nearest(scheme, [*known_schemes(), "socket://", "rfc2217://",
                                                                "loop://", "hwgrep://"]))
    if isinstance(entry, str) or _is_entry_point(entry):
        target = entry if isinstance(entry, str) else entry.value
        try:
            return _import_target(entry) if isinstance(entry, str) else entry.load()
        except Exception as exc:  # ImportError, AttributeError, or an error raised while importing
            raise FrontEndError(f"front-end backend {scheme!r} ({origin} {target!r}) is not available: "
                                f"{type(exc).__name__}: {exc}; known schemes: {_known_text()}") from exc
    return entry


def split_url(url: str) -> tuple[str, str]:
    """(scheme, rest) of a front-end URL: 'sim:lsu49?seed=3' -> ('sim', 'lsu49?seed=3')."""
    if not isinstance(url, str) or not url.strip():
        raise InputError(URL_SOURCE, "url", f"{url!r} is not a front-end URL", allowed="a URL such as 'sim:lsu49'")
    url = url.strip()
    scheme, _, rest = url.partition(":")
    scheme = scheme.strip().lower()
    if not _SCHEME_RE.match(scheme):
        raise UnknownFrontEndError(URL_SOURCE, "scheme", f"{url!r} has no valid scheme (the text before ':')",
                                   allowed=f"the schemes {_known_text()}, a device path (/dev/ttyUSB0), a pyserial "
                                           f"URL (socket://HOST:PORT, rfc2217://, loop://, hwgrep://) or auto",
                                   suggestions=nearest(scheme, [*known_schemes(), "socket://", "rfc2217://",
                                                                "loop://", "hwgrep://"]))
    return scheme, rest


def open_frontend(url: str, **options: Any) -> FrontEnd:
    """Open the front end named by `url`; keyword options go to the backend (and override its query keys).
    A bare device path, a pyserial URL (socket://, loop://, ...) or 'auto' is a serial front end
    (lambdarig.hal.address)."""
    url = frontend_url(url)
    scheme, _ = split_url(url)
    backend = _resolve(scheme)
    from_url = getattr(backend, "from_url", None)
    if from_url is not None:
        return from_url(url.strip(), **options)
    if callable(backend):
        return backend(url.strip(), **options)
    raise FrontEndError(f"front-end backend {scheme!r} resolved to {backend!r}, which has no from_url "
                        f"and is not callable")
