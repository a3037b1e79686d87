"""The modules compiled ahead of time: at install, when Cython and a C compiler are there (setup.py),
each of these plain Python files is also built into an extension module beside it, from the same
source (Cython reads the Python as it stands; the .pxd file beside each module declares its classes
as extension types with C-double fields and its functions as C functions on doubles). The emulator
then runs compiled without numba's start-up (benchmarks/startup.py, benchmarks/sim_speed.py).
Without a compiler the install still succeeds (the extensions are optional) and the same files run
as Python. Same numbers either way: Cython keeps
IEEE double arithmetic in the source's order and calls the same C library functions
(tests/test_jit_fallback.py holds a compiled run to a Python one bit for bit).

The built modules are taken all together or not at all: the board's module uses the element model
as the built extension type, so a module taken from its source takes every other one from its source
too. The Python sources are imported instead of the built modules when
- LAMBDARIG_NO_JIT is set (to anything): =1 asks for plain Python, =0 for numba's kernel, which numba
  can only compile from Python functions (emulator/jit.py);
- a listed module was not built (no compiler, or Cython failed on it), or its source is not the one
  it was built from (an edit after the install: the build leaves the source's SHA-256 beside the
  module, NAME.source-sha256): the sources run, as Python, until the next `pip install -e .` builds
  them again. Nothing stale is ever run.

install_source_fallback() (called by the package's __init__) puts the finder that does this first
on sys.meta_path; it only looks at the names below.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

# The closed loop's emulator: module -> its source, relative to the repository (setup.py reads this
# file to know what to build), each typed by the .pxd beside it. (Modules compiled without types
# measured no faster than Python 3.11 runs them: the firmware, the scenario, hal.sim, the runtime.)
COMPILED_MODULES = {
    "lambdarig.emulator.world": "emulator/world.py",
    "lambdarig.emulator.element_physics": "emulator/element_physics.py",
    "lambdarig.emulator.equilibrium": "emulator/equilibrium.py",
    "lambdarig.emulator.element": "emulator/element.py",
    "lambdarig.emulator.board": "emulator/board.py",
    "lambdarig.emulator.rig": "emulator/rig.py",
}
SOURCE_ENV = "LAMBDARIG_NO_JIT"
# Beside a built module: the SHA-256 (hex) of the source it was built from (setup.py writes it).
STAMP_SUFFIX = ".source-sha256"


def source_wanted() -> bool:
    """Whether the environment asks for the Python source (LAMBDARIG_NO_JIT set to anything but empty)."""
    return os.environ.get(SOURCE_ENV, "").strip() != ""


class SourceFallback:
    """Imports a compiled module's .py instead of its extension when the environment asks for it or
    the .py is not what the extension was built from; otherwise leaves the import to the usual
    finders. (A meta path finder by protocol: importlib.abc would import importlib.resources and
    with it tempfile, shutil... into every start.)"""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in COMPILED_MODULES or path is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        origin = spec.origin if spec is not None else None
        if origin is None or not origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            return None
        folder, module = os.path.dirname(origin), fullname.rpartition(".")[2]
        source = os.path.join(folder, module + ".py")
        if not os.path.exists(source):   # no source beside the extension: the extension it is
            return None
        if source_wanted() or not all_built_from_their_sources():
            from importlib.util import spec_from_file_location
            return spec_from_file_location(fullname, source)
        return None


# why_not_built(), per list of modules (a test may list others)
_verdicts: dict[tuple[tuple[str, str], ...], str] = {}


def all_built_from_their_sources() -> bool:
    """Whether every listed module has a built extension made from its present source."""
    return not why_not_built()


def why_not_built() -> str:
    """"" when every listed module has a built extension made from its present source; else why not
    (the first module that was not built, or whose source changed since the build)."""
    key = tuple(sorted(COMPILED_MODULES.items()))
    verdict = _verdicts.get(key)
    if verdict is None:
        verdict = _verdicts[key] = next(filter(None, map(_why_not_built, COMPILED_MODULES)), "")
    return verdict


def _why_not_built(fullname: str) -> str:
    from importlib.util import find_spec  # here: most imports of lambdarig never get this far
    parent, _, module = fullname.rpartition(".")
    package = find_spec(parent)   # the package's folders, without importing it
    for folder in (package.submodule_search_locations or ()) if package is not None else ():
        source = os.path.join(folder, module + ".py")
        built = [name for name in os.listdir(folder)
                 if name.startswith(module + ".") and name.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))]
        if built:
            if os.path.exists(source) and not built_from(source, os.path.join(folder, module + STAMP_SUFFIX)):
                return f"{fullname} changed since the build"
            return ""
    return f"{fullname} was not built"


def how_the_emulator_runs() -> str:
    """"built" (the listed modules as built at install), or "python: " and why: the environment
    asked for the sources (LAMBDARIG_NO_JIT), or a module was not built or changed since the build
    (`pip install -e .` builds them again). Where numba compiles the step kernel, emulator/jit.py
    says so."""
    if source_wanted():
        return f"python: {SOURCE_ENV} is set"
    reason = why_not_built()
    return f"python: {reason}" if reason else "built"


def built_from(source: str, stamp: str) -> bool:
    """Whether the source is the one its module was built from (True without a stamp to tell)."""
    try:
        with open(stamp, encoding="ascii") as f:
            built_digest = f.read().strip()
    except OSError:
        return True
    import hashlib  # here: most imports of lambdarig never get this far
    with open(source, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest() == built_digest


def install_source_fallback() -> None:
    if not any(isinstance(f, SourceFallback) for f in sys.meta_path):
        sys.meta_path.insert(0, SourceFallback())


def is_compiled(module: ModuleType | Any) -> bool:
    """Whether this module was loaded from a built extension (not its .py)."""
    origin = getattr(getattr(module, "__spec__", None), "origin", None) or ""
    return origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
