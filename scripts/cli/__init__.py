"""The `lambdarig` command line: parser, dispatch to one module per subcommand, common error handling.

Each subcommand lives in its own `cmd_*.py` module with `register(subparsers)` and `run(args) -> int`;
add a module to COMMANDS to add a subcommand.

Every refusal of the package (a LambdarigError) ends as one line on stderr and an exit code: bad
input (InputError) 2, a front end that cannot be reached or stopped answering (FrontEndError) 3,
anything else 1. A plain ValueError is still bad usage (2), for the modules whose refusals are not
InputErrors yet; every other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys

from lambdarig.common.errors import InputError, LambdarigError
from lambdarig.controller.runtime import interrupt_text, signal_of
from lambdarig.hal.types import FrontEndError
from lambdarig.signals import exit_code_for

from . import cmd_calibrate, cmd_element, cmd_flash, cmd_ports, cmd_run, cmd_serve, cmd_settings, cmd_simulate, cmd_udev

COMMANDS = (cmd_simulate, cmd_run, cmd_element, cmd_calibrate, cmd_serve, cmd_flash, cmd_settings,
            cmd_ports, cmd_udev)
EXIT_FAILURE = 1  # any other refusal of the package (a LambdarigError that is neither of the below)
EXIT_USAGE = 2  # argparse's own code for bad usage; bad input values are bad usage too
EXIT_FRONTEND = 3  # the front end could not be reached or stopped answering


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lambdarig",
        description="Wideband lambda sensor controller firmware and sensor-element emulator.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        # Return instead of exiting so in-process callers (tests, other tools) get the code back.
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return args.func(args)
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


def _refuse(parser: argparse.ArgumentParser, exc: Exception, code: int) -> int:
    print(f"{parser.prog}: error: {exc}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
