"""Diagnostics: what can go wrong, how it is detected, and how it recovers.

Each code has a number, a text, a severity (a fault makes the outputs safe; a warning is reported
and flags the readings) and a recovery rule. Conditions must persist for `persist_s` before they
count, so a single noisy sample never raises anything. Recoverable faults are retried after
`retry_s`; a fault that keeps coming back latches after its retry limit (a heater short, dangerous to
retry, allows one retry), and only a stop/start clears a latched fault.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    name: str
    number: int
    text: str
    severity: str        # "fault" | "warning"
    recovery: str
    retry_limit: int | None = None   # None: the settings' max_retries


CODES: dict[str, Code] = {c.name: c for c in (
    Code("supply_out_of_range", 10, "supply voltage outside the heating window", "fault",
         "heating resumes by itself once the supply is back in range and stable", retry_limit=1_000_000),
    Code("heater_open", 20, "heater circuit open: no current while driven", "fault",
         "retried after retry_s; latches after max_retries"),
    Code("heater_short", 21, "heater short: terminal resistance far below the heater's", "fault",
         "one retry after retry_s, then latched (retrying a short is dangerous)", retry_limit=1),
    Code("did_not_heat", 22, "sensor did not reach closed loop within heat_timeout_s", "fault",
         "retried after retry_s; latches after max_retries"),
    Code("overtemp", 23, "cell temperature above target + overtemp_margin_c", "fault",
         "heater off; retried once the cell is back below target"),
    Code("undertemp", 24, "cell temperature below target - undertemp_margin_c in closed loop", "warning",
         "pump loop stops and the heater ramps back up by the warm-up rules"),
    Code("pump_open", 30, "pump line open: measured current does not follow the command", "fault",
         "retried after retry_s; latches after max_retries"),
    Code("pump_saturated", 31, "pump current at its limit", "warning",
         "clears when the current leaves the limit; readings flagged rich/lean saturated, not blanked"),
    Code("nernst_open", 40, "Nernst line open: reading at the bias rail or ESR far too high", "fault",
         "retried after retry_s; latches after max_retries"),
    Code("nernst_out_of_range", 41, "Nernst voltage far from target in closed loop", "warning",
         "clears when the loop holds the target again"),
    Code("link_loss", 50, "front end stopped answering", "fault",
         "the runtime reconnects when the front end can do so"),
)}


class Persist:
    """True once a condition has held for `hold_s`."""

    __slots__ = ("hold_s", "since_s")

    def __init__(self, hold_s: float):
        self.hold_s = hold_s
        self.since_s: float | None = None

    def update(self, condition: bool, t_s: float) -> bool:
        if not condition:
            self.since_s = None
            return False
        if self.since_s is None:
            self.since_s = t_s
        return t_s - self.since_s >= self.hold_s

    def reset(self) -> None:
        self.since_s = None
