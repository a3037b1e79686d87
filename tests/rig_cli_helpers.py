"""Run `lambdarig` in-process with the issue-5 commands registered, whether or not scripts/cli.py
lists them yet (the registration is the lead's edit; this keeps the tests independent of it)."""

from __future__ import annotations

import importlib

from scripts import cli

NEW_COMMANDS = ("cmd_flash", "cmd_settings", "cmd_ports", "cmd_udev")


def main(argv: list[str], monkeypatch) -> int:
    commands = list(cli.COMMANDS)
    for name in NEW_COMMANDS:
        module = importlib.import_module(f"scripts.{name}")
        if module not in commands:
            commands.append(module)
    monkeypatch.setattr(cli, "COMMANDS", tuple(commands))
    return cli.main(argv)
