"""`lambdarig run --hal URL`: the firmware on any front end — a bench rig over serial, an instrument
station over VISA, or the simulator — with the same status, log, plot and JSON as `simulate`.

Settings: --settings FILE, else the settings stored on the device (a rig's flash), else the
defaults for the element the front end reports.
"""

from __future__ import annotations

import argparse

from lambdarig import api
from lambdarig.common.errors import LambdarigError
from lambdarig.hal.address import frontend_url
from lambdarig.hal.registry import known_schemes
from lambdarig.hal.sim import parse_sim_url

from .cmd_element import parse_number
from .cmd_simulate import scenario_duration_s
from .live_view import LiveOutput, add_live_options
from .summary import Console, add_session_options, command_line, one_or_list, show_result

DURATION_RANGE_S = api.RUN_DURATION_RANGE_S
CALLER = command_line({"hal_url": "--hal", "duration_s": "--duration", "reconnect_s": "--reconnect-s"})


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="run the firmware on a front end: serial rig, VISA station or sim",
        description="Run the controller firmware on the front end named by --hal "
                    "(serial:///dev/lambdarig0, serial://socket://HOST:PORT, visa:station.toml, sim:lsu49).")
    parser.add_argument("--hal", required=True, metavar="URL", action="append",
                        help="front end: sim:ELEMENT, visa:STATION.toml, serial:PORT, or a bare device path "
                             "(/dev/ttyUSB0), a pyserial URL (socket://, rfc2217://, loop://, hwgrep://) or auto; "
                             "serial ports take ?baudrate=N for a board on a UART bridge; give it 2 to 4 times "
                             "for that many sensors in one run (channels 0, 1, ...)")
    parser.add_argument("--duration", default=None, metavar="S",
                        help="seconds to run, %g..%g (default: until Ctrl-C; sim: the scenario)" % DURATION_RANGE_S)
    parser.add_argument("--settings", default=None, metavar="FILE", action="append",
                        help="controller settings .toml (default: the device's stored settings, else defaults); "
                             "with several --hal, once for all or once per front end, in the same order")
    parser.add_argument("--default-settings", action="store_true",
                        help="ignore settings stored on the device and use the defaults")
    parser.add_argument("--reconnect-s", default="5", metavar="S",
                        help="after a lost link, wait this long for the front end to come back and resume "
                             "(front ends that can: serial); 0 ends the run (default 5)")
    add_session_options(parser, "the front end carries")
    add_live_options(parser, simulate=False)
    parser.set_defaults(func=run)


def sim_duration_s(url: str) -> float | None:
    """A sim: URL's scenario length (the run's length without --duration), for the progress; None when
    the URL cannot say (the run then refuses it with its own message)."""
    try:
        _, options = parse_sim_url(url)
    except (LambdarigError, ValueError):
        return None
    scenario = options.get("scenario")
    return scenario_duration_s(scenario.strip() if isinstance(scenario, str) and scenario.strip() else "default")


def run(args: argparse.Namespace) -> int:
    duration_s = None if args.duration is None else parse_number(args.duration, "--duration", *DURATION_RANGE_S,
                                                                   unit="s")
    reconnect_s = parse_number(args.reconnect_s, "--reconnect-s", *api.RECONNECT_RANGE_S, unit="s")
    urls = [frontend_url(given) for given in args.hal]   # a bare device path, a pyserial URL or auto: serial
    for given, url in zip(args.hal, urls):
        if ":" not in url:
            raise CALLER.refuse("hal_url", f"{given!r} is not a front end URL; schemes: "
                                           f"{', '.join(known_schemes())} (e.g. sim:lsu49), a device path, "
                                           f"a pyserial URL (socket://HOST:PORT) or auto")
    # A run's time is the front end's: wall-clock on a rig or station ("run"), virtual on sim:.
    sim = all(url.lower().startswith("sim:") for url in urls)
    console = Console(args.json, args.quiet, total_s=duration_s or (sim_duration_s(urls[0]) if sim else None),
                      what="simulated" if sim else "run")
    can_pace = parse_number(args.can_pace, "--can-pace", *api.CAN_PACE_RANGE, unit="x")
    live = LiveOutput(args, title=f"lambdarig run: {', '.join(urls)}")
    try:
        result = api.run(urls[0] if len(urls) == 1 else urls, settings=one_or_list(args.settings),
                         duration_s=duration_s, use_stored_settings=not args.default_settings,
                         reconnect_s=reconnect_s, log=args.log, plot=args.plot, keep_samples=False,
                         force_element=args.force_element, sinks=console.sinks() + live.sinks(),
                         progress=console.progress, warn=console.warn, caller=CALLER, can=args.can,
                         can_pace=can_pace)
        live.finish(result)
        code = show_result(result, console, plot=args.plot)
        live.linger()
        return code
    finally:
        live.close()
