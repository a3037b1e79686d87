"""The layering of DESIGN.md, checked on the source: emulator imports neither controller nor hal
(except the shared wire codec); the controller's logic imports neither hal nor emulator (only its
runtime loop drives a front end)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_emulator_imports_nothing_from_the_firmware_or_hal_but_the_wire_codec():
    for path in (ROOT / "emulator").rglob("*.py"):
        for name in imported_packages(path):
            assert not name.startswith("controller"), f"{path.name} imports {name}"
            assert not name.startswith("hal") or name == "hal" or name == "hal.wire", f"{path.name} imports {name}"


def test_controller_logic_imports_nothing_from_hal_or_emulator():
    for path in (ROOT / "controller").rglob("*.py"):
        if path.name == "runtime.py":
            continue
        for name in imported_packages(path):
            assert not name.startswith(("hal", "emulator")), f"{path.name} imports {name}"
