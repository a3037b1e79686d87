"""The command line's argparse parser: every usage error as the package's other bad input, one line
`lambdarig: error: SOURCE: FIELD: problem (allowed: ...; did you mean ...?)`, exit 2, no usage dump.

One subclass for the whole tree (argparse makes every subparser of the same class), so no command
has to do it per option:
- a mistyped command, action or choice (`lambdarig simulat`, `settings template --element lsu48`):
  the allowed names and the nearest ones (lambdarig.common.errors.nearest, difflib);
- an unknown option (`simulate --elemnt lsu49`): the command's options and the nearest ones;
- an unexpected argument: the command's usage;
- anything else argparse refuses (a missing value or required argument, an ambiguous prefix): its
  own words, on one line, and where to read more (`lambdarig flash --help`).
SOURCE is the command the error belongs to ("simulate", "settings template"), or "command line" for
`lambdarig` itself.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from lambdarig.common.errors import InputError, nearest

EXIT_USAGE = 2   # argparse's own code for bad usage


class UsageError(argparse.ArgumentError):
    """An argparse refusal already worded as an InputError."""

    def __init__(self, action: argparse.Action | None, error: InputError):
        super().__init__(action, error.message())
        self.error = error


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        # ArgumentErrors reach parse_known_args below instead of argparse's own error() with its usage.
        kwargs.setdefault("exit_on_error", False)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args, **kwargs):
        action = super().add_argument(*args, **kwargs)
        # The help's placeholders are NAME|FILE, N, S ...; an integer option given none shows N, not
        # its dest upper-cased (--seed SEED).
        if action.option_strings and action.metavar is None and action.choices is None and action.type is int:
            action.metavar = "N"
        return action

    def source(self) -> str:
        """The command this parser parses ("settings template"); "command line" for lambdarig itself."""
        return " ".join(self.prog.split()[1:]) or "command line"

    # -- where argparse refuses ------------------------------------------------------------------

    def parse_args(self, args=None, namespace=None):
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            self.refuse(self._unexpected(parsed, extras))
        return parsed

    def parse_known_args(self, args=None, namespace=None):
        try:
            return super().parse_known_args(args, namespace)
        except UsageError as exc:
            self.refuse(exc.error)
        except argparse.ArgumentError as exc:
            if exc.argument_name is None:   # Python >= 3.13: missing required arguments come this way too
                self.error(exc.message)
            self.refuse(self._argument_error(exc))

    def _check_value(self, action: argparse.Action, value) -> None:
        # argparse's check of a value against `choices`; also the command names of a subparsers action.
        choices = action.choices
        if choices is None or value in choices:
            return
        names = [str(choice) for choice in choices]
        metavar = action.metavar if isinstance(action.metavar, str) else ""
        what = metavar.lower() if isinstance(action, argparse._SubParsersAction) else "value"
        field = option_name(action) or metavar or action.dest
        raise UsageError(action, InputError(self.source(), str(field), f"unknown {what or 'value'} {value!r}",
                                            allowed=", ".join(names), suggestions=nearest(str(value), names)))

    def error(self, message: str) -> NoReturn:
        """argparse's other refusals (required arguments missing, an ambiguous option prefix)."""
        self.exit(EXIT_USAGE, f"{self.prog.split()[0]}: error: {self.source()}: {message} "
                              f"(see `{self.prog} --help`)\n")

    def refuse(self, error: InputError) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog.split()[0]}: error: {error}\n")

    # -- wording -----------------------------------------------------------------------------------

    def _argument_error(self, exc: argparse.ArgumentError) -> InputError:
        """A value argparse could not take (`--unit` with nothing after it, a bad type)."""
        name = exc.argument_name or ""
        action = next((a for a in self._actions if name in (option_name(a), a.metavar, a.dest)), None)
        allowed = invocation(action) if action is not None else f"see `{self.prog} --help`"
        return InputError(self.source(), name, exc.message, allowed=allowed)

    def _unexpected(self, parsed: argparse.Namespace, extras: list[str]) -> InputError:
        """The first argument no parser took, worded by the (sub)command it was given to."""
        chain = [self]
        while (sub := subparsers_of(chain[-1])) is not None and getattr(parsed, sub.dest, None) in sub.choices:
            chain.append(sub.choices[getattr(parsed, sub.dest)])
        parser = chain[-1]
        first = extras[0]
        if first.startswith("-") and not _is_number(first):
            name = first.split("=", 1)[0]
            options = [s for a in parser._actions for s in a.option_strings]
            if parser is not self and _takes(self, name):
                own = next((a for a in self._actions if name in a.option_strings), None)
                shown = invocation(own) if own is not None and own.nargs != 0 else name   # --log-level LEVEL
                command = " ".join(parser.prog.split()[1:])
                return InputError(parser.source(), name, "is an option of lambdarig itself, not of this command",
                                  allowed=f"before the command: {self.prog} {shown} {command} ...")
            anywhere = [s for p in chain for a in p._actions for s in a.option_strings]
            return InputError(parser.source(), name, "unknown option",
                              allowed=", ".join(s for s in options if s.startswith("--")),
                              suggestions=nearest(name, anywhere))
        usage = " ".join(parser.format_usage().split()[1:])
        return InputError(parser.source(), repr(first), "unexpected argument", allowed=usage)


def option_name(action: argparse.Action) -> str:
    """The action's long option (--element), its only option (-v), or "" for a positional."""
    return next((s for s in action.option_strings if s.startswith("--")), action.option_strings[0]
                if action.option_strings else "")


def invocation(action: argparse.Action) -> str:
    name = option_name(action)
    metavar = action.metavar if isinstance(action.metavar, str) else action.dest.upper()
    if not name:
        return metavar
    return name if action.nargs == 0 else f"{name} {metavar}"


def subparsers_of(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def _takes(parser: argparse.ArgumentParser, name: str) -> bool:
    """Whether `name` is one of the parser's own options (-vv counts as -v)."""
    own = {s for a in parser._actions for s in a.option_strings}
    return name in own or (name[:1] == "-" and name[1:2] != "-" and len(set(name[1:])) == 1 and f"-{name[1]}" in own)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
