"""Declarative instrument drivers: command templates plus validators, in the spirit of pymeasure.

A driver is a class with a table of parameters. Each `Param` holds a SCPI set template and a
validator (the model's range); `Instrument.set(name, value)` validates the value against the model's
range AND the station's safety limit for that parameter before anything is written, formats the
command, writes it, and remembers the value (the snapshot reports the settings in force).

    class MySMU(Instrument):
        MODEL = "mysmu"
        PARAMS = {"source_current_a": Param(":SOUR:CURR:LEV {:.6g}", Range(-1.05, 1.05, "A"))}

Every write and query is logged at DEBUG on the logger ``lambdarig.visa.<role>`` ("WRITE cmd",
"QUERY cmd -> reply"). I/O errors are translated:

- no reply within the resource's timeout, a closed connection, a socket error -> `LinkLost`
  naming the role and the instrument (its *IDN? reply, or model and resource before that);
  before calling it lost, one `:SYST:ERR?` probe (same timeout) asks whether the instrument is
  alive and refused the query with a SCPI error: then it is a `FrontEndError` with that error;
- a SCPI error in the error queue (`check_errors`) -> `FrontEndError` naming role, instrument,
  the error and the command that preceded it;
- a malformed reply -> `FrontEndError`.

A role whose link was lost stays lost: further queries fail at once (no second timeout).
`safe_shutdown()` still tries its writes (best effort), so a silent-but-connected instrument is
still switched off.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lambdarig.protocol.instrument_models import CatalogueEntry

from ..types import FrontEndError, LinkLost
from .identity import IdentityError, identity_problem, printable

LOGGER_PREFIX = "lambdarig.visa"
NO_ERROR_CODES = (0,)

# A validator takes (label for messages, value) and returns the value as it will be sent, or
# raises ValueError naming the label and what is allowed.
Validator = Callable[[str, Any], Any]


# --- validators -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Range:
    """A closed numeric range [lo, hi] (pymeasure's strict_range)."""

    lo: float
    hi: float
    unit: str = ""

    def text(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.lo:g} to {self.hi:g}{unit}"

    def __call__(self, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name}: {value!r} is not a finite number; allowed range {self.text()}")
        if not self.lo <= value <= self.hi:
            raise ValueError(f"{name}: {value:g} is outside the allowed range {self.text()}")
        return float(value)


@dataclass(frozen=True)
class Choice:
    """One of a discrete set (pymeasure's strict_discrete_set); numbers compare by value."""

    values: tuple[Any, ...]
    unit: str = ""

    def text(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return "one of " + ", ".join(f"{v:g}" if isinstance(v, float) else repr(v) for v in self.values) + unit

    def __call__(self, name: str, value: Any) -> Any:
        for allowed in self.values:
            if type(value) is bool or type(allowed) is bool:
                if value is allowed:
                    return allowed
            elif isinstance(allowed, float) and isinstance(value, (int, float)):
                if math.isclose(value, allowed, rel_tol=1e-9, abs_tol=0.0):
                    return allowed
            elif value == allowed:
                return allowed
        raise ValueError(f"{name}: {value!r} is not {self.text()}")


ON_OFF = Choice((True, False))


@dataclass(frozen=True)
class Param:
    """One settable instrument parameter: SCPI template (str.format with the value, and `ch` for
    the channel), validator, and an optional map from the validated value to what is sent.
    A validator of None: the range depends on the instance (a supply's channel), so the driver's
    `param_validator` gives it."""

    set_cmd: str
    validator: Validator | None
    doc: str = ""
    send: Callable[[Any], Any] | None = None   # e.g. True -> "ON"

    def command(self, value: Any, channel: int | None) -> str:
        sent = self.send(value) if self.send is not None else value
        return self.set_cmd.format(sent, ch=channel)


def smallest_range(ranges: tuple[float, ...], need: float) -> float:
    """The smallest instrument range that holds |need| (the largest when none does)."""
    for r in ranges:
        if abs(need) <= r * (1 + 1e-9):
            return r
    return ranges[-1]


# --- readings ---------------------------------------------------------------------------------

@dataclass(slots=True)
class SMUReading:
    voltage_v: float
    current_a: float
    compliance: bool


def parse_float(text: str) -> float:
    return float(text.strip().strip('"'))


def parse_error(reply: str) -> tuple[int, str]:
    """`-100,"Command error"` -> (-100, 'Command error')."""
    code_text, _, message = reply.strip().partition(",")
    try:
        code = int(float(code_text.strip().lstrip("+")))
    except OverflowError:  # "inf": not an error code either
        raise ValueError(f"{code_text!r} is not an error code") from None
    return code, printable(message.strip().strip('"'))


# --- the driver base ----------------------------------------------------------------------------

class Instrument:
    """Base of all drivers. Subclasses define MODEL, KIND, PARAMS and the SCPI of their surface."""

    MODEL = ""
    KIND = ""                      # "smu", "supply", "meter"
    DESCRIPTION = ""
    PARAMS: dict[str, Param] = {}
    CHANNELS: tuple[int, ...] = ()  # supplies: allowed channels; others: ()
    REFUSED_CHANNELS: dict[int, str] = {}   # channel -> why it cannot drive a heater
    RESETS = True                  # *RST in setup (a multi-channel supply is not reset: other channels)
    SHUTDOWN_STEPS = 4
    SHUTDOWN_STEP_DELAY_S = 0.005

    def __init_subclass__(cls, *, catalogue: CatalogueEntry | None = None, **kwargs: Any) -> None:
        """A model class names its catalogue entry (`class Keithley2400(SMU, catalogue=KEITHLEY_2400)`):
        its key and description, and what its role reads there (`_take_from_catalogue`), come from it."""
        super().__init_subclass__(**kwargs)
        if catalogue is not None:
            cls.MODEL = catalogue.key
            cls.DESCRIPTION = catalogue.description
            cls._take_from_catalogue(catalogue)

    @classmethod
    def _take_from_catalogue(cls, catalogue: CatalogueEntry) -> None:
        """The role's own facts from the model's catalogue entry (ranges, channels); none here."""

    def __init__(self, resource: Any, role: str, *, channel: int | None = None,
                 limits: dict[str, tuple[float, float, str]] | None = None, resource_name: str = ""):
        """`resource`: an open pyvisa resource (message based, terminations and timeout set).
        `limits`: station safety limits per parameter name -> (lo, hi, station field)."""
        self.resource = resource
        self.role = role
        self.resource_name = resource_name or str(getattr(resource, "resource_name", ""))
        self.log = logging.getLogger(f"{LOGGER_PREFIX}.{role}")
        if channel in self.REFUSED_CHANNELS:
            raise ValueError(f"{role} ({self.MODEL}): {self.REFUSED_CHANNELS[channel]}")
        if self.CHANNELS and channel not in self.CHANNELS:
            raise ValueError(f"{role}: channel {channel!r} is not one of {', '.join(map(str, self.CHANNELS))} "
                             f"({self.MODEL})")
        self.channel = channel
        self.limits: dict[str, tuple[float, float, str]] = dict(limits or {})
        self.idn = ""
        self.settings: dict[str, Any] = {}
        self.lost = False
        self.last_command = ""
        self.queries = 0
        self.writes = 0
        self.latencies: list[tuple[str, float]] | None = None   # a list: (query, round trip s) appended

    # -- identity --------------------------------------------------------------------------------

    @property
    def identity(self) -> str:
        """How messages name the instrument: the *IDN? reply once known."""
        return self.idn or self.MODEL

    def who(self) -> str:
        return f"{self.role} ({self.identity})"

    # -- validation --------------------------------------------------------------------------------

    def param_validator(self, name: str) -> Validator:
        validator = self.PARAMS[name].validator
        if validator is None:
            raise TypeError(f"{type(self).__name__}: parameter {name!r} has no validator; "
                            f"the driver must give one in param_validator")
        return validator

    def validate(self, name: str, value: Any) -> Any:
        """The value as it will be sent, or ValueError naming the role, model, parameter and range.
        Nothing is written."""
        if name not in self.PARAMS:
            raise ValueError(f"{self.role} ({self.MODEL}): no parameter {name!r}; known: {', '.join(self.PARAMS)}")
        label = f"{self.role} ({self.MODEL}) {name}"
        value = self.param_validator(name)(label, value)
        if name in self.limits:
            lo, hi, field = self.limits[name]
            if not lo <= value <= hi:
                unit = getattr(self.param_validator(name), "unit", "")
                unit = f" {unit}" if unit else ""
                raise ValueError(f"{label}: {value:g} is outside the station's limit {lo:g} to {hi:g}{unit} ({field})")
        return value

    def set(self, name: str, value: Any, check: bool = False) -> Any:
        """Validate, write, remember. `check`: query :SYST:ERR? afterwards (setup)."""
        value = self.validate(name, value)
        self.write(self.PARAMS[name].command(value, self.channel))
        self.settings[name] = value
        if check:
            self.check_errors()
        return value

    def command(self, command: str, check: bool = False, **record: Any) -> None:
        """Write a fixed command (no parameter); `record` goes into the settings in force;
        `check`: query :SYST:ERR? afterwards (setup)."""
        self.write(command)
        self.settings.update(record)
        if check:
            self.check_errors()

    # -- I/O ---------------------------------------------------------------------------------------

    def _lost(self, what: str, exc: BaseException | None) -> LinkLost:
        self.lost = True
        reason = f": {type(exc).__name__}: {exc}" if exc is not None else ""
        return LinkLost(f"{self.who()} at {self.resource_name}: {what}{reason}")

    def write(self, command: str, force: bool = False) -> None:
        """Send one command. `force`: try even after the link was called lost (safe shutdown: a
        silent instrument may still be listening)."""
        if self.lost and not force:
            raise LinkLost(f"{self.who()} at {self.resource_name}: link already lost; not sent: {command!r}")
        self.log.debug("WRITE %s", command)
        self.last_command = command
        try:
            self.resource.write(command)
        except Exception as exc:  # socket closed, broken pipe, VISA I/O error
            raise self._lost(f"cannot send {command!r}", exc) from exc
        self.writes += 1

    def _timeout_ms(self) -> float:
        try:
            return float(self.resource.timeout)
        except Exception:
            return math.nan

    def query(self, command: str, probe: bool = True) -> str:
        """Write a query and read its reply. A reply that does not come within the timeout: one
        `:SYST:ERR?` probe; a SCPI error there -> FrontEndError, silence -> LinkLost."""
        if self.lost:
            raise LinkLost(f"{self.who()} at {self.resource_name}: link already lost; not sent: {command!r}")
        self.last_command = command
        start = time.perf_counter()
        try:
            reply = self.resource.query(command)
        except Exception as exc:
            if not _is_timeout(exc):
                self.log.debug("QUERY %s -> %s: %s", command, type(exc).__name__, exc)
                raise self._lost(f"no reply to {command!r}", exc) from exc
            self.log.debug("QUERY %s -> timeout after %g ms", command, self._timeout_ms())
            if probe and command.strip().upper() not in (":SYST:ERR?", "SYST:ERR?"):
                error = self._probe_error()
                if error is not None:
                    code, message = error
                    raise FrontEndError(f"{self.who()}: SCPI error {code},\"{message}\" — no reply to "
                                        f"{command!r}") from None
            raise self._lost(f"no reply to {command!r} within {self._timeout_ms():g} ms", None) from None
        if self.latencies is not None:
            self.latencies.append((command, time.perf_counter() - start))
        self.log.debug("QUERY %s -> %s", command, reply.strip())
        self.queries += 1
        return reply.strip()

    def _probe_error(self) -> tuple[int, str] | None:
        """After a timeout: is the instrument there, with an error in its queue?"""
        try:
            reply = self.resource.query(":SYST:ERR?")
            self.log.debug("QUERY :SYST:ERR? -> %s (probe after a timeout)", reply.strip())
            code, message = parse_error(reply)
        except Exception:
            return None
        return (code, message) if code not in NO_ERROR_CODES else None

    def query_float(self, command: str) -> float:
        reply = self.query(command)
        try:
            return parse_float(reply)
        except ValueError:
            raise FrontEndError(f"{self.who()}: reply {reply!r} to {command!r} is not a number") from None

    def check_errors(self, after: str | None = None) -> None:
        """Pop the error queue (`:SYST:ERR?`); raise FrontEndError on the first real error."""
        after = after if after is not None else self.last_command
        reply = self.query(":SYST:ERR?")
        try:
            code, message = parse_error(reply)
        except ValueError:
            raise FrontEndError(f"{self.who()}: reply {reply!r} to ':SYST:ERR?' is not an error-queue entry") from None
        if code not in NO_ERROR_CODES:
            raise FrontEndError(f"{self.who()}: SCPI error {code},\"{message}\" after {after!r}")

    # -- lifecycle ---------------------------------------------------------------------------------

    def identify(self) -> str:
        """Ask *IDN? (the first thing ever sent) and check the reply is this driver's model;
        IdentityError otherwise, and LinkLost when nothing answers: either way nothing else was
        sent. The identity kept (and printed) is the reply without control characters."""
        try:
            reply = self.query("*IDN?", probe=False)
        except LinkLost as exc:
            self.lost = True
            raise LinkLost(f"{self.role} ({self.MODEL}) at {self.resource_name}: no answer to *IDN? "
                           f"within {self._timeout_ms():g} ms: not an instrument, or not listening there; "
                           f"nothing else was sent to it") from exc
        idn = printable(reply)
        problem = identity_problem(self.MODEL, idn)
        if problem is not None:
            raise IdentityError(f"{self.role} at {self.resource_name}: {problem}; refused: nothing but *IDN? "
                                f"was sent to it")
        self.idn = idn
        return self.idn

    def reset(self) -> None:
        """*RST (models that allow it) and *CLS, then an error-queue check."""
        if self.RESETS:
            self.write("*RST")
        self.write("*CLS")
        self.check_errors()

    # setup(...) is per role, with the role's own keywords: see SMU, Supply and Meter.

    def safe_shutdown(self) -> None:  # pragma: no cover - per model
        raise NotImplementedError

    def _ramp_to_zero(self, name: str) -> list[BaseException]:
        """Step `name` from its value in force to 0 (SHUTDOWN_STEPS writes), best effort."""
        errors: list[BaseException] = []
        start = self.settings.get(name, 0.0) or 0.0
        steps = self.SHUTDOWN_STEPS if start else 1
        for k in range(steps - 1, -1, -1):
            value = start * k / steps
            try:
                self.write(self.PARAMS[name].command(value, self.channel), force=True)
                self.settings[name] = value
            except Exception as exc:
                errors.append(exc)
                break
            if k and self.SHUTDOWN_STEP_DELAY_S:
                time.sleep(self.SHUTDOWN_STEP_DELAY_S)
        return errors

    def _ramp_down_and_switch_off(self, level: str) -> None:
        """Ramp `level` to 0 in a few steps, then the output off. Tries every step; raises
        FrontEndError afterwards when one failed."""
        errors = self._ramp_to_zero(level)
        try:
            self.write(self.PARAMS["output"].command(False, self.channel), force=True)
            self.settings["output"] = False
        except Exception as exc:
            errors.append(exc)
        self._finish_shutdown(errors)

    def confirm(self) -> bool:
        """*OPC? -> 1: the instrument has worked through everything sent before (a sync point)."""
        try:
            return self.query("*OPC?", probe=False).strip() in ("1", "+1")
        except Exception:
            return False

    def _finish_shutdown(self, errors: list[BaseException]) -> None:
        if errors:
            raise FrontEndError(f"safe shutdown incomplete: {errors[0]}")

    def snapshot(self) -> dict[str, Any]:
        """Model, identity, resource, channel and the settings in force (as last set)."""
        snap: dict[str, Any] = {"role": self.role, "model": self.MODEL, "idn": self.idn, "resource": self.resource_name}
        if self.channel is not None:
            snap["channel"] = self.channel
        snap["settings"] = dict(self.settings)
        return snap

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.role!r}, {self.resource_name!r})"


def _is_timeout(exc: BaseException) -> bool:
    try:
        import pyvisa
        from pyvisa import constants
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, pyvisa.errors.VisaIOError) and exc.error_code == constants.StatusCode.error_timeout
