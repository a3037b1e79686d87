"""`lambdarig calibrate`: gas-bench calibration of a sensor type on the emulator (research), or
`--free-air --hal URL`: the free-air span calibration of a real sensor on any front end."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lambdarig.controller.profiles import _profile_dir, load_profile, profile_names

from .calibrate import calibrate, calibrate_hc, calibration_toml, with_calibration, with_hc_settings
from .cmd_element import parse_number
from .summary import command_line

FREE_AIR = command_line({"hal_url": "--hal", "humidity_pct": "--humidity-pct", "ambient_c": "--ambient-c",
                         "duration_s": "--duration", "out": "--out", "element": "ELEMENT"})


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="free-air calibration of a sensor (--free-air --hal URL), or the gas-bench "
                          "calibration of a sensor profile on the emulated element (research)",
        description="--free-air --hal URL: run the firmware to closed loop with the sensor in free air and store "
                    "a span correction (a bench rig's flash, else --out FILE). Without --free-air: run the "
                    "firmware's pump loop on the emulated element in known gases and derive the profile's "
                    "characteristic, air current, pressure constant and temperature exponent (research only: "
                    "never the default characteristic).")
    parser.add_argument("element", nargs="?", choices=profile_names(), help="sensor type (gas bench only)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed of the emulated bench")
    parser.add_argument("--write-profile", action="store_true",
                        help="replace the [calibration] section of the package's profile file")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    free = parser.add_argument_group("free-air calibration")
    free.add_argument("--free-air", action="store_true", help="calibrate the sensor in free air on --hal")
    free.add_argument("--hal", metavar="URL", help="front end: serial:///dev/lambdarig0, visa:station.toml, "
                                                   "sim:lsu49?scenario=free-air")
    free.add_argument("--humidity-pct", default="0", metavar="RH",
                      help="relative humidity of the air, 0..100 %% (default 0)")
    free.add_argument("--ambient-c", default="20", metavar="C",
                      help="air temperature for the humidity, °C (default 20)")
    free.add_argument("--duration", default="40", metavar="S", help="seconds to run, 10..600 (default 40)")
    free.add_argument("--settings", default=None, metavar="FILE",
                      help="settings to start from (default: the device's stored settings, else the defaults)")
    free.add_argument("--out", default=None, metavar="FILE",
                      help="write the calibrated settings here (needed for front ends without settings flash)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.free_air:
        return run_free_air(args)
    if args.element is None:
        raise FREE_AIR.refuse("element", "the gas-bench calibration needs a sensor type",
                              allowed=", ".join(profile_names()) + "; or --free-air --hal URL")
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


def run_free_air(args: argparse.Namespace) -> int:
    from lambdarig.free_air import check_out, measure_free_air, store_settings_file

    from .flash import flash_settings, open_rig

    if not args.hal or not args.hal.strip():
        raise FREE_AIR.refuse("hal_url", "--free-air needs the front end", allowed="--hal URL, e.g. serial:auto, "
                                         "visa:station.toml, sim:lsu49?scenario=free-air")
    if args.element is not None or args.write_profile:
        raise FREE_AIR.refuse("element", "--free-air calibrates the sensor on --hal, not a profile",
                              allowed="--free-air --hal URL [--humidity-pct RH] [--out FILE]")
    humidity = parse_number(args.humidity_pct, "--humidity-pct", 0.0, 100.0, unit="%")
    ambient = parse_number(args.ambient_c, "--ambient-c", -40.0, 50.0, unit="°C")
    duration = parse_number(args.duration, "--duration", 10.0, 600.0, unit="s")
    out = check_out(args.out, FREE_AIR)   # refused before the sensor is touched
    if out is None and not args.hal.strip().lower().startswith("serial:"):
        raise FREE_AIR.refuse("out", "only a bench rig (serial:...) keeps settings in flash; say where to write "
                                     "the calibrated settings", allowed="--out FILE.toml")
    result, calibrated = measure_free_air(args.hal.strip(), humidity_pct=humidity, ambient_c=ambient,
                                          settings=args.settings, duration_s=duration, caller=FREE_AIR)
    if out is not None:
        result.stored_in = str(store_settings_file(calibrated, out))
    elif result.kind == "serial":
        port = args.hal.strip()
        link = open_rig(port)
        try:
            report = flash_settings(link, calibrated)
        finally:
            link.close()
        result.stored_in = f"rig {report.serial_number} flash (slot {report.active_slot_after}, " \
                           f"generation {report.generation_after})"
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        print(f"free air on {result.frontend}: {result.measured_a * 1e3:.4f} mA measured, "
              f"{result.expected_a * 1e3:.4f} mA expected at {result.humidity_pct:g} % RH, {result.ambient_c:g} °C "
              f"(O2 {result.o2_expected_pct:.3f} %)")
        print(f"conversion.span_correction = {result.span_correction:.6f}  (was {result.previous_span:g})"
              + (f"; stored in {result.stored_in}" if result.stored_in else "; not stored"))
    return 0
