"""The wire protocol is a leaf both ends share: byte layouts live in lambdarig.protocol only, and the
host (hal/rig_link.py) and the emulated rig (emulator/serial_rig.py) speak through its message
classes. (Which packages may import which is tests/test_layering.py's.)"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_FOLDERS = ("scripts", "common", "protocol", "emulator", "hal", "controller", "udev")
# The settings payload is the firmware's own format (its schema), packed and unpacked in this one
# file; only its container is the protocol's.
STRUCT_ALLOWED_OUTSIDE_PROTOCOL = {"controller/settings_image.py"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_byte_layouts_live_in_the_protocol():
    offenders = []
    for folder in SOURCE_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if folder == "protocol" or rel in STRUCT_ALLOWED_OUTSIDE_PROTOCOL:
                continue
            if "struct" in imported_modules(path):
                offenders.append(rel)
    assert offenders == [], f"struct layouts outside protocol/: {offenders}"


def test_both_ends_speak_through_the_message_classes():
    for rel in ("hal/rig_link.py", "emulator/serial_rig.py"):
        modules = imported_modules(ROOT / rel)
        assert "lambdarig.protocol.messages" in modules, rel
        assert not any(m.startswith("lambdarig.hal") for m in modules if rel.startswith("emulator")), rel
