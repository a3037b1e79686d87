"""`lambdarig ports`: serial ports that may be a bench board, and which one `run` would pick."""

from __future__ import annotations

import argparse
import json

from lambdarig.hal import ports as hal_ports
from lambdarig.hal.types import FrontEndError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ports", help="list serial ports that may be a bench board, and which one would be picked",
        description="List lambdarig bench boards (USB %04x:%04x, product 'lambdarig...') and other serial "
                    "adapters, with their serial numbers and udev symlinks, and the one port picked "
                    "automatically. Pseudo-terminals (an emulated rig) are never listed."
                    % (hal_ports.BENCH_VID, hal_ports.BENCH_PID))
    parser.add_argument("--all", action="store_true", help="also list ports without a USB id (ttyS*, ...)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    candidates = hal_ports.discover(include_all=args.all)
    try:
        picked = hal_ports.pick(candidates)
        pick_url, pick_error = picked.url, None
    except FrontEndError as exc:
        picked, pick_url, pick_error = None, None, str(exc)
    if args.json:
        print(json.dumps({"ports": [c.as_dict() for c in candidates], "pick": pick_url, "pick_error": pick_error}))
        return 0
    print(format_listing(candidates, picked, pick_error))
    return 0


def _row(candidate: hal_ports.PortCandidate, mark: str) -> list[str]:
    if candidate.kind == hal_ports.KIND_BOARD:
        if candidate.udev_link:
            link = candidate.udev_link
        elif not candidate.udev_rule_matches:
            link = f"(udev rules do not match: USB product must start with '{hal_ports.BENCH_MARK}')"
        elif not candidate.serial_number:
            link = "(no USB serial number: no udev link)"
        else:
            link = "(no udev link: lambdarig udev install)"
    else:
        link = ", ".join(candidate.links)
    label = candidate.description or "n/a"
    if candidate.adapter:
        label += f" [{candidate.adapter}]"
    return [mark, candidate.device, candidate.usb_id or "-", candidate.serial_number or "-", label, link]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["".join(f"{cell:<{width + 2}}" if i < len(row) - 1 else cell for i, (cell, width) in
                    enumerate(zip(row, widths))).rstrip() for row in rows]


def format_listing(candidates: list[hal_ports.PortCandidate], picked: hal_ports.PortCandidate | None,
                   pick_error: str | None) -> str:
    header = ["", "DEVICE", "VID:PID", "SERIAL", "DESCRIPTION", "UDEV LINK"]
    sections = [
        ("lambdarig bench boards", hal_ports.KIND_BOARD),
        ("other serial adapters (never picked automatically)", hal_ports.KIND_ADAPTER),
        ("other USB serial ports", hal_ports.KIND_USB),
        ("other ports", hal_ports.KIND_OTHER),
    ]
    lines: list[str] = []
    for title, kind in sections:
        members = [c for c in candidates if c.kind == kind]
        if kind == hal_ports.KIND_BOARD or members:
            lines.append(f"{title}:")
            if members:
                rows = [header] + [_row(c, "*" if c is picked else "") for c in members]
                lines += ["  " + line for line in _table(rows)]
            else:
                lines.append("  (none)")
    if picked is not None:
        lines.append(f"run would pick: {picked.url}  (* above)")
    else:
        lines.append(f"run would pick: nothing. {pick_error}")
    return "\n".join(lines)
