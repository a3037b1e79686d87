"""`lambdarig flash SETTINGS.toml --port URL`: validate settings, write them into the rig's inactive
flash slot, read back, verify, commit, confirm (scripts/cli/flash.py; docs/settings.md)."""

from __future__ import annotations

import argparse
import json
import sys

from lambdarig.controller.settings import load_settings

from .flash import FlashReport, flash_settings, open_rig


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "flash", help="write controller settings into a bench rig's flash (verified, power-loss safe)",
        description="Validate SETTINGS.toml, then write it into the rig's inactive settings slot, read it back, "
                    "verify the CRC, commit and confirm. Bad settings are refused before the port is opened; a "
                    "rig that does not match (element, --device-serial) is refused before anything is written.")
    parser.add_argument("settings", metavar="SETTINGS.toml", help="controller settings file")
    parser.add_argument("--port", required=True, metavar="URL",
                        help="the rig: /dev/ttyACM0, serial:///dev/lambdarig-<serial>, the pty `lambdarig serve rig` "
                             "prints, a pyserial URL (socket://HOST:PORT, rfc2217://, hwgrep://VID:PID), or auto (the "
                             "one bench board found); ?baudrate=921600 for a board on a UART bridge")
    parser.add_argument("--device-serial", default=None, metavar="S",
                        help="refuse unless the rig's serial number is S")
    parser.add_argument("--force-element", action="store_true",
                        help="flash even if sensor.element differs from the rig's element")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    parser.add_argument("--verbose", action="store_true", help="print each step as it happens (stderr)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.settings)   # SettingsError (exit 2) before the port is touched
    progress = (lambda text: print(f"  {text}", file=sys.stderr, flush=True)) if args.verbose else None
    link = open_rig(args.port)
    try:
        report = flash_settings(link, settings, device_serial=args.device_serial,
                                force_element=args.force_element, progress=progress,
                                announce=lambda text: print(f"lambdarig flash: {text}", file=sys.stderr, flush=True))
    finally:
        link.close()
    if args.json:
        data = report.as_dict()
        data["settings_file"] = args.settings
        print(json.dumps(data))
    else:
        print(format_report(report, args.settings))
    return 0


def format_report(report: FlashReport, source: str) -> str:
    before = (f"slot {report.active_slot_before}, generation {report.generation_before}"
              if report.active_slot_before is not None else "no settings")
    lines = [
        f"flashed {source} to rig {report.serial_number} ({report.element or 'element unknown'}, firmware "
        f"{report.firmware_version}) on {report.port}",
        f"  image      {report.image_length} bytes, CRC 0x{report.image_crc:08X}, "
        f"settings schema {report.schema_version}",
        f"  written    {report.chunks} chunk(s) into the erased inactive slot, read back and verified by the rig",
        f"  committed  {before} -> slot {report.active_slot_after}, generation {report.generation_after}",
        f"  confirmed  the rig reports the new image and answers as {report.serial_number}  ({report.seconds:.2f} s)",
    ]
    if report.unchanged:
        lines.append("  note: the rig already held exactly these settings")
    if report.forced_element:
        lines.append("  warning: --force-element: the settings' sensor.element differs from the rig's element")
    return "\n".join(lines)
