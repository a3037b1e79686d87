"""`lambdarig run --hal URL`: the firmware on any front end — a bench rig over serial, an instrument
station over VISA, or the simulator — with the same status, log, plot and JSON as `simulate`.

Settings: --settings FILE, else the settings stored on the device (a rig's flash), else the
defaults for the element the front end reports.
"""

from __future__ import annotations

import argparse

from lambdarig import api
from lambdarig.hal.registry import known_schemes

from .cmd_element import parse_number
from .live_view import LiveOutput, add_live_options
from .summary import Console, add_session_options, command_line, show_result

DURATION_RANGE_S = api.RUN_DURATION_RANGE_S
CALLER = command_line({"hal_url": "--hal", "duration_s": "--duration", "reconnect_s": "--reconnect-s"})


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
    parser.add_argument("--reconnect-s", default="5", metavar="S",
                        help="after a lost link, wait this long for the front end to come back and resume "
                             "(front ends that can: serial); 0 ends the run (default 5)")
    add_session_options(parser, "the front end carries")
    add_live_options(parser, simulate=False)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    duration_s = None if args.duration is None else parse_number(args.duration, "--duration", *DURATION_RANGE_S,
                                                                   unit="s")
    reconnect_s = parse_number(args.reconnect_s, "--reconnect-s", *api.RECONNECT_RANGE_S, unit="s")
    url = args.hal.strip()
    if ":" not in url:
        raise CALLER.refuse("hal_url", f"{args.hal!r} is not a front end URL; schemes: "
                                       f"{', '.join(known_schemes())} (e.g. sim:lsu49)")
    console = Console(args.json, args.quiet)
    live = LiveOutput(args, title=f"lambdarig run: {url}")
    try:
        result = api.run(url, settings=args.settings, duration_s=duration_s,
                         use_stored_settings=not args.default_settings, reconnect_s=reconnect_s, log=args.log,
                         plot=args.plot, keep_samples=False, force_element=args.force_element,
                         sinks=console.sinks() + live.sinks(), progress=console.progress, warn=console.warn,
                         caller=CALLER)
        live.finish(result)
        code = show_result(result, console)
        live.linger()
        return code
    finally:
        live.close()
