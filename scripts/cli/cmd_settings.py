"""`lambdarig settings read|diff|template`: the settings stored in a bench rig, as TOML, or compared
with a file; or the full commented default settings (of an element) to start a settings file from."""

from __future__ import annotations

import argparse
import json
import sys

from lambdarig.common.errors import InputError
from lambdarig.common.file_out import check_output_file, write_text_atomic
from lambdarig.common.validators import Place
from lambdarig.controller.profiles import settings_for_element
from lambdarig.controller.settings import (
    ELEMENT_CHOICES,
    SCHEMA,
    SCHEMA_VERSION,
    SECTIONS,
    Settings,
    _toml_value,
    load_settings_changes,
)

from .flash import RIG_CALIBRATION, diff_settings, keep_calibration, open_rig, read_rig_settings, value_text

EXIT_NO_SETTINGS = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("settings", help="read a bench rig's stored settings, or diff them with a file",
                                   description="The controller settings stored in a bench rig's flash.")
    actions = parser.add_subparsers(dest="settings_action", metavar="ACTION")
    actions.required = True
    port_help = ("the rig: /dev/ttyACM0, serial:///dev/lambdarig-<serial>, the pty `lambdarig serve rig` prints, "
                 "a pyserial URL (socket://HOST:PORT, rfc2217://, hwgrep://VID:PID), or auto; ?baudrate=921600 "
                 "for a board on a UART bridge")

    read = actions.add_parser("read", help="print the rig's settings as TOML",
                              description="Print the rig's active settings as TOML (exit 1 when it has none).")
    read.add_argument("--port", required=True, metavar="URL", help=port_help)
    read.add_argument("--out", default=None, metavar="FILE", help="write the TOML to FILE instead of printing it")
    read.add_argument("--force", action="store_true", help="replace --out if it exists")
    read.set_defaults(func=run_read)

    diff = actions.add_parser("diff", help="show what flashing SETTINGS.toml would change",
                              description="Show the fields whose value in SETTINGS.toml differs from the rig's "
                                          "(rig without settings: from the defaults it runs with). Exit 0.")
    diff.add_argument("settings", metavar="SETTINGS.toml", help="controller settings file")
    diff.add_argument("--port", required=True, metavar="URL", help=port_help)
    diff.add_argument("--reset-calibration", action="store_true",
                      help="as `flash --reset-calibration`: compare the file's value of the rig's calibration ("
                           + ", ".join(RIG_CALIBRATION) + ") too; without it the rig's calibration is kept "
                           "unless the file sets it, as flash does")
    diff.add_argument("--json", action="store_true", help="print one JSON object")
    diff.set_defaults(func=run_diff)

    template = actions.add_parser(
        "template", help="print the full commented default settings (of an element)",
        description="Print every setting with its default, unit, range and meaning as a TOML settings "
                    "file (`lambdarig settings template --element sealed-ref > my.toml`). It loads back "
                    "to the same settings.")
    template.add_argument("--element", default="lsu49", choices=ELEMENT_CHOICES, metavar="E",
                          help="the element whose recommended defaults to print: " + ", ".join(ELEMENT_CHOICES)
                               + " (default lsu49)")
    template.set_defaults(func=run_template)


def run(args: argparse.Namespace) -> int:
    return args.func(args)


def _read(port: str):
    link = open_rig(port)
    try:
        return read_rig_settings(link)
    finally:
        link.close()


OUT = Place("command line", "--out", InputError)


def run_read(args: argparse.Namespace) -> int:
    if args.out is not None:   # refused before the rig is asked; an existing file only with --force
        check_output_file(args.out, OUT, overwrite=args.force)
    found = _read(args.port)
    if not found.stored:
        print(f"lambdarig: the rig {found.serial_number} has no stored settings (its flash is empty); "
              f"it runs with the defaults for {found.element or 'its element'}. "
              f"`lambdarig flash SETTINGS.toml --port {args.port}` stores some.", file=sys.stderr)
        return EXIT_NO_SETTINGS
    made_for = found.image_serial or "any device"
    header = (f"# read from rig {found.serial_number} ({found.element}) on {args.port}: generation "
              f"{found.generation}, image made for {made_for}\n")
    text = header + found.settings.to_toml()
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(args.out, text, OUT, overwrite=args.force)
        print(f"wrote the settings of rig {found.serial_number} (generation {found.generation}) to {args.out}")
    return 0


def run_diff(args: argparse.Namespace) -> int:
    file_sets = load_settings_changes(args.settings)   # validated before the port is opened
    wanted = Settings(file_sets, args.settings)
    found = _read(args.port)
    # What flash would write: the rig's calibration stays unless the file sets it (scripts/cli/flash.py).
    wanted, kept = keep_calibration(found.settings, wanted, file_sets, args.reset_calibration)
    changes = diff_settings(found.settings, wanted)
    element_note = None
    if found.element and wanted.get("sensor.element") != found.element:
        element_note = (f"the file is for element {wanted.get('sensor.element')!r}, the rig has {found.element!r}: "
                        f"`lambdarig flash` refuses it without --force-element")
    if args.json:
        print(json.dumps({
            "serial_number": found.serial_number, "element": found.element, "stored": found.stored,
            "generation": found.generation, "settings_file": args.settings,
            "changes": [{"field": c.name, "rig": c.rig, "file": c.file, "unit": c.unit} for c in changes],
            "kept": [{"field": k.name, "value": k.value, "file_value": k.file_value, "by": k.by} for k in kept],
            "element_mismatch": element_note}))
        return 0
    origin = (f"rig {found.serial_number} (generation {found.generation})" if found.stored else
              f"rig {found.serial_number} (no stored settings: the defaults it runs with)")
    if not changes:
        print(f"no differences: {args.settings} matches the settings of {origin}")
    else:
        # A number without a unit says "-" so that no column is blank.
        rows = [("FIELD", "RIG", "FILE", "UNIT")] + [
            (c.name, value_text(c.rig, c.file), value_text(c.file, c.rig),
             c.unit or ("-" if isinstance(c.file, (int, float)) and not isinstance(c.file, bool) else ""))
            for c in changes]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        print(f"{origin} -> {args.settings}: {len(changes)} field(s) would change")
        for row in rows:
            print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    for k in kept:
        print(f"kept: {k.name} = {value_text(k.value, k.file_value)}, the rig's calibration (`{k.by}`): "
              f"{args.settings} does not set it, so flash keeps it (--reset-calibration: "
              f"{value_text(k.file_value, k.value)})")
    if element_note:
        print(f"note: {element_note}")
    return 0


def template_text(element: str) -> str:
    """The full settings of `element`'s recommended defaults as TOML: per key a comment line with its
    meaning, unit and range (and the schema default where the element recommends another value)."""
    settings: Settings = settings_for_element(element)
    lines = [f"# lambdarig controller settings: the recommended defaults for element {element}.",
             "# Every key with its default; a file needs only the keys it changes. Each key's comment: its",
             "# meaning; unit; allowed values. Load with `lambdarig simulate --settings FILE`, flash with",
             "# `lambdarig flash FILE --port URL`.",
             f"schema_version = {SCHEMA_VERSION}", ""]
    section = None
    # Grouped by section (fields appended later to the schema may belong to an earlier section).
    for field in sorted(SCHEMA, key=lambda f: SECTIONS.index(f.section)):
        if field.section != section:
            if section is not None:
                lines.append("")
            section = field.section
            lines.append(f"[{section}]")
        value = settings.get(field.name)
        notes = [field.doc]
        if field.unit:
            notes.append(f"unit {field.unit}")
        notes.append(f"allowed {field.allowed()}")
        if value != field.default:
            notes.append(f"schema default {_toml_value(field.default)}, recommended for {element}")
        lines.append("# " + "; ".join(notes))
        lines.append(f"{field.key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def run_template(args: argparse.Namespace) -> int:
    sys.stdout.write(template_text(args.element))
    return 0
