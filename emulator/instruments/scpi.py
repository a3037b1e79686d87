"""SCPI core of the emulated instruments: the message parser and the status model.

- Parser (IEEE 488.2 / SCPI-99 syntax as instruments accept it): headers in short or long form, any
  case, optional leading ':', optional nodes (`[:LEVel]`), numeric node suffixes (`SOUR2`, `OUTP1`),
  several message units on one line separated by ';' (a unit without a leading ':' is first tried
  relative to the previous unit's path, as SCPI specifies, then from the root), parameters separated
  by ',' with quoted strings, channel lists `(@1,2)` / `(@1:3)`, numbers with SI multipliers and units
  (`20uA`, `5 V`, `1mA`) and MIN|MAX|DEF. Replies to the queries of one line go back as one line,
  joined by ';', terminated by '\\n'.
- Status: a bounded error queue (`:SYST:ERR?` pops `code,"text"`, `0,"No error"` when empty; a full
  queue turns its last entry into -350 "Queue overflow"), the standard event status register
  (`*ESR?` reads and clears; -1xx sets 32 command error, -2xx 16 execution error, -3xx and positive
  device codes 8 device error, -4xx 4 query error; 128 power-on is set at power-on), `*ESE`, `*SRE`,
  `*STB?` (4 error available, 32 event summary, 64 master summary).
- Errors: a header no command matches -> -113 Undefined header; a malformed header -> -102 Syntax
  error; a query form of a write-only command (or the reverse) -> -113; too many parameters -> -108;
  too few -> -109; a non-number where a number belongs -> -104; a bad unit -> -131; a bad keyword ->
  -224; a number outside the range -> -222; a setting that conflicts with the state -> -221.
  A command error (-1xx) discards the rest of the line; execution errors do not. A query that fails
  sends no reply (the client's read times out, as with a real instrument) and queues its error.

This module knows nothing about physics or sockets: the instrument models of emulator/instruments
are built on ScpiInstrument, and line_server.py carries their lines over TCP.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# --- errors ---------------------------------------------------------------------------------------

ERROR_TEXT = {
    0: "No error",
    -100: "Command error", -101: "Invalid character", -102: "Syntax error", -103: "Invalid separator",
    -104: "Data type error", -108: "Parameter not allowed", -109: "Missing parameter",
    -110: "Command header error", -113: "Undefined header", -114: "Header suffix out of range",
    -120: "Numeric data error", -121: "Invalid character in number", -123: "Exponent too large",
    -124: "Too many digits", -131: "Invalid suffix", -138: "Suffix not allowed",
    -141: "Invalid character data", -148: "Character data not allowed", -150: "String data error",
    -151: "Invalid string data", -158: "String data not allowed",
    -200: "Execution error", -220: "Parameter error", -221: "Settings conflict", -222: "Data out of range",
    -223: "Too much data", -224: "Illegal parameter value", -230: "Data corrupt or stale",
    -240: "Hardware error", -241: "Hardware missing",
    -300: "Device-specific error", -310: "System error", -350: "Queue overflow",
    -400: "Query error", -410: "Query INTERRUPTED", -420: "Query UNTERMINATED", -430: "Query DEADLOCKED",
    -440: "Query UNTERMINATED after indefinite response",
}

# Standard event status register bits (IEEE 488.2).
ESR_OPC, ESR_QUERY, ESR_DEVICE, ESR_EXECUTION, ESR_COMMAND, ESR_POWER_ON = 1, 4, 8, 16, 32, 128
# Status byte bits.
STB_EAV, STB_ESB, STB_MSS = 4, 32, 64


DETAIL_MAX_CHARS = 80


def error_text(code: int) -> str:
    """The standard text of a SCPI error code (its class text for codes not in the table)."""
    if code in ERROR_TEXT:
        return ERROR_TEXT[code]
    if -199 <= code <= -100:
        return "Command error"
    if -299 <= code <= -200:
        return "Execution error"
    if -399 <= code <= -300:
        return "Device-specific error"
    if -499 <= code <= -400:
        return "Query error"
    return "Device-specific error"


def esr_bit(code: int) -> int:
    """The standard event status bit an error sets: 32 command, 16 execution, 8 device, 4 query."""
    if -199 <= code <= -100:
        return ESR_COMMAND
    if -299 <= code <= -200:
        return ESR_EXECUTION
    if -499 <= code <= -400:
        return ESR_QUERY
    if code == 0:
        return 0
    return ESR_DEVICE


def is_command_error(code: int) -> bool:
    return -199 <= code <= -100


class ScpiError(Exception):
    """A SCPI error raised while executing a message unit: goes onto the error queue."""

    def __init__(self, code: int, detail: str = ""):
        self.code = code
        # Details quote client input: keep the queue entry short whatever the client sent.
        self.detail = detail if len(detail) <= DETAIL_MAX_CHARS else detail[:DETAIL_MAX_CHARS - 3] + "..."
        super().__init__(f'{code},"{self.text}"')

    @property
    def text(self) -> str:
        base = error_text(self.code)
        return f"{base}; {self.detail}" if self.detail else base


# --- lexical helpers ------------------------------------------------------------------------------

_HEADER_RE = re.compile(r":?[A-Za-z][A-Za-z0-9_]*(?::[A-Za-z][A-Za-z0-9_]*)*\??\Z")
_COMMON_RE = re.compile(r"\*[A-Za-z]+\??\Z")
# Unambiguous on purpose: every digit belongs to exactly one place (integer part, fraction part,
# exponent), so a token that fails to match costs linear time. `\d+\.?\d*` let the engine try every
# split of a digit run between its two `\d`s: quadratic, 0.6 s for a 4,000-digit token.
_NUMBER_RE = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z]*)\Z")
_MULTIPLIERS = {"": 1.0, "P": 1e-12, "N": 1e-9, "U": 1e-6, "M": 1e-3, "K": 1e3, "MA": 1e6, "G": 1e9}
NOT_A_NUMBER = 9.91e37   # what instruments send for "not measured"


def _split_top(text: str, sep: str) -> list[str]:
    """Split at sep outside quotes and parentheses."""
    parts: list[str] = []
    buf: list[str] = []
    quote = ""
    depth = 0
    for ch in text:
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch == sep and depth == 0:
            parts.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    parts.append("".join(buf))
    return parts


def split_units(line: str) -> list[str]:
    """The message units of one program message (';'-separated, quotes and channel lists respected)."""
    return _split_top(line, ";")


def keyword_forms(word: str) -> tuple[str, str]:
    """('SOUR', 'SOURCE') from 'SOURce': the short form is the leading upper-case part."""
    short = ""
    for ch in word:
        if ch.isupper() or ch.isdigit():
            short += ch
        else:
            break
    return short or word.upper(), word.upper()


def match_keyword(token: str, words: Iterable[str]) -> str | None:
    """The short form of the first word whose short or long form equals token (any case), else None."""
    t = token.strip().upper()
    for word in words:
        short, long = keyword_forms(word)
        if t == short or t == long:
            return short
    return None


def parse_number(token: str, unit: str = "", special: dict[str, float] | None = None) -> float:
    """A SCPI numeric parameter: decimal with exponent, optional SI multiplier + unit, or a keyword
    from special (MIN/MAX/DEF and their long forms). Raises ScpiError -104/-131/-109."""
    text = token.strip()
    if not text:
        raise ScpiError(-109)
    upper = text.upper()
    if special:
        for key, value in special.items():
            short, long = keyword_forms(key)
            if upper in (short, long):
                return value
    m = _NUMBER_RE.match(text)
    if m is None:
        raise ScpiError(-104, f"{text!r} is not a number")
    value = float(m.group(1))
    suffix = m.group(2).upper()
    if suffix:
        u = unit.upper()
        if u and suffix.endswith(u) and suffix[: len(suffix) - len(u)] in _MULTIPLIERS:
            value *= _MULTIPLIERS[suffix[: len(suffix) - len(u)]]
        else:
            raise ScpiError(-131, f"{m.group(2)!r}" + (f" (unit {unit})" if unit else ""))
    if not math.isfinite(value):
        raise ScpiError(-222)
    return value


def parse_bool(token: str) -> bool:
    t = token.strip().upper()
    if t in ("ON", "1"):
        return True
    if t in ("OFF", "0"):
        return False
    m = _NUMBER_RE.match(t)
    if m and not m.group(2):
        value = float(m.group(1))
        if not math.isfinite(value):
            raise ScpiError(-222, f"{token.strip()!r}: expected ON|OFF|1|0")
        return round(value) != 0
    raise ScpiError(-224, f"{token.strip()!r}: expected ON|OFF|1|0")


def parse_string(token: str) -> str:
    t = token.strip()
    if len(t) >= 2 and t[0] in "\"'" and t[-1] == t[0]:
        return t[1:-1].replace(t[0] * 2, t[0])
    if t and t[0] in "\"'":
        raise ScpiError(-151, "unterminated string")
    return t


def parse_chanlist(token: str) -> list[int] | None:
    """[1, 2, 3] from '(@1,2)' / '(@1:3)'; None when token is not a channel list."""
    t = token.strip()
    if not (t.startswith("(@") and t.endswith(")")):
        return None
    body = t[2:-1].strip()
    channels: list[int] = []
    try:
        for part in body.split(","):
            part = part.strip()
            if ":" in part:
                a, b = (int(x) for x in part.split(":", 1))
                step = 1 if b >= a else -1
                channels.extend(range(a, b + step, step))
            elif part:
                channels.append(int(part))
    except ValueError:
        raise ScpiError(-102, f"bad channel list {t!r}") from None
    if not channels:
        raise ScpiError(-109, "empty channel list")
    return channels


def fmt_e(value: float, digits: int = 6, plus: bool = True) -> str:
    """1.000000E-03 / +1.000000E-03 (the NR3 form instruments send)."""
    return (f"{value:+.{digits}E}" if plus else f"{value:.{digits}E}")


# --- commands and message units -------------------------------------------------------------------


class Ctx:
    """One message unit being executed: header, query flag, parameters, numeric node suffixes."""

    __slots__ = ("header", "query", "params", "suffixes")

    def __init__(self, header: str, query: bool, params: list[str], suffixes: tuple[int | None, ...]):
        self.header = header
        self.query = query
        self.params = params
        self.suffixes = suffixes

    def __len__(self) -> int:
        return len(self.params)

    def suffix(self, index: int = 0, default: int | None = None) -> int | None:
        if index < len(self.suffixes) and self.suffixes[index] is not None:
            return self.suffixes[index]
        return default

    def param(self, i: int) -> str:
        if i >= len(self.params) or not self.params[i].strip():
            raise ScpiError(-109)
        return self.params[i].strip()

    def has(self, i: int) -> bool:
        return i < len(self.params) and bool(self.params[i].strip())

    def number(self, i: int, unit: str = "", lo: float | None = None, hi: float | None = None,
               special: dict[str, float] | None = None) -> float:
        value = parse_number(self.param(i), unit, special)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ScpiError(-222, f"{value:g}{unit} not in [{lo:g}, {hi:g}]" if lo is not None and hi is not None
                            else f"{value:g}{unit}")
        return value

    def boolean(self, i: int) -> bool:
        return parse_bool(self.param(i))

    def choice(self, i: int, words: Iterable[str]) -> str:
        words = tuple(words)
        found = match_keyword(parse_string(self.param(i)), words)
        if found is None:
            raise ScpiError(-224, f"{self.param(i)!r}: expected one of {'|'.join(words)}")
        return found

    def string(self, i: int) -> str:
        return parse_string(self.param(i))


@dataclass
class Command:
    pattern: str
    regex: re.Pattern
    handler: Callable[[Ctx], str | None]
    set_ok: bool
    query_ok: bool
    args: tuple[int, int]        # (min, max) parameters of the set form
    qargs: tuple[int, int]       # (min, max) parameters of the query form
    status: bool                 # a status/identity command: exempt from injected errors


def _suffix(digits: str) -> int | None:
    if not digits:
        return None
    if len(digits) > MAX_SUFFIX_DIGITS:
        raise ScpiError(-114, f"suffix of {len(digits)} digits")
    return int(digits)


def compile_pattern(pattern: str) -> re.Pattern:
    """A regex for a command pattern like '[:SOURce#]:CURRent[:LEVel]' ('#': numeric suffix allowed),
    matched against an upper-case header with a leading ':' (or a '*' common command)."""
    if pattern.startswith("*"):
        return re.compile(re.escape(pattern.upper()) + r"\Z")
    out = []
    i = 0
    n = len(pattern)
    while i < n:
        optional = pattern[i] == "["
        if optional:
            j = pattern.index("]", i)
            node = pattern[i + 1:j].lstrip(":")
            i = j + 1
        else:
            if pattern[i] == ":":
                i += 1
            j = i
            while j < n and pattern[j] not in ":[":
                j += 1
            node = pattern[i:j]
            i = j
        suffix = node.endswith("#")
        short, long = keyword_forms(node.rstrip("#"))
        part = ":(?:" + "|".join(sorted({re.escape(short), re.escape(long)}, key=len, reverse=True)) + ")"
        if suffix:
            part += r"(\d*)"
        out.append(f"(?:{part})?" if optional else part)
    return re.compile("".join(out) + r"\Z")


LOOKUP_CACHE_SIZE = 4096
MAX_SUFFIX_DIGITS = 6        # a numeric node suffix (SOUR2) longer than this: -114
MAX_UNITS_PER_LINE = 64      # more message units on one line: -223 Too much data (bounds the time under lock)

# One parsed message unit: the command and its context, or the error that refused it.
Parsed = tuple[Command, Ctx] | ScpiError


class ScpiInstrument:
    """Parser, dispatcher and status model of one instrument; subclasses add commands and state.

    `execute(line)` runs one program message and returns the reply line (without terminator) or None.
    Callers serialise execute() (the station holds its lock around it).
    """

    error_queue_size = 10

    def __init__(self, idn: str):
        self.idn = idn
        self._commands: list[Command] = []
        self._lookup_cache: dict[str, tuple[Command, tuple[int | None, ...]] | None] = {}
        self.errors: deque[tuple[int, str]] = deque()
        self.esr = ESR_POWER_ON
        self.ese = 0
        self.sre = 0
        self._injected: deque[int] = deque()
        self._add_common()

    # -- registration ----------------------------------------------------------------------------

    def add(self, pattern: str, handler: Callable[[Ctx], str | None], *, set: bool = True, query: bool = False,
            args: tuple[int, int] = (1, 1), qargs: tuple[int, int] = (0, 0), status: bool = False) -> None:
        if not set:
            args = (0, 0)
        self._commands.append(Command(pattern, compile_pattern(pattern), handler, set, query, args, qargs, status))
        self._lookup_cache.clear()

    def _add_common(self) -> None:
        self.add("*IDN", lambda c: self.idn, set=False, query=True, status=True)
        self.add("*RST", lambda c: self.reset(), args=(0, 0))
        self.add("*CLS", lambda c: self.clear_status(), args=(0, 0), status=True)
        self.add("*OPC", self._opc, query=True, args=(0, 0), status=True)
        self.add("*WAI", lambda c: None, args=(0, 0), status=True)
        self.add("*ESR", self._read_esr, set=False, query=True, status=True)
        self.add("*ESE", self._ese, query=True, status=True)
        self.add("*SRE", self._sre, query=True, status=True)
        self.add("*STB", lambda c: str(self.status_byte()), set=False, query=True, status=True)
        self.add("*TST", lambda c: "0", set=False, query=True)
        self.add("*TRG", lambda c: None, args=(0, 0))
        self.add(":SYSTem:ERRor[:NEXT]", lambda c: self.pop_error(), set=False, query=True, status=True)
        self.add(":SYSTem:ERRor:COUNt", lambda c: str(len(self.errors)), set=False, query=True, status=True)
        self.add(":SYSTem:ERRor:ALL", self._all_errors, set=False, query=True, status=True)
        self.add(":SYSTem:VERSion", lambda c: "1999.0", set=False, query=True)

    def _opc(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return "1"
        self.esr |= ESR_OPC
        return None

    def _read_esr(self, ctx: Ctx) -> str:
        value, self.esr = self.esr, 0
        return str(value)

    def _ese(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return str(self.ese)
        self.ese = int(ctx.number(0, lo=0, hi=255))
        return None

    def _sre(self, ctx: Ctx) -> str | None:
        if ctx.query:
            return str(self.sre)
        self.sre = int(ctx.number(0, lo=0, hi=255))
        return None

    def _all_errors(self, ctx: Ctx) -> str:
        if not self.errors:
            return self.pop_error()
        entries = []
        while self.errors:
            entries.append(self.pop_error())
        return ",".join(entries)

    # -- status model ------------------------------------------------------------------------------

    def reset(self) -> None:
        """*RST: settings to their defaults (the status registers and error queue are kept)."""

    def clear_status(self) -> None:
        """*CLS: empty the error queue, clear the event status register."""
        self.errors.clear()
        self.esr = 0

    def push_error(self, code: int, text: str | None = None) -> None:
        self.esr |= esr_bit(code)
        if text is None:
            text = error_text(code)
        if len(self.errors) >= self.error_queue_size:
            self.errors[-1] = (-350, error_text(-350))
            return
        self.errors.append((code, text))

    def pop_error(self) -> str:
        if not self.errors:
            return '0,"No error"'
        code, text = self.errors.popleft()
        return f'{code},"{text}"'

    def status_byte(self) -> int:
        stb = 0
        if self.errors:
            stb |= STB_EAV
        if self.esr & self.ese:
            stb |= STB_ESB
        if stb & self.sre:
            stb |= STB_MSS
        return stb

    def inject_error(self, code: int) -> None:
        """The next message unit that is not a status/identity command fails with this code."""
        self._injected.append(int(code))

    # -- execution ---------------------------------------------------------------------------------

    def _lookup(self, key: str) -> tuple[Command, tuple[int | None, ...]] | None:
        try:
            return self._lookup_cache[key]
        except KeyError:
            pass
        found = None
        for command in self._commands:
            m = command.regex.match(key)
            if m:
                found = (command, tuple(_suffix(g) for g in m.groups()))
                break
        if len(self._lookup_cache) >= LOOKUP_CACHE_SIZE:  # headers are client input: keep the cache bounded
            self._lookup_cache.clear()
        self._lookup_cache[key] = found
        return found

    def parse(self, line: str) -> list[Parsed]:
        """The message units of one line, looked up and split into parameters, without executing
        anything or touching the instrument's state: callers run this outside their lock, then
        `run()` the result under it. A syntax or header error ends the list (the rest of the line
        is discarded, as SCPI specifies); a line of more than MAX_UNITS_PER_LINE units is -223."""
        parsed: list[Parsed] = []
        path = ""
        units = [unit for unit in (raw.strip() for raw in split_units(line)) if unit]
        if len(units) > MAX_UNITS_PER_LINE:
            return [ScpiError(-223, f"{len(units)} message units on one line; at most {MAX_UNITS_PER_LINE}")]
        for unit in units:
            try:
                command, ctx, path = self._parse_unit(unit, path)
            except ScpiError as exc:
                parsed.append(exc)
                if is_command_error(exc.code):
                    break
                continue
            except Exception as exc:  # a parser bug: a command error for the client, never a traceback
                parsed.append(ScpiError(-100, f"internal {type(exc).__name__}"))
                break
            parsed.append((command, ctx))
        return parsed

    def run(self, parsed: list[Parsed]) -> str | None:
        """Execute parsed message units (see parse); the reply line or None."""
        replies: list[str] = []
        for entry in parsed:
            if isinstance(entry, ScpiError):
                self.push_error(entry.code, entry.text)
                continue
            command, ctx = entry
            try:
                if self._injected and not command.status:
                    raise ScpiError(self._injected.popleft(), "injected")
                reply = command.handler(ctx)
            except ScpiError as exc:
                self.push_error(exc.code, exc.text)
                if is_command_error(exc.code):
                    break
                continue
            except Exception as exc:  # a bug in a handler: report it as a device error, keep serving
                self.push_error(-300, f"{error_text(-300)}; internal {type(exc).__name__}: {exc}")
                continue
            if ctx.query and reply is not None:
                replies.append(reply)
        return ";".join(replies) if replies else None

    def execute(self, line: str) -> str | None:
        """parse() and run() one program message (callers that hold no lock of their own)."""
        return self.run(self.parse(line))

    def _parse_unit(self, unit: str, path: str) -> tuple[Command, Ctx, str]:
        parts = unit.split(None, 1)
        header = parts[0]
        param_text = parts[1] if len(parts) > 1 else ""
        common = header.startswith("*")
        if common:
            if not _COMMON_RE.match(header):
                raise ScpiError(-102, f"header {header!r}")
        elif not _HEADER_RE.match(header):
            raise ScpiError(-102, f"header {header!r}")
        query = header.endswith("?")
        bare = header[:-1] if query else header
        bare = bare.upper()
        found = None
        new_path = path
        if common:
            found = self._lookup(bare)
        else:
            if not bare.startswith(":") and path:
                key = f"{path}:{bare}"
                found = self._lookup(key)
                if found is not None:
                    new_path = key.rsplit(":", 1)[0]
            if found is None:
                key = bare if bare.startswith(":") else ":" + bare
                found = self._lookup(key)
                new_path = key.rsplit(":", 1)[0]
        if found is None:
            raise ScpiError(-113, f"{header}")
        command, suffixes = found
        if (query and not command.query_ok) or (not query and not command.set_ok):
            raise ScpiError(-113, f"{header}" + (" has no query form" if query else " is a query only"))
        params = [p for p in _split_top(param_text, ",")] if param_text.strip() else []
        lo, hi = command.qargs if query else command.args
        if len(params) > hi:
            raise ScpiError(-108, f"{header} takes at most {hi} parameter(s)")
        if len(params) < lo:
            raise ScpiError(-109, f"{header} needs {lo} parameter(s)")
        return command, Ctx(header, query, params, suffixes), new_path
