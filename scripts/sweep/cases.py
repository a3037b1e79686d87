"""A sweep's cases (the product of its axes, or the listed subset) and each case's content key.

A case is a plain dict (it travels to Dask workers as is): element, scenario, fuel, variant, its
settings overlay, seed, unit, age_h, duration_s. Its noise seed is its `seed` axis value, a parameter
of the case, never its position or its worker: cases that differ in another axis share the noise
realisation (common random numbers, so a variant comparison is not blurred by noise).

The content key is a SHA-256 over the canonical JSON of the case's parameters (an element or scenario
given as a file adds the file's own hash), the lambdarig version and the code id. The code id hashes
the source of everything a row depends on: the firmware, the HAL, the emulator and its data files, the
protocol, common, the package API's session layer and the sweep's runner and metrics. Why the source
and not only the version: the version does not change with every commit, and "did this change make it
worse" needs a changed firmware or emulator to run again instead of reusing old rows. Presentation
code (the command line, the report, progress, the store, the Dask driver) is left out: changing it
does not change a row.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from functools import cache
from pathlib import Path
from typing import Any

import lambdarig

from .spec import SweepSpec

KEY_CHARS = 20   # 80 bits of SHA-256: no collision in any sweep a cluster can run
# The sweep's own modules whose code changes rows; the others are presentation.
ROW_MODULES = ("cases.py", "metrics.py", "runner.py", "tolerance.py")
CODE_SUBPACKAGES = ("controller", "hal", "emulator", "protocol", "common")
CASE_FIELDS = ("element", "scenario", "fuel", "variant", "settings", "seed", "unit", "age_h", "duration_s")


@cache
def code_id() -> str:
    """SHA-256 (hex, 16 chars) of the source files rows depend on; the same on every machine that
    has the same tree installed."""
    root = Path(lambdarig.__file__).resolve().parent
    files: list[tuple[str, Path]] = []
    for name in CODE_SUBPACKAGES:
        module = __import__(f"lambdarig.{name}", fromlist=["__file__"])
        base = Path(str(module.__file__)).resolve().parent
        for path in base.rglob("*"):
            if path.suffix in (".py", ".toml") and "__pycache__" not in path.parts:
                files.append((f"{name}/{path.relative_to(base).as_posix()}", path))
    files += [(f"api/{p.name}", p) for p in root.glob("*.py")]
    files += [(f"sweep/{n}", Path(__file__).resolve().parent / n) for n in ROW_MODULES]
    digest = hashlib.sha256()
    for label, path in sorted(files):
        digest.update(label.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@cache
def _file_hash(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _is_path(name: str) -> bool:
    return name.endswith(".toml") or "/" in name or "\\" in name


def case_key(case: dict[str, Any]) -> str:
    content = {k: case[k] for k in CASE_FIELDS}
    for field in ("element", "scenario"):
        if _is_path(case[field]):
            content[f"{field}_file"] = _file_hash(case[field])
    content["lambdarig"] = lambdarig.__version__
    content["code"] = code_id()
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_CHARS]


def expand(spec: SweepSpec) -> list[dict[str, Any]]:
    """The sweep's cases with their keys, sorted by key (a case's place never depends on the file's
    order of axes)."""
    names = list(spec.axes)
    cases = []
    for values in itertools.product(*(spec.axes[n] for n in names)):
        point = dict(zip(names, values))
        if spec.selections and not any(_matches(point, sel) for sel in spec.selections):
            continue
        case = {
            "element": point["element"],
            "scenario": point["scenario"],
            "fuel": point.get("fuel"),
            "variant": point["variant"],
            "settings": dict(sorted(spec.variants[point["variant"]].items())),
            "seed": point["seed"],
            "unit": point.get("units"),
            "age_h": point.get("age_h"),
            "duration_s": spec.duration_s,
        }
        case["key"] = case_key(case)
        cases.append(case)
    cases.sort(key=lambda c: c["key"])
    return cases


def _matches(point: dict[str, Any], selection: dict[str, Any]) -> bool:
    for axis, wanted in selection.items():
        have = point[axis]
        if have != wanted and not (isinstance(have, str) and isinstance(wanted, str)
                                   and _is_path(have) and have.endswith("/" + wanted.lstrip("./"))):
            return False
    return True
