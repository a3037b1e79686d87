"""`lambdarig simulate`: the firmware driving an emulated element through a scenario, in virtual time.

Everything is checked before the run starts (element, scenario, settings, numbers, output folders,
matplotlib for --plot), so a bad input exits 2 and writes nothing. Exit codes: 0 done, 2 bad input,
3 the front end stopped answering (link loss), 130 interrupted (Ctrl-C), 128 + N stopped by signal N
(143 SIGTERM, 129 SIGHUP). See docs/simulate.md.
"""

from __future__ import annotations

import argparse

from lambdarig import api
from lambdarig.emulator.errors import EmulatorInputError

from .cmd_element import add_unit_options, parse_age_h, parse_number, parse_unit
from .summary import Console, add_session_options, command_line, show_result

DURATION_RANGE_S = api.SIM_DURATION_RANGE_S
LINK_LOSS_RANGE_S = api.LINK_LOSS_RANGE_S
CALLER = command_line({"element": "--element", "scenario": "--scenario", "duration_s": "--duration",
                       "seed": "--seed", "link_loss_s": "--link-loss-s", "unit": "--unit",
                       "age_h": "--age-h"})


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
    parser.add_argument("--link-loss-s", default=None, metavar="T",
                        help="simulate a lost link: the emulated board stops answering at T s (exit code 3)")
    add_unit_options(parser)
    add_session_options(parser, "the emulated one")
    parser.set_defaults(func=run)


def parse_seed(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        seed = int(text.strip(), 10)
    except ValueError:
        seed = -1
    if seed < 0:
        raise EmulatorInputError(CALLER.source, "--seed", f"{text!r} is not an integer >= 0")
    return seed


def run(args: argparse.Namespace) -> int:
    duration_s = None if args.duration is None else parse_number(args.duration, "--duration", *DURATION_RANGE_S,
                                                                   unit="s")
    link_loss_s = None if args.link_loss_s is None else parse_number(args.link_loss_s, "--link-loss-s",
                                                                      *LINK_LOSS_RANGE_S, unit="s")
    console = Console(args.json, args.quiet)
    result = api.simulate(args.element, args.scenario, duration_s, settings=args.settings, seed=parse_seed(args.seed),
                          link_loss_s=link_loss_s, unit=parse_unit(args.unit), age_h=parse_age_h(args.age_h),
                          log=args.log, plot=args.plot, keep_samples=False,
                          force_element=args.force_element, sinks=console.sinks(), progress=console.progress,
                          warn=console.warn, caller=CALLER)
    return show_result(result, console)
