"""`lambdarig run --hal URL`: the firmware on any front end — a bench rig over serial, an instrument
station over VISA, or the simulator — with the same status, log, plot and JSON as `simulate`.

Settings: --settings FILE, else the settings stored on the device (a rig's flash), else the
defaults for the element the front end reports.
"""

from __future__ import annotations

import argparse
import math
import sys

from lambdarig.controller.core import Controller
from lambdarig.controller.profiles import settings_for_element
from lambdarig.controller.settings import ELEMENT_CHOICES, Settings, load_settings, settings_from_toml_text
from lambdarig.controller.settings_image import decode_image
from lambdarig.emulator.errors import EmulatorInputError
from lambdarig.hal.registry import known_schemes, open_frontend

from .cmd_element import parse_number
from .session import SOURCE, check_outputs, run_session

DURATION_RANGE_S = (0.1, 7 * 86400.0)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="run the firmware on a front end: serial rig, VISA station or sim",
        description="Run the controller firmware on the front end named by --hal "
                    "(serial:///dev/lambdarig0, serial://socket://HOST:PORT, visa:station.toml, sim:lsu49).")
    parser.add_argument("--hal", required=True, metavar="URL", help="front end URL")
    parser.add_argument("--duration", default=None, metavar="S",
                        help="seconds to run, %g..%g (default: until Ctrl-C; sim: the scenario)" % DURATION_RANGE_S)
    parser.add_argument("--settings", default=None, metavar="FILE",
                        help="controller settings .toml (default: the device's stored settings, else defaults)")
    parser.add_argument("--default-settings", action="store_true",
                        help="ignore settings stored on the device and use the defaults")
    parser.add_argument("--log", default=None, metavar="FILE.csv", help="write telemetry as CSV")
    parser.add_argument("--plot", default=None, metavar="FILE.png", help="write a PNG plot of the run")
    parser.add_argument("--reconnect-s", default="5", metavar="S",
                        help="after a lost link, wait this long for the front end to come back and resume "
                             "(front ends that can: serial); 0 ends the run (default 5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    parser.add_argument("--quiet", action="store_true", help="no live status line")
    parser.set_defaults(func=run)


def choose_settings(args: argparse.Namespace, frontend) -> tuple[Settings, str]:
    if args.settings is not None:
        return load_settings(args.settings), args.settings
    if not args.default_settings:
        read_image = getattr(frontend, "stored_settings_image", None)
        if read_image is not None:
            # A rig keeps the firmware's settings image: decode it here, on the firmware side, and
            # refuse an image made for another device.
            image = read_image()
            if image is not None:
                serial = frontend.info().details.get("serial_number") or None
                return decode_image(image, serial), "device"
        stored = frontend.stored_settings()
        if stored is not None:
            return settings_from_toml_text(stored, f"{frontend.info().name} (stored settings)"), "device"
    info = frontend.info()
    element = info.element
    if element and element not in ELEMENT_CHOICES:
        raise EmulatorInputError(SOURCE, "--settings", f"the front end's element {element!r} has no sensor profile; "
                                                       f"give --settings with sensor.element one of {', '.join(ELEMENT_CHOICES)}")
    settings = settings_for_element(element) if element else Settings()
    return adapt_to_frontend(settings, info), "defaults"


def adapt_to_frontend(settings: Settings, info) -> Settings:
    """Default settings for what the front end can do: a station that runs its loop slower than the
    firmware's 500 Hz (VISA) sets the rates; without Ri the heater's resistance is the thermometer."""
    changes = {}
    loop_hz = info.details.get("loop_hz") if info.details else None
    if loop_hz and loop_hz < settings.rates.pump_hz:
        changes.update(rates__pump_hz=float(loop_hz), rates__heater_hz=min(settings.rates.heater_hz, float(loop_hz) / 5),
                       rates__telemetry_hz=min(settings.rates.telemetry_hz, float(loop_hz)))
    if not info.measures_ri:
        changes["heater__temp_source"] = "ri+heater"
    return settings.changed(**changes) if changes else settings


def run(args: argparse.Namespace) -> int:
    duration_s = math.inf if args.duration is None else parse_number(args.duration, "--duration", *DURATION_RANGE_S,
                                                                   unit="s")
    log_path, plot_path = check_outputs(args.log, args.plot)
    reconnect_s = parse_number(args.reconnect_s, "--reconnect-s", 0.0, 3600.0, unit="s")
    url = args.hal.strip()
    if ":" not in url:
        raise EmulatorInputError(SOURCE, "--hal", f"{args.hal!r} is not a front end URL; schemes: "
                                                  f"{', '.join(known_schemes())} (e.g. sim:lsu49)")
    if args.settings is not None:
        load_settings(args.settings)  # refuse bad settings before touching any hardware
    frontend = open_frontend(url)
    try:
        settings, source = choose_settings(args, frontend)
        controller = Controller(settings)
    except BaseException:
        frontend.close()
        raise
    info = frontend.info()
    if math.isinf(duration_s) and getattr(frontend, "scenario", None) is not None:
        duration_s = float(frontend.scenario.duration_s)
    if not args.json:
        print(f"lambdarig run: {info.name} ({info.kind}), settings from {source}", file=sys.stderr)
    label = {"frontend": info.name, "element": info.element or settings.sensor.element}
    return run_session(frontend, controller, duration_s, json_out=args.json, quiet=args.quiet,
                       log_path=log_path, plot_path=plot_path, title=f"lambdarig run: {info.name}", label=label,
                       reconnect_s=reconnect_s)
