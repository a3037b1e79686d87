"""The layering of the package, checked on the source: an explicit graph of which part may import
which, with no exceptions and no prefix holes. Arrows point one way:

    lambdarig (API), lambdarig.cli  ->  controller  ->  seam types (hal.types, hal.frontend)
                                    ->  hal         ->  protocol  ->  common
                                    ->  emulator    ->  protocol  ->  common

Every import is checked: absolute and relative (resolved against the importing module), at the top
of a file or inside a function, and module paths written as strings ("lambdarig.hal.sim:SimFrontEnd").
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Repository folder -> the package it installs as (pyproject.toml [tool.setuptools.package-dir]).
FOLDERS = {
    "scripts": "lambdarig",
    "common": "lambdarig.common",
    "protocol": "lambdarig.protocol",
    "emulator": "lambdarig.emulator",
    "hal": "lambdarig.hal",
    "controller": "lambdarig.controller",
    "udev": "lambdarig.udev",
}

# Node -> the nodes it may import. A module belongs to the longest node that is a dotted prefix of
# its name; every node may import itself (its own submodules).
SEAM = {"lambdarig.hal.types", "lambdarig.hal.frontend"}
ALLOWED: dict[str, set[str]] = {
    "lambdarig.common": set(),
    "lambdarig.udev": set(),
    "lambdarig.protocol": {"lambdarig.common"},
    "lambdarig.emulator": {"lambdarig.protocol", "lambdarig.common"},
    # The seam types' errors sit under the package's error root.
    "lambdarig.hal.types": {"lambdarig.common"},
    "lambdarig.hal.frontend": {"lambdarig.hal.types", "lambdarig.common"},
    # The registry names its built-in backends, the sim backend among them.
    "lambdarig.hal": SEAM | {"lambdarig.hal.sim", "lambdarig.protocol", "lambdarig.common"},
    # The sim backend is the one part of the HAL that wraps the emulator.
    "lambdarig.hal.sim": SEAM | {"lambdarig.hal", "lambdarig.emulator", "lambdarig.protocol", "lambdarig.common"},
    "lambdarig.controller": SEAM | {"lambdarig.protocol", "lambdarig.common"},
    # The live view is an output of the session layer: it reads the firmware's status and codes.
    "lambdarig.live": {"lambdarig.controller", "lambdarig.common"},
    # The command line and the package API sit on top and may use everything.
    "lambdarig.cli": {"*"},
    "lambdarig": {"*"},
    # Sweeps sit beside the command line: the package API and the session layer (lambdarig), the
    # emulator's scenarios and fuels (a fuel axis), the firmware's settings, common.
    "lambdarig.sweep": {"lambdarig", "lambdarig.controller", "lambdarig.emulator", "lambdarig.common"},
}

MODULE_STRING = re.compile(r"^lambdarig(\.[a-z_][a-z0-9_]*)+(:[A-Za-z_]\w*)?$")


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT)
    package = FOLDERS[rel.parts[0]]
    parts = list(rel.with_suffix("").parts[1:])
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def node_of(module: str) -> str | None:
    best = None
    for node in ALLOWED:
        if module == node or module.startswith(node + "."):
            if best is None or len(node) > len(best):
                best = node
    return best


def imports_of(path: Path) -> set[str]:
    """Every lambdarig module the file names, relative imports resolved."""
    module = module_name(path)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[:len(base) - (node.level - 1)]
                prefix = ".".join(base)
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            names.add(target)
            # `from lambdarig.hal import sim` imports the module lambdarig.hal.sim
            names |= {f"{target}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_STRING.match(node.value):
            names.add(node.value.split(":")[0])
    return {n for n in names if n == "lambdarig" or n.startswith("lambdarig.")}


def source_files():
    for folder in FOLDERS:
        yield from sorted((ROOT / folder).rglob("*.py"))


def _is_module(name: str) -> bool:
    """`from lambdarig.hal import Command` names a class, not a module: judge it by its package."""
    parts = name.split(".")
    # The longest package that the name lies in decides which folder it is found in.
    for folder, package in sorted(FOLDERS.items(), key=lambda item: -len(item[1])):
        pkg_parts = package.split(".")
        if parts[:len(pkg_parts)] == pkg_parts:
            rest = parts[len(pkg_parts):]
            base = ROOT / folder / Path(*rest) if rest else ROOT / folder
            return base.with_suffix(".py").exists() or (base / "__init__.py").exists()
    return False


def violations() -> list[str]:
    found = []
    for path in source_files():
        source = node_of(module_name(path))
        assert source is not None, f"{path} belongs to no node of the layering graph"
        allowed = ALLOWED[source]
        for name in sorted(imports_of(path)):
            if not _is_module(name):
                continue
            target = node_of(name)
            if target is None:
                found.append(f"{path.relative_to(ROOT)} imports {name}: not a node of the graph")
            elif target != source and "*" not in allowed and target not in allowed:
                found.append(f"{path.relative_to(ROOT)} ({source}) imports {name} ({target})")
    return found


def test_every_import_follows_the_layering_graph():
    assert violations() == []


def test_the_graph_catches_a_forbidden_import(tmp_path):
    # The check itself: an emulator module importing the HAL (even as `from lambdarig import hal`)
    # and a controller module importing the emulator relatively must both be reported.
    fake_root = tmp_path
    for folder in FOLDERS:
        (fake_root / folder).mkdir()
        (fake_root / folder / "__init__.py").write_text("")
    (fake_root / "hal" / "sim.py").write_text("")
    (fake_root / "emulator" / "peek.py").write_text("from lambdarig.hal import sim\n")
    (fake_root / "controller" / "peek.py").write_text("from ..emulator import peek\n")
    globals()["ROOT"] = fake_root
    try:
        found = violations()
    finally:
        globals()["ROOT"] = Path(__file__).resolve().parents[1]
    assert any("emulator/peek.py" in v and "lambdarig.hal.sim" in v for v in found), found
    assert any("controller/peek.py" in v and "lambdarig.emulator.peek" in v for v in found), found
