"""`lambdarig simulate`: the firmware driving an emulated element through a scenario, in virtual time.

Everything is checked before the run starts (element, scenario, settings, numbers, output folders,
matplotlib for --plot), so a bad input exits 2 and writes nothing. Exit codes: 0 done, 2 bad input,
3 the front end stopped answering (link loss), 130 interrupted (Ctrl-C). See docs/simulate.md.
"""

from __future__ import annotations

import argparse
import sys

from lambdarig.controller.core import Controller
from lambdarig.controller.profiles import settings_for_element
from lambdarig.controller.settings import ELEMENT_CHOICES, Settings, load_settings
from lambdarig.emulator.errors import EmulatorInputError
from lambdarig.hal.registry import open_frontend

from .cmd_element import parse_number
from .session import SOURCE, check_outputs, run_session

DURATION_RANGE_S = (0.1, 86400.0)
LINK_LOSS_RANGE_S = (0.0, 86400.0)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate", help="run the firmware on an emulated element through a scenario",
        description="Run the controller firmware against an emulated sensor element in virtual time: "
                    "warm-up, closed loop, lambda tracking; with an optional CSV log and PNG plot.")
    parser.add_argument("--element", default="lsu49", metavar="NAME",
                        help="emulated element: name (see `lambdarig element --list`) or .toml path (default lsu49)")
    parser.add_argument("--scenario", default="default", metavar="NAME|FILE",
                        help="built-in scenario name or scenario .toml file (default: default)")
    parser.add_argument("--duration", default=None, metavar="S",
                        help="simulated seconds, %g..%g (default: the scenario's duration)" % DURATION_RANGE_S)
    parser.add_argument("--settings", default=None, metavar="FILE",
                        help="controller settings .toml (default: built-in defaults for --element)")
    parser.add_argument("--seed", default=None, metavar="N",
                        help="noise seed, integer >= 0 (default: the scenario's seed)")
    parser.add_argument("--log", default=None, metavar="FILE.csv", help="write telemetry as CSV")
    parser.add_argument("--plot", default=None, metavar="FILE.png",
                        help="write a PNG plot of the run (needs matplotlib: pip install 'lambdarig[plot]')")
    parser.add_argument("--link-loss-s", default=None, metavar="T",
                        help="simulate a lost link: the emulated board stops answering at T s (exit code 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    parser.add_argument("--quiet", action="store_true", help="no live status line")
    parser.set_defaults(func=run)


def parse_seed(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        seed = int(text.strip(), 10)
    except ValueError:
        seed = -1
    if seed < 0:
        raise EmulatorInputError(SOURCE, "--seed", f"{text!r} is not an integer >= 0")
    return seed


def build_settings(settings_path: str | None, element: str) -> tuple[Settings, str | None]:
    """(settings, warning). Without a file: defaults with sensor.element = the emulated element."""
    if settings_path is not None:
        settings = load_settings(settings_path)  # SettingsError (ValueError) naming field and range
        if settings.sensor.element != element:
            return settings, (f"lambdarig: warning: {settings_path} sets sensor.element = {settings.sensor.element!r} but the "
                              f"emulated element is {element!r}; the firmware runs the "
                              f"{settings.sensor.element!r} profile")
        return settings, None
    if element not in ELEMENT_CHOICES:
        raise EmulatorInputError(SOURCE, "--element",
                                 f"the firmware has no sensor profile for element {element!r}; profiles: "
                                 f"{', '.join(ELEMENT_CHOICES)}; give --settings with sensor.element set to one")
    return settings_for_element(element), None


def run(args: argparse.Namespace) -> int:
    # --- check everything before running ---------------------------------------------------------
    duration_s = None if args.duration is None else parse_number(args.duration, "--duration", *DURATION_RANGE_S, unit="s")
    link_loss_s = None if args.link_loss_s is None else parse_number(args.link_loss_s, "--link-loss-s",
                                                                      *LINK_LOSS_RANGE_S, unit="s")
    seed = parse_seed(args.seed)
    log_path, plot_path = check_outputs(args.log, args.plot)
    if not args.element.strip():
        raise EmulatorInputError(SOURCE, "--element", "needs an element name or .toml path")
    if not args.scenario.strip():
        raise EmulatorInputError(SOURCE, "--scenario", "needs a scenario name or .toml path")
    frontend = open_frontend(f"sim:{args.element.strip()}", scenario=args.scenario.strip(), seed=seed,
                             link_loss_s=link_loss_s)
    info = frontend.info()
    element = info.element
    settings, warning = build_settings(args.settings, element)
    controller = Controller(settings)
    if warning:
        print(warning, file=sys.stderr)

    duration_s = float(frontend.scenario.duration_s) if duration_s is None else duration_s
    label = {"element": element, "scenario": frontend.scenario.name, "seed": info.details.get("seed")}
    title = f"lambdarig simulate: {element}, scenario {frontend.scenario.name}, seed {info.details.get('seed')}"
    return run_session(frontend, controller, duration_s, json_out=args.json, quiet=args.quiet,
                       log_path=log_path, plot_path=plot_path, title=title, label=label)
