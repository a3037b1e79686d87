"""Run `lambdarig` in-process (the rig tests' entry point; `monkeypatch` kept for their signature)."""

from __future__ import annotations

from lambdarig.cli import main as cli_main


def main(argv: list[str], monkeypatch=None) -> int:
    return cli_main(argv)
