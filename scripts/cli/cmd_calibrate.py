"""`lambdarig calibrate ELEMENT [--out FILE]`: gas-bench calibration of a sensor type on the emulator.

ELEMENT is a built-in element (with its profile) or an element .toml file (a custom element; the
bench runs it with the built-in profile of its family, or --profile). The result goes to stdout
(TOML or --json) and, with --out, into a complete profile file of the user's: the base profile with
the new [calibration] (or HC settings) and the element's name. Nothing is ever written into the
installed package; a settings file points the firmware at the profile (`sensor.profile_file`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from lambdarig.common.errors import InputError, nearest
from lambdarig.common.file_out import check_output_file, write_text_atomic
from lambdarig.common.validators import Place
from lambdarig.controller.profiles import _profile_dir, load_profile, profile_names
from lambdarig.emulator.element_spec import load_element_toml
from lambdarig.inputs import Caller, check_output_path
from lambdarig.progress import Progress

from .calibrate import calibrate, calibrate_hc, calibration_toml, with_calibration, with_hc_settings

SOURCE = "command line"
OUT_CALLER = Caller(SOURCE, {"out": "--out"})
# A custom element runs the bench on the built-in profile of its family unless --profile says otherwise.
FAMILY_PROFILE = {"wideband": "lsu49", "potentiometric": "sealed-ref", "hc": "hc-mixed"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="gas-bench calibration of a sensor profile on the emulated element",
        description="Run the firmware's pump loop on the emulated element in known gases and derive the "
                    "profile's characteristic, air current, pressure constant and temperature exponent.")
    parser.add_argument("element", metavar="ELEMENT",
                        help="sensor type: " + ", ".join(profile_names()) + ", or an element .toml file")
    parser.add_argument("--seed", type=int, default=0, help="noise seed of the emulated bench")
    parser.add_argument("--profile", default=None, metavar="NAME|FILE",
                        help="the profile the bench runs (default: the element's own; for an element file the "
                             "built-in one of its family: " + ", ".join(f"{k} {v}" for k, v in FAMILY_PROFILE.items())
                             + ")")
    parser.add_argument("--out", default=None, metavar="FILE.toml",
                        help="write a complete profile with the calibration to FILE.toml (point settings at it "
                             "with sensor.profile_file)")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=run)


def element_and_base(element: str, profile: str | None) -> tuple[str, str, str]:
    """(the element to emulate, its name, the profile the bench runs); InputError for a name that
    is neither a built-in element nor an element file."""
    text = element.strip()
    if text.endswith(".toml") or "/" in text:
        data = load_element_toml(text)      # the emulator's own refusal (exit 2) for a bad file
        name = str(data.get("name") or Path(text).stem)
        base = profile or (name if name in profile_names() else FAMILY_PROFILE.get(str(data.get("family")), "lsu49"))
    elif text in profile_names():
        name, base = text, profile or text
    else:
        raise InputError(SOURCE, "ELEMENT", f"unknown element {element!r}",
                         allowed=", ".join(profile_names()) + ", or an element .toml file",
                         suggestions=nearest(text, profile_names()))
    if base not in profile_names() and not (base.endswith(".toml") and Path(base).is_file()):
        raise InputError(SOURCE, "--profile", f"no profile {base!r}",
                         allowed=", ".join(profile_names()) + ", or a profile .toml file",
                         suggestions=nearest(base, profile_names()))
    return text, name, base


def _named(profile_text: str, name: str) -> str:
    """The profile text with its top-level `name` set to the element's name."""
    return re.sub(r'(?m)^name\s*=\s*".*"$', f'name = "{name}"', profile_text, count=1)


def _progress(args: argparse.Namespace):
    if args.quiet:
        return None, None
    shown: list[Progress] = []

    def hook(done_s: float, total_s: float) -> None:
        if not shown:
            shown.append(Progress(sys.stderr, total_s))
        shown[0].update(done_s)
    return hook, shown


def run(args: argparse.Namespace) -> int:
    element, name, base = element_and_base(args.element, args.profile)
    out_at = Place(SOURCE, "--out", InputError)
    if args.out is not None:   # refused before the benches run: exists (without --force), or cannot be written
        check_output_file(args.out, out_at, overwrite=args.force)
        check_output_path(args.out, OUT_CALLER, "out", ".toml")
    base_path = Path(base) if base.endswith(".toml") else Path(_profile_dir()) / f"{base}.toml"
    hook, shown = _progress(args)
    try:
        if load_profile(base, for_bench=True).mode == "hc":
            values = calibrate_hc(element, args.seed, hook, base=base)
            text = json.dumps(values, indent=2) if args.json else "\n".join(f"{k} = {v!r}" for k, v in values.items())
            profile_text = with_hc_settings(base_path.read_text(), values)
        else:
            result = calibrate(element, args.seed, hook, base=base)
            text = json.dumps(result, indent=2) if args.json else calibration_toml(result)
            profile_text = with_calibration(base_path.read_text(), result)
    finally:
        if shown:
            shown[0].finish()
    if args.out is not None:   # first: a write that fails prints nothing on stdout
        path = write_text_atomic(args.out, _named(profile_text, name), out_at, overwrite=args.force)
        print(f"wrote {path}", file=sys.stderr)
    print(text)
    return 0
