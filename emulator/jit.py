"""Optional compilation of the emulator's physics (numba), with the plain Python as the fallback.

The physics is written once, as plain Python functions of floats. Two decorators mark it:

- ``@jitable``: a readable physics function. Python calls it as it stands; a kernel that calls it
  has it compiled in (numba's ``register_jitable``).
- ``compiled(make_kernel, arg_types)``: a kernel (a composition of jitable functions, called once
  per emulator step) compiled with numba, ``cache=True`` so that later processes load it from disk
  instead of compiling it again; or the kernel itself, run as Python, when numba is not installed or
  the environment says ``LAMBDARIG_NO_JIT=1``, or the process chose Python for a short run
  (``prefer_python()``: `lambdarig simulate` below COMPILE_FROM_SIM_S simulated seconds, unless
  LAMBDARIG_NO_JIT is set; ``LAMBDARIG_NO_JIT=0`` forces the compiled kernel).

Both ways run the same source, and give the same numbers to the last bit: numba keeps IEEE
double arithmetic in the source's order (no fastmath, so no reassociation or fused multiply-add),
and its exp, log, sqrt, asinh are the C library's, as Python's are. tests/test_hotpath_element.py
holds the compiled step to the Python one bit for bit; tests/test_jit_fallback.py runs the
fallback in a subprocess.

numba is imported on the first ``compiled()`` call (an element model's construction), not when the
emulator is imported, so commands that never step an element do not pay its import (~0.2 s).

The on-disk cache: numba writes it into ``__pycache__`` beside the source (ignored by git, like
the .pyc files), or, where that is not writable (a read-only site-packages), into numba's per-user
cache folder (~/.cache/numba/...); ``NUMBA_CACHE_DIR``, when set, is used instead of both (the test
suite sets it, tests/conftest.py). A cache that cannot be written costs a compilation per process,
with a warning, nothing else. numba checks
the kernel's own source file for changes, not the files of the functions it calls, so every kernel
is keyed by a digest of the sources of the modules listed in SOURCES as well: an edit to any of
them compiles afresh instead of loading a stale kernel.
"""

from __future__ import annotations

import hashlib
import os
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

NO_JIT_ENV = "LAMBDARIG_NO_JIT"
# The modules whose functions end up in a kernel (the constants are compiled in as values too).
SOURCES = ("jit.py", "element_physics.py", "equilibrium.py", "constants.py")

_jitables: list[Callable[..., Any]] = []
_registered: set[int] = set()
_kernels: dict[Callable[..., Any], Callable[..., Any]] = {}
_numba: Any = None
_numba_tried = False
# Whether the kernels' module was built ahead of time (Cython, lambdarig/aot.py): its functions are
# then no Python functions that numba could compile, and need no numba: the kernel runs as built.
_built_ahead = False


def jit_disabled() -> bool:
    """LAMBDARIG_NO_JIT set to anything but empty or 0."""
    return os.environ.get(NO_JIT_ENV, "").strip() not in ("", "0")


def _load_numba() -> Any:
    global _numba, _numba_tried
    if not _numba_tried and not _built_ahead:
        _numba_tried = True
        if not jit_disabled():
            try:
                import numba
            except ImportError:  # pragma: no cover - numba is in the test extra
                return None
            _numba = numba
    return _numba


def prefer_python() -> bool:
    """Run the kernels as Python in this process, unless LAMBDARIG_NO_JIT is set (either way; empty is
    unset) or a
    kernel has been asked for already; True when that took effect. For a command whose run is short:
    numba's import and cache load (~0.45 s of CPU per process, whatever the kernel) cost more than the
    compiled step saves below ~150 simulated s (benchmarks/startup.py). The numbers are the same."""
    global _numba_tried
    if _numba_tried or os.environ.get(NO_JIT_ENV, "").strip():
        return False
    _numba_tried = True   # _numba stays None
    return True


def numba_compiled_a_kernel() -> bool:
    """Whether numba compiled (or loaded) a kernel in this process (without importing numba)."""
    return bool(_kernels)


def is_compiled() -> bool:
    """Whether compiled() compiles (numba importable and not disabled)."""
    return _load_numba() is not None


def is_built_ahead() -> bool:
    """Whether the kernels run as built at install (Cython, lambdarig/aot.py), without numba."""
    return _built_ahead


def jitable(fn: F) -> F:
    """Mark a readable physics function that kernels may call (returned unchanged)."""
    _jitables.append(fn)
    return fn


def _source_digest() -> str:
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


def compiled(make_kernel: Callable[[str], F], arg_types: str) -> F:
    """The kernel that make_kernel(digest) returns, compiled now for arguments of these numba types
    (e.g. "float64[::1], float64"), from the on-disk cache when it is there; or, when numba is not
    available or LAMBDARIG_NO_JIT is set, or the kernels were built ahead of time, make_kernel("") as
    it stands.

    make_kernel defines the kernel as a closure that names `digest`: numba keys its cache on the
    function's bytecode and closure values, so another digest of the sources is another cache entry.
    Compiled here rather than on the first call, so that the time it takes falls on the model's
    construction (before an emulated rig announces itself), not into a running loop. A cache that
    cannot be written (a full disk, a file-size limit, no writable cache folder) costs the next
    process a compilation, nothing else: the compiled kernel is kept and used."""
    global _built_ahead
    if not isinstance(make_kernel, types.FunctionType):   # its module was built (Cython): no numba
        _built_ahead = True
    numba = _load_numba()
    if numba is None:
        return make_kernel("")
    done: Any = _kernels.get(make_kernel)
    if done is None:
        from numba.extending import register_jitable
        for fn in _jitables:
            if id(fn) not in _registered:
                register_jitable(fn)
                _registered.add(id(fn))
        done = numba.njit(cache=True)(make_kernel(_source_digest()))
        try:
            done.compile(f"({arg_types},)")
        except OSError as exc:
            # numba adds the compiled kernel to the dispatcher before it writes the cache file.
            if not done.overloads:
                raise
            warnings.warn(f"the emulator's compiled step kernel could not be cached ({exc}); the next start "
                          "compiles it again", RuntimeWarning, stacklevel=2)
        _kernels[make_kernel] = done
    return done


def numba_version() -> str:
    """numba's version, "" when it is not used."""
    numba = _load_numba()
    return str(numba.__version__) if numba is not None else ""
