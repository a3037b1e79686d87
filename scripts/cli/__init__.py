"""The `lambdarig` command line: parser, dispatch to one module per subcommand, common error handling.

Each subcommand lives in its own `cmd_*.py` module with `register(subparsers)` and `run(args) -> int`;
add a module to COMMANDS to add a subcommand.

Usage errors (a misspelt command, option or choice, a missing argument) are one line with the
allowed and nearest names, exit 2, no usage dump: the parser class of lambdarig.cli.parser.

Every refusal of the package (a LambdarigError) ends as one line on stderr and an exit code: bad
input (InputError) 2, a front end that cannot be reached or stopped answering (FrontEndError) 3,
anything else 1. A plain ValueError is still bad usage (2), for the modules whose refusals are not
InputErrors yet; every other exception is a bug and keeps its traceback.

Global options: `--version`; `-v` (INFO, `-vv` DEBUG) or `--log-level LEVEL` send the package's
`lambdarig.*` loggers (progress, the VISA front end, the SCPI trace of the instrument drivers at
DEBUG) to stderr. A reader that stops early (`lambdarig udev print | head -1`) ends every command
quietly: the broken pipe is handled here once, exit 141 (128 + SIGPIPE, as a shell reports it).
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import logging
import os
import select
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import lambdarig
from lambdarig.common.errors import InputError, LambdarigError, nearest
from lambdarig.controller.runtime import interrupt_text, signal_of
from lambdarig.hal.types import FrontEndError
from lambdarig.signals import exit_code_for

from .parser import Parser

# Subcommand name -> its module (lambdarig.cli.<module>), in the order `lambdarig --help` lists them.
# A module is imported only when its command is parsed (or for the full parser: --help, a mistyped
# command), so `lambdarig simulate` does not load the flash, udev, sweep, ... modules and what they import.
COMMANDS = {"simulate": "cmd_simulate", "run": "cmd_run", "element": "cmd_element", "scenarios": "cmd_scenarios",
            "calibrate": "cmd_calibrate", "serve": "cmd_serve", "flash": "cmd_flash", "settings": "cmd_settings",
            "ports": "cmd_ports", "udev": "cmd_udev", "sweep": "cmd_sweep"}
EXIT_FAILURE = 1  # any other refusal of the package (a LambdarigError that is neither of the below)
EXIT_USAGE = 2  # argparse's own code for bad usage; bad input values are bad usage too
EXIT_FRONTEND = 3  # the front end could not be reached or stopped answering
EXIT_BROKEN_PIPE = exit_code_for("SIGPIPE")  # 141: the reader of stdout went away (`| head`)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s: %(message)s"


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with `only` (a command's name) that command's full parser and, for the
    others, empty placeholders (they are never reached: the command line names `only`)."""
    parser = Parser(   # usage errors as one line with the nearest names (lambdarig.cli.parser)
        prog="lambdarig",
        description="Wideband lambda sensor controller firmware and sensor-element emulator.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {lambdarig.__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log the lambdarig.* loggers to stderr: -v INFO, -vv DEBUG (the SCPI trace)")
    parser.add_argument("--log-level", default=None, metavar="LEVEL",
                        help="log level for the lambdarig.* loggers on stderr: " + ", ".join(LOG_LEVELS)
                             + " (overrides -v)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name, module in COMMANDS.items():
        if only is None or name == only:
            importlib.import_module(f"{__name__}.{module}").register(subparsers)
        else:
            subparsers.add_parser(name, add_help=False)
    return parser


def chosen_command(argv: list[str]) -> str | None:
    """The subcommand the command line names, read past the global options (-v, --log-level LEVEL);
    None when it names none, or asks for help or the version: then the whole parser is built."""
    args = iter(argv)
    for arg in args:
        option = arg.split("=", 1)[0]
        if len(option) >= 3 and "--log-level".startswith(option):    # argparse takes unambiguous prefixes
            if "=" not in arg:
                next(args, None)      # its value
        elif len(option) >= 6 and "--verbose".startswith(option) or (arg[1:] and set(arg[1:]) == {"v"}):
            continue
        elif arg.startswith("-"):
            return None               # --help, --version, "--", anything unexpected: the whole parser decides
        else:
            return arg if arg in COMMANDS else None
    return None


def main(argv: list[str] | None = None) -> int:
    whole_process = argv is None   # the `lambdarig` command itself, not a caller within a larger program
    if argv is None:
        argv = sys.argv[1:]
        # numpy's OpenBLAS starts a thread per core when numpy is imported (~0.06 s of CPU per process,
        # benchmarks/startup.py); nothing here multiplies matrices large enough to use them. A value
        # the user has set is kept. Set before the command's module imports numpy.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = build_parser(chosen_command(argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        # Return instead of exiting so in-process callers (tests, other tools) get the code back.
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    # A command may then make process-wide choices (simulate: Python kernels for a short run).
    args.whole_process = whole_process
    try:
        with _logging_to_stderr(args.log_level, args.verbose):
            code = args.func(args)
        sys.stdout.flush()   # a broken pipe shows here, inside the handling, not at interpreter exit
        return code
    except BrokenPipeError:
        if not _stdout_reader_gone():
            raise   # a broken pipe elsewhere (a socket, a subprocess) is a bug: keep its traceback
        return _reader_gone()
    except InputError as exc:  # bad files, options, overrides, URLs: source, field, problem, suggestions
        return _refuse(parser, exc, EXIT_USAGE)
    except FrontEndError as exc:  # a front end that cannot be opened or stopped answering
        return _refuse(parser, exc, EXIT_FRONTEND)
    except ValueError as exc:
        # Still needed: the protocol's WireError and the ValueErrors of modules whose refusals are
        # not InputErrors yet (flash port checks, udev) are bad usage too.
        return _refuse(parser, exc, EXIT_USAGE)
    except LambdarigError as exc:  # any other refusal of the package: a message, never a traceback
        return _refuse(parser, exc, EXIT_FAILURE)
    except KeyboardInterrupt as exc:  # Ctrl-C or a stop signal outside a session's own handling
        name = signal_of(exc)
        print(f"{parser.prog}: interrupted ({interrupt_text(name)})", file=sys.stderr)
        return exit_code_for(name)


def log_level(text: str | None, verbose: int) -> int | None:
    """The level --log-level or -v asks for (None: leave logging alone); InputError for a bad name."""
    if text is None:
        return None if verbose <= 0 else (logging.INFO if verbose == 1 else logging.DEBUG)
    name = text.strip().upper()
    if name not in LOG_LEVELS:
        closest = nearest(name, LOG_LEVELS, count=1) or (
            max(LOG_LEVELS, key=lambda level: difflib.SequenceMatcher(None, name, level).ratio()),)
        raise InputError("command line", "--log-level", f"unknown level {text!r}", allowed=", ".join(LOG_LEVELS),
                         suggestions=closest)
    return int(getattr(logging, name))


@contextmanager
def _logging_to_stderr(text: str | None, verbose: int) -> Iterator[None]:
    """While the command runs, the lambdarig.* loggers at the level asked for go to stderr; the
    logger is as before afterwards (main() may run many times in one process)."""
    level = log_level(text, verbose)
    if level is None:
        yield
        return
    logger = logging.getLogger("lambdarig")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def _stdout_reader_gone() -> bool:
    """Whether stdout is a pipe whose reader has closed it (poll reports an error on its write end);
    True where that cannot be asked (stdout without a file descriptor, a platform without poll)."""
    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
    except (OSError, ValueError, AttributeError):
        return True
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _reader_gone() -> int:
    """stdout's reader closed the pipe: point stdout at /dev/null so the interpreter's last flush
    does not fail again, and exit quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):   # no real file descriptor (a test's captured stdout)
        pass
    return EXIT_BROKEN_PIPE


def _refuse(parser: argparse.ArgumentParser, exc: Exception, code: int) -> int:
    print(f"{parser.prog}: error: {exc}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
