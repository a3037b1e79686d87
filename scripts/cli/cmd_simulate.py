"""`lambdarig simulate`: the firmware driving an emulated element through a scenario, in virtual time.

Everything is checked before the run starts (element, scenario, settings, numbers, output folders,
matplotlib for --plot), so a bad input exits 2 and writes nothing. Exit codes: 0 done, 2 bad input,
3 the front end stopped answering (link loss), 130 interrupted (Ctrl-C), 128 + N stopped by signal N
(143 SIGTERM, 129 SIGHUP). See docs/simulate.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lambdarig import api
from lambdarig.common.errors import LambdarigError
from lambdarig.emulator import jit
from lambdarig.emulator.errors import EmulatorInputError
from lambdarig.emulator.scenario import load_scenario

from .cmd_element import add_unit_options, parse_age_h, parse_number, parse_unit
from .live_view import LiveOutput, add_live_options, realtime_factor
from .summary import Console, add_session_options, command_line, one_or_list, show_result

DURATION_RANGE_S = api.SIM_DURATION_RANGE_S
LINK_LOSS_RANGE_S = api.LINK_LOSS_RANGE_S
# A virtual-time run shorter than this (simulated s, summed over the elements) runs the emulator's step
# kernel as Python when the command owns its process: numba's import and cache load (~0.45 s of CPU)
# cost more than the compiled step saves (~3 ms per simulated s) below ~150 s (benchmarks/startup.py).
# Same numbers either way; LAMBDARIG_NO_JIT=0 forces the compiled kernel, =1 Python.
COMPILE_FROM_SIM_S = 150.0
CALLER = command_line({"element": "--element", "scenario": "--scenario", "duration_s": "--duration",
                       "seed": "--seed", "link_loss_s": "--link-loss-s", "unit": "--unit",
                       "age_h": "--age-h"})


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate", help="run the firmware on an emulated element through a scenario",
        description="Run the controller firmware against an emulated sensor element in virtual time: "
                    "warm-up, closed loop, lambda tracking; with an optional CSV log and PNG plot.")
    parser.add_argument("--element", default=None, metavar="NAME", action="append",
                        help="emulated element: name (see `lambdarig element --list`) or .toml path (default lsu49); "
                             "give it 2 to 4 times for that many sensors in one run (channels 0, 1, ...)")
    parser.add_argument("--scenario", default="default", metavar="NAME|FILE",
                        help="built-in scenario name or scenario .toml file (default: default)")
    parser.add_argument("--duration", default=None, metavar="S",
                        help="simulated seconds, %g..%g (default: the scenario's duration)" % DURATION_RANGE_S)
    parser.add_argument("--settings", default=None, metavar="FILE", action="append",
                        help="controller settings .toml (default: built-in defaults for --element); with several "
                             "--element, once for all or once per element, in the same order")
    parser.add_argument("--seed", default=None, metavar="N",
                        help="noise seed, integer >= 0 (default: the scenario's seed)")
    parser.add_argument("--link-loss-s", default=None, metavar="T",
                        help="simulate a lost link: the emulated board stops answering at T s (exit code 3)")
    add_unit_options(parser, repeatable=True)
    add_session_options(parser, "the emulated one")
    add_live_options(parser, simulate=True)
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


def scenario_duration_s(scenario: str) -> float | None:
    """The scenario's duration for the progress line; None when it cannot be read (the run then
    refuses it with its own message)."""
    try:
        return load_scenario(scenario).duration_s
    except (LambdarigError, OSError, ValueError):
        return None


def choose_kernel(duration_s: float | None, elements: int) -> bool:
    """Python kernels for a short virtual-time run (see COMPILE_FROM_SIM_S); True when so chosen."""
    if duration_s is None or duration_s * elements >= COMPILE_FROM_SIM_S:
        return False
    return jit.prefer_python()


def scenario_label(text: str) -> str:
    """A scenario as the page's title names it: a file by its name, not its whole path."""
    return Path(text).stem if text.endswith(".toml") else text


def run(args: argparse.Namespace) -> int:
    duration_s = None if args.duration is None else parse_number(args.duration, "--duration", *DURATION_RANGE_S,
                                                                   unit="s")
    link_loss_s = None if args.link_loss_s is None else parse_number(args.link_loss_s, "--link-loss-s",
                                                                      *LINK_LOSS_RANGE_S, unit="s")
    seed = parse_seed(args.seed)
    realtime = realtime_factor(args)
    can_pace = parse_number(args.can_pace, "--can-pace", *api.CAN_PACE_RANGE, unit="x")
    unit = one_or_list([parse_unit(text) for text in args.unit or [None]])
    age_h = one_or_list([parse_age_h(text) for text in args.age_h or [None]])
    total_s = duration_s or scenario_duration_s(args.scenario)
    console = Console(args.json, args.quiet, total_s=total_s)
    elements = args.element or ["lsu49"]
    if getattr(args, "whole_process", False) and realtime is None:
        choose_kernel(total_s, len(elements))
    live = LiveOutput(args, title=f"lambdarig simulate: {', '.join(elements)}, "
                                  f"scenario {scenario_label(args.scenario)}")
    try:
        result = api.simulate(elements[0] if len(elements) == 1 else elements, args.scenario, duration_s,
                              settings=one_or_list(args.settings), seed=seed, link_loss_s=link_loss_s, unit=unit,
                              age_h=age_h, log=args.log, plot=args.plot, keep_samples=False,
                              force_element=args.force_element, sinks=console.sinks() + live.sinks(),
                              progress=console.progress, warn=console.warn, caller=CALLER, can=args.can,
                              can_pace=can_pace, realtime=realtime)
        live.finish(result)
        code = show_result(result, console, plot=args.plot)
        live.linger()
        return code
    finally:
        live.close()
