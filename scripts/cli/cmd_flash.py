"""`lambdarig flash SETTINGS.toml --port URL`: validate settings, write them into the rig's inactive
flash slot, read back, verify, commit, confirm (scripts/cli/flash.py; docs/settings.md)."""

from __future__ import annotations

import argparse
import json
import sys

from lambdarig.controller.settings import Settings, load_settings_changes

from .flash import RIG_CALIBRATION, FlashReport, flash_settings, open_rig, value_text


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
    parser.add_argument("--reset-calibration", action="store_true",
                        help="write the file's value (its default when it does not set one) for the rig's per-sensor "
                             "calibration too (" + ", ".join(RIG_CALIBRATION) + "); without it a flash keeps "
                             "the rig's calibration unless the file sets it")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    parser.add_argument("--verbose", action="store_true", help="print each step as it happens (stderr)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    file_sets = load_settings_changes(args.settings)   # SettingsError (exit 2) before the port is touched
    settings = Settings(file_sets, args.settings)
    progress = (lambda text: print(f"  {text}", file=sys.stderr, flush=True)) if args.verbose else None
    link = open_rig(args.port)
    try:
        report = flash_settings(link, settings, device_serial=args.device_serial,
                                force_element=args.force_element, file_sets=file_sets,
                                reset_calibration=args.reset_calibration, progress=progress,
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
    lines += change_lines(report, source)
    if report.unchanged:
        lines.append("  note: the rig already held exactly these settings")
    if report.forced_element:
        lines.append("  warning: --force-element: the settings' sensor.element differs from the rig's element")
    return "\n".join(lines)


def change_lines(report: FlashReport, source: str) -> list[str]:
    """The fields the flash changed (old -> new) and the calibration it kept, for the report."""
    if report.unreadable:
        return [f"  warning: the rig's previous settings could not be read ({report.unreadable}); "
                "what changed is not known and no calibration was kept"]
    label = "changed    "
    lines = []
    if report.changes:
        width = max(len(c.name) for c in report.changes)
        for c in report.changes:
            unit = f" {c.unit}" if c.unit else ""
            by = RIG_CALIBRATION.get(c.name)
            reset = f"  (the rig's calibration, from `{by}`)" if by else ""
            lines.append(f"  {label}{c.name.ljust(width)}  {value_text(c.rig, c.file)} -> "
                         f"{value_text(c.file, c.rig)}{unit}{reset}")
            label = " " * len(label)
    elif not report.unchanged:
        lines.append(f"  {label}no setting: the rig ran with these values already")
    for k in report.kept:
        lines.append(f"  kept       {k.name} = {value_text(k.value, k.file_value)}: the rig's calibration (`{k.by}`); "
                     f"{source} does not set it (--reset-calibration writes {value_text(k.file_value, k.value)})")
    return lines
