"""`lambdarig calibrate`: gas-bench calibration of a sensor type on the emulator."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lambdarig.controller.profiles import _profile_dir, load_profile, profile_names

from .calibrate import calibrate, calibrate_hc, calibration_toml, with_calibration, with_hc_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="gas-bench calibration of a sensor profile on the emulated element",
        description="Run the firmware's pump loop on the emulated element in known gases and derive the "
                    "profile's characteristic, air current, pressure constant and temperature exponent.")
    parser.add_argument("element", choices=profile_names(), help="sensor type (profile and element name)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed of the emulated bench")
    parser.add_argument("--write-profile", action="store_true",
                        help="replace the [calibration] section of the package's profile file")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if load_profile(args.element, for_bench=True).mode == "hc":
        values = calibrate_hc(args.element, args.seed)
        print(json.dumps(values, indent=2) if args.json else "\n".join(f"{k} = {v!r}" for k, v in values.items()))
        if args.write_profile:
            path = Path(_profile_dir()) / f"{args.element}.toml"
            path.write_text(with_hc_settings(path.read_text(), values))
            print(f"wrote {path}")
        return 0
    result = calibrate(args.element, args.seed)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(calibration_toml(result))
    if args.write_profile:
        path = Path(_profile_dir()) / f"{args.element}.toml"
        path.write_text(with_calibration(path.read_text(), result))
        print(f"wrote {path}")
    return 0
