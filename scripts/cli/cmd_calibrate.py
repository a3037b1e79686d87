"""`lambdarig calibrate --free-air --hal ADDRESS`: the free-air span calibration of a real sensor on
any front end; `lambdarig calibrate ELEMENT [--out FILE]`: gas-bench calibration of a sensor type on
the emulator (research, never the default characteristic).

The gas bench:

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
from lambdarig.emulator.production import check_unit
from lambdarig.hal.address import frontend_url
from lambdarig.inputs import Caller, check_output_path
from lambdarig.progress import Progress

from .calibrate import calibrate, calibrate_hc, calibration_toml, toml_scalar, with_calibration, with_hc_settings
from .cmd_element import parse_number
from .summary import command_line

SOURCE = "command line"
OUT_CALLER = Caller(SOURCE, {"out": "--out"})
# A custom element runs the bench on the built-in profile of its family unless --profile says otherwise.
FREE_AIR = command_line({"hal_url": "--hal", "humidity_pct": "--humidity-pct", "ambient_c": "--ambient-c",
                         "pressure_kpa": "--pressure-kpa", "duration_s": "--duration", "out": "--out",
                         "element": "ELEMENT"})
FAMILY_PROFILE = {"wideband": "lsu49", "potentiometric": "sealed-ref", "hc": "hc-mixed"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="free-air calibration of a sensor (--free-air --hal ADDRESS), or the gas-bench "
                          "calibration of a sensor profile on the emulated element (research)",
        description="--free-air --hal ADDRESS: run the firmware to closed loop with the sensor in free air and "
                    "store a span correction (a bench rig's flash, else --out FILE). With ELEMENT: run the "
                    "firmware's pump loop on the emulated element in known gases and derive the profile's "
                    "characteristic, air current, pressure constant and temperature exponent (research only: "
                    "never the default characteristic).")
    parser.add_argument("element", metavar="ELEMENT", nargs="?",
                        help="gas bench: sensor type " + ", ".join(profile_names()) + ", or an element .toml file")
    parser.add_argument("--seed", type=int, default=0, help="noise seed of the emulated bench")
    parser.add_argument("--unit", default=None, metavar="N",
                        help="gas bench: unit N of the element's production spread (default: the nominal element)")
    parser.add_argument("--profile", default=None, metavar="NAME|FILE",
                        help="the profile the bench runs (default: the element's own; for an element file the "
                             "built-in one of its family: " + ", ".join(f"{k} {v}" for k, v in FAMILY_PROFILE.items())
                             + ")")
    parser.add_argument("--out", default=None, metavar="FILE.toml",
                        help="gas bench: write a complete profile with the calibration to FILE.toml (point "
                             "settings at it with sensor.profile_file); free air: write the calibrated settings "
                             "there (needed for front ends without settings flash)")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    free = parser.add_argument_group("free-air calibration")
    free.add_argument("--free-air", action="store_true", help="calibrate the sensor in free air on --hal")
    free.add_argument("--hal", metavar="ADDRESS", help="front end: serial:///dev/lambdarig0, a device path, "
                                                       "visa:station.toml, sim:lsu49?scenario=free-air")
    free.add_argument("--humidity-pct", default="0", metavar="RH",
                      help="relative humidity of the air, 0..100 %% (default 0)")
    free.add_argument("--ambient-c", default="20", metavar="C",
                      help="air temperature for the humidity, °C (default 20)")
    free.add_argument("--pressure-kpa", default="101.325", metavar="P",
                      help="absolute pressure of the air, 20..400 kPa (default 101.325); away from it (a pressure "
                           "chamber, >= 25 kPa off) the run measures this unit's pore pressure constant "
                           "(conversion.pressure_k_kpa) with the span stored by a run at 101.325 kPa")
    free.add_argument("--duration", default="40", metavar="S", help="seconds to run, 25..600 (default 40; a cold "
                                                                 "LSU 4.9 reads valid after ~15 s)")
    free.add_argument("--settings", default=None, metavar="FILE",
                      help="settings to start from (default: the device's stored settings, else the defaults)")
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
    if args.free_air:
        return run_free_air(args)
    if args.element is None:
        raise FREE_AIR.refuse("element", "the gas-bench calibration needs a sensor type",
                              allowed=", ".join(profile_names()) + ", an element .toml file; or --free-air --hal URL")
    element, name, base = element_and_base(args.element, args.profile)
    unit = check_unit(args.unit, SOURCE, "--unit")
    out_at = Place(SOURCE, "--out", InputError)
    if args.out is not None:   # refused before the benches run: exists (without --force), or cannot be written
        check_output_file(args.out, out_at, overwrite=args.force)
        check_output_path(args.out, OUT_CALLER, "out", ".toml")
    base_path = Path(base) if base.endswith(".toml") else Path(_profile_dir()) / f"{base}.toml"
    hook, shown = _progress(args)
    try:
        if load_profile(base, for_bench=True).mode == "hc":
            values = calibrate_hc(element, args.seed, hook, base=base, unit=unit)
            text = (json.dumps(values, indent=2) if args.json
                    else "\n".join(f"{k} = {toml_scalar(v)}" for k, v in values.items()))
            profile_text = with_hc_settings(base_path.read_text(), values)
        else:
            result = calibrate(element, args.seed, hook, base=base, unit=unit)
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


def run_free_air(args: argparse.Namespace) -> int:
    from lambdarig.free_air import (
        DURATION_RANGE_S,
        CalibrationInterrupted,
        check_out,
        measure_free_air,
        store_settings_file,
    )
    from lambdarig.signals import exit_code_for

    from .flash import flash_settings, open_rig
    from .summary import Console

    if not args.hal or not args.hal.strip():
        raise FREE_AIR.refuse("hal_url", "--free-air needs the front end", allowed="--hal URL, e.g. serial:auto, "
                                         "visa:station.toml, sim:lsu49?scenario=free-air")
    if args.element is not None or args.profile is not None or args.unit is not None:
        raise FREE_AIR.refuse("element", "--free-air calibrates the sensor on --hal, not a profile",
                              allowed="--free-air --hal URL [--humidity-pct RH] [--out FILE]")
    humidity = parse_number(args.humidity_pct, "--humidity-pct", 0.0, 100.0, unit="%")
    ambient = parse_number(args.ambient_c, "--ambient-c", -40.0, 50.0, unit="°C")
    duration = parse_number(args.duration, "--duration", *DURATION_RANGE_S, unit="s")
    pressure = parse_number(args.pressure_kpa, "--pressure-kpa", 20.0, 400.0, unit="kPa")
    if args.out is not None:   # an existing file is replaced only with --force, as for the gas bench
        check_output_file(args.out, Place(SOURCE, "--out", InputError), overwrite=args.force)
    out = check_out(args.out, FREE_AIR)   # refused before the sensor is touched
    address = frontend_url(args.hal.strip())   # a device path, a pyserial URL or auto: a bench rig
    if out is None and not address.lower().startswith("serial:"):
        raise FREE_AIR.refuse("out", "only a bench rig (serial:...) keeps settings in flash; say where to write "
                                     "the calibrated settings", allowed="--out FILE.toml")
    console = Console(args.json, args.quiet, total_s=duration, what="run")
    try:
        result, calibrated = measure_free_air(address, humidity_pct=humidity, ambient_c=ambient,
                                              settings=args.settings, duration_s=duration, caller=FREE_AIR,
                                              pressure_kpa=pressure, sinks=console.sinks(),
                                              progress=console.progress, warn=console.warn)
    except CalibrationInterrupted as stopped:
        console.finish_line()
        print(f"lambdarig: {stopped}", file=sys.stderr)
        return exit_code_for(stopped.signal_name)
    finally:
        console.finish_line()
    if out is not None:
        result.stored_in = str(store_settings_file(calibrated, out))
    elif result.kind == "serial":
        link = open_rig(args.hal.strip())
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
        stored = f"; stored in {result.stored_in}" if result.stored_in else "; not stored"
        if result.pressure_k_kpa == result.pressure_k_kpa:
            print(f"conversion.pressure_k_kpa = {result.pressure_k_kpa:.2f}  (was {result.previous_k_kpa:g}; "
                  f"air at {result.pressure_kpa:g} kPa, span {result.span_correction:.6f} applied){stored}")
        else:
            print(f"conversion.span_correction = {result.span_correction:.6f}  (was {result.previous_span:g})"
                  + stored)
    return 0
