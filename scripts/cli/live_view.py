"""The live view on the command line: `--live`, `--live-port`, `--live-linger` for `simulate` and `run`,
`--realtime`/`--no-realtime`/`--realtime-factor` for `simulate`, and the server's life around a session.

Order of things: the options are checked and the port is bound before the run (a bad value or a
port in use: exit 2, nothing ran), the URL goes to stderr (also with --json: stdout keeps its one
JSON object), the run feeds the page, the summary is printed, then the page stays up for
--live-linger seconds showing "run ended" (Ctrl-C closes it sooner; not after a run that was
itself interrupted) and the server stops.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from lambdarig.common import validators as check
from lambdarig.common.errors import InputError
from lambdarig.common.validators import Place
from lambdarig.pacing import REALTIME_FACTOR_RANGE
from lambdarig.result import SessionResult
from lambdarig.signals import stop_signals

DEFAULT_PORT = 8765   # lambdarig.live.DEFAULT_PORT; not imported here, so the CLI loads without the extra
LINGER_RANGE_S = (0.0, 86400.0)
DEFAULT_LINGER_S = 10.0
INSTALL_HINT = "the live view needs Starlette and uvicorn: pip install 'lambdarig[live]'"


def _at(option: str) -> Place:
    return Place("command line", option, InputError)


def add_live_options(parser: argparse.ArgumentParser, *, simulate: bool) -> None:
    parser.add_argument("--live", action="store_true",
                        help="serve a live view of the run on http://127.0.0.1:PORT/ (URL printed on stderr)"
                             + ("; implies --realtime" if simulate else ""))
    parser.add_argument("--live-port", default=None, metavar="N",
                        help=f"port of the live view on 127.0.0.1, 0 for any free port (default {DEFAULT_PORT}); "
                             "implies --live")
    parser.add_argument("--live-linger", default=None, metavar="S",
                        help=f"after the run, keep the live view up S seconds (default {DEFAULT_LINGER_S:g}; "
                             "Ctrl-C closes it sooner)")
    if simulate:
        parser.add_argument("--realtime", dest="realtime", action="store_true", default=None,
                            help="pace the simulation to the wall clock (default with --live)")
        parser.add_argument("--no-realtime", dest="realtime", action="store_false",
                            help="run as fast as the CPU allows, also with --live")
        parser.add_argument("--realtime-factor", default=None, metavar="X",
                            help="with --realtime: X times real time, %g..%g (default 1); implies --realtime"
                                 % REALTIME_FACTOR_RANGE)


def realtime_factor(args: argparse.Namespace) -> float | None:
    """simulate: the pacing factor asked for (None: as fast as possible)."""
    factor = 1.0
    if args.realtime_factor is not None:
        factor = check.number_text(args.realtime_factor, _at("--realtime-factor"), *REALTIME_FACTOR_RANGE,
                                   unit="x real time")
    wanted = args.realtime
    if wanted is None:
        wanted = wants_live(args) or args.realtime_factor is not None
    return factor if wanted else None


def wants_live(args: argparse.Namespace) -> bool:
    return bool(args.live or args.live_port is not None)


class LiveOutput:
    """The live view of one command: a no-op without --live."""

    def __init__(self, args: argparse.Namespace, title: str):
        self.server: Any = None
        self.feed: Any = None
        # Checked also without --live: a bad value given is a mistake either way.
        port = DEFAULT_PORT if args.live_port is None else check.integer_text(args.live_port, _at("--live-port"),
                                                                             0, 65535)
        self.linger_s = DEFAULT_LINGER_S if args.live_linger is None else check.number_text(
            args.live_linger, _at("--live-linger"), *LINGER_RANGE_S, unit="s")
        if not wants_live(args):
            return
        try:
            from lambdarig.live import LiveFeed, LiveServer
        except ImportError:
            raise _at("--live").refuse(INSTALL_HINT) from None
        self.feed = LiveFeed()
        self.server = LiveServer(self.feed, port, title=title, option="--live-port").start()
        print(f"live view: {self.server.url}", file=sys.stderr, flush=True)

    def sinks(self) -> list[Any]:
        return [self.feed] if self.feed is not None else []

    def finish(self, result: SessionResult) -> None:
        """The run is over: the page says so (with why it ended early, if it did)."""
        if self.feed is None:
            return
        if result.interrupted:
            self.linger_s = 0.0   # Ctrl-C or a stop signal means: done now, the page too
        summary = result.summary
        text = f"run ended: final state {summary['final_state']}"
        if summary.get("message"):
            text += f"; {summary['message']}"
        self.feed.end(text)

    def linger(self) -> None:
        """Keep the page up for linger_s (after the summary is printed); Ctrl-C or a stop signal ends it."""
        if self.server is None or self.linger_s <= 0:
            return
        print(f"live view: run ended; the page stays up {self.linger_s:g} s (Ctrl-C closes it)",
              file=sys.stderr, flush=True)
        try:
            with stop_signals():
                time.sleep(self.linger_s)
        except KeyboardInterrupt:
            pass   # closing the page early is not a failure: the run's own exit code stands

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
