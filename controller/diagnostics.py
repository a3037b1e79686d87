"""Diagnostics: what can go wrong, how it is detected, and how it recovers.

Each code has a number, a text, a severity (a fault makes the outputs safe; a warning is reported
and flags the readings) and a recovery rule. A fault condition must gather `persist_s` of evidence
before it counts, on an up/down counter (Persist), so a single noisy sample never raises anything
and a line that chatters still does. Recoverable faults are retried after
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
    Code("overheat", 25, "cell far above target with the heater off: the exhaust is overheating the sensor",
         "warning", "clears when the cell cools below target + overheat_margin_c; the heater stays off meanwhile"),
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
    Code("signal_invalid", 60, "measurements not valid: the supply or Nernst reading is not a number", "fault",
         "retried after retry_s; latches after max_retries"),
    Code("heater_not_allowed", 70, "the ECU withdrew the heater allow, or its CAN status frames stopped", "warning",
         "the heater holds the condensation voltage; warm-up starts again when the ECU allows it"),
    Code("can_lost", 71, "the CAN interface stopped taking frames", "warning",
         "the run goes on without CAN output; with heater_allow = can the allow times out (condensation)"),
)}


class Persist:
    """True once a condition has gathered `hold_s` of evidence: a leaky up/down counter, not a timer.

    While the condition holds the count rises at `rise_per_s` (seconds of evidence per second);
    while it is absent it drains at `fall_per_s`. A timer that restarts on every clear never sees a
    line that makes and breaks contact faster than hold_s (a heater short chattering 0.1 s on /
    0.1 s off drove into the short for 30 s); with the count draining slower than it rises, chatter
    adds up, and a lone noisy sample still drains away. With rise 1 and fall 0 this is the old timer
    without the restart; the time between updates counts at most `max_step_s`, so a check that was
    not evaluated for a while (another state) does not trip on its first look.
    """

    __slots__ = ("hold_s", "rise_per_s", "fall_per_s", "max_step_s", "count_s", "last_t_s", "was_present")

    def __init__(self, hold_s: float, rise_per_s: float = 1.0, fall_per_s: float = 1e9,
                 max_step_s: float = float("inf")):
        self.hold_s = hold_s
        self.rise_per_s = rise_per_s
        self.fall_per_s = fall_per_s
        self.max_step_s = max_step_s
        self.count_s = 0.0
        self.last_t_s: float | None = None
        self.was_present = False

    def update(self, condition: bool, t_s: float) -> bool:
        last = self.last_t_s
        self.last_t_s = t_s
        dt = 0.0 if last is None else min(max(t_s - last, 0.0), self.max_step_s)
        if condition:
            # From an empty count the first look counts nothing (a condition seen once has lasted
            # 0 s, as with a timer); while evidence remains, an episode goes on and every interval
            # that ends on the condition counts.
            if self.count_s > 0.0 or self.was_present:
                self.count_s += self.rise_per_s * dt
            self.was_present = True
            return self.count_s >= self.hold_s
        self.was_present = False
        count = self.count_s - self.fall_per_s * dt
        self.count_s = count if count > 0.0 else 0.0
        return False

    def reset(self) -> None:
        self.count_s = 0.0
        self.last_t_s = None
        self.was_present = False
