"""`lambdarig serve rig|instruments`: emulated hardware peers, running an element in real time.

- `serve rig`: an emulated bench board on a pseudo-terminal speaking the lambdarig wire protocol
  (emulator/serial_rig.py).
- `serve instruments`: emulated SCPI instruments on 127.0.0.1 and a station file pointing at them
  (emulator/instruments/).
Each server module provides `add_arguments(parser)` and `serve(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib

SERVERS = {
    "rig": ("lambdarig.emulator.serial_rig",
            "an emulated bench rig on a pseudo-terminal (wire protocol, watchdog, flash)"),
    "instruments": ("lambdarig.emulator.instruments.cli", "emulated SCPI instruments on 127.0.0.1 and a station file"),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="run emulated hardware: a bench rig or lab instruments",
                                   description=__doc__.splitlines()[0])
    kinds = parser.add_subparsers(dest="server", metavar="KIND")
    kinds.required = True
    for kind, (module_name, help_text) in SERVERS.items():
        sub = kinds.add_parser(kind, help=help_text, description=help_text)
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            sub.set_defaults(func=_unavailable(kind, module_name))
            continue
        module.add_arguments(sub)
        sub.set_defaults(func=module.serve)


def _unavailable(kind: str, module_name: str):
    def run(args: argparse.Namespace) -> int:
        raise ValueError(f"serve {kind}: not available in this build ({module_name} is missing)")
    return run
