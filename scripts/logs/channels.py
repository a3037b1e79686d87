"""The one channel table every log writer uses (CSV, MDF4, MegaLogViewer .msl), so all formats carry
the same channels with the same names, units and comments.

A channel is read from the controller's `Status` (source "status"), from the emulator's `Truth`
(source "truth", simulation only) or computed from other status values at flush time (source
"derived"). To add a channel (e.g. an analog-output voltage on Status), add one row to CHANNELS;
every writer picks it up.

Per telemetry tick a `RowTaker` keeps only the raw attribute tuples (one `operator.attrgetter` call
each, no formatting): the sinks run inside the 500 Hz control loop. Columns are built per chunk
(`columns()`), where the derived channels and the time offset are computed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from lambdarig.controller.profiles import TEMP_FLOOR_C
from lambdarig.controller.readings import shown_afr, shown_lambda, shown_temp_c

NAN = math.nan


@dataclass(frozen=True)
class Channel:
    name: str      # CSV column, MDF4 channel and .msl field name; the unit is in the name where it has one
    unit: str      # ASCII unit ("" for dimensionless); MDF4 and .msl carry it, the CSV name says it
    comment: str   # what it is, for the MDF4 channel comment and docs/simulate.md
    source: str    # "status", "truth" or "derived"
    attr: str      # the Status/Truth attribute, or the derived channel's key in DERIVED
    fmt: str       # text form: "t" 4 decimals, "l" 5 decimals, "g" 6 significant, "i" integer, "s" text
    only: str = ""  # "" every run; "hc": mixed-potential HC elements only


CHANNELS: tuple[Channel, ...] = (
    Channel("t_s", "s", "time since the start of the run", "status", "t_s", "t"),
    Channel("state", "", "controller state", "status", "state", "s"),
    Channel("lambda", "", "lambda as the firmware reports it (NaN while the pump loop is off)", "status",
            "lambda_value", "l"),
    Channel("lambda_valid", "", "1 when the firmware says lambda is valid, else 0", "status", "lambda_valid", "i"),
    Channel("o2_pct", "%", "free O2", "status", "o2_pct", "g"),
    Channel("afr", "", "air-fuel ratio (mass) for the settings' fuel (inf in free air, as lambda)", "status", "afr",
            "g"),
    Channel("nernst_v", "V", "Nernst-cell voltage", "status", "nernst_v", "g"),
    Channel("pump_current_a", "A", "measured pump current (positive: lean)", "status", "pump_current_a", "g"),
    Channel("ri_ohm", "ohm", "Nernst-cell ESR (filtered)", "status", "ri_ohm", "g"),
    Channel("temp_c", "degC", "cell temperature as the firmware estimates it (NaN below its ESR table: cold)",
            "status", "temp_c", "g"),
    Channel("heater_v", "V", "effective heater voltage commanded", "status", "heater_v", "g"),
    Channel("heater_duty", "", "heater PWM duty, 0..1", "status", "heater_duty", "g"),
    Channel("supply_v", "V", "supply voltage", "status", "supply_v", "g"),
    Channel("fault", "", "active fault or warning code, empty when none", "status", "fault", "s"),
    Channel("pump_saturation", "", "pump current at its limit: -1 rich limit, +1 lean limit, 0 none", "status",
            "saturation", "i"),
    Channel("heater_saturated", "", "1 when the heater is at its limit: duty 1 (the supply gives no more) or "
            "the effective voltage at the continuous cap heater.continuous_max_v", "derived", "heater_saturated", "i"),
    Channel("analog_out1_v", "V", "analog output 1 as the firmware sets it (settings [analog])", "status",
            "analog_out1_v", "g"),
    Channel("analog_out2_v", "V", "analog output 2 as the firmware sets it (settings [analog])", "status",
            "analog_out2_v", "g"),
    Channel("hc_ppm", "ppm", "HC reading (mixed-potential elements)", "status", "hc_ppm", "g", only="hc"),
    Channel("true_lambda", "", "simulation: the exhaust's true lambda (inf in free air)", "truth", "lambda_value", "l"),
    Channel("true_o2_pct", "%", "simulation: true free O2", "truth", "o2_pct", "g"),
    Channel("true_temp_c", "degC", "simulation: true cell (electrolyte) temperature", "truth", "temp_c", "g"),
    Channel("true_hc_ppm", "ppm", "simulation: true HC (mixed-potential elements)", "truth", "hc_ppm", "g", only="hc"),
)

# Derived channels: key -> (the status attributes it needs, a function of those columns and the
# run's limits). Computed per chunk, never per tick.
DERIVED: dict[str, tuple[tuple[str, ...], Callable[..., list[int]]]] = {
    "heater_saturated": (("heater_duty", "heater_v"),
                         lambda duty, volts, limits: [1 if d >= 1.0 or v >= limits["heater_max_v"] else 0
                                                      for d, v in zip(duty, volts)]),
}


# Status channels shown with another status value: the AFR is infinite where lambda is (free air).
SHOWN_NEEDS: dict[str, list[str]] = {"afr": ["lambda_value"]}


def channels_for(with_truth: bool, with_hc: bool) -> tuple[Channel, ...]:
    """The channels of one run: truth channels only in simulation, HC channels only for HC elements."""
    return tuple(c for c in CHANNELS
                 if (with_truth or c.source != "truth") and (with_hc or c.only != "hc"))


def prefixed(channels: Sequence[Channel], prefix: str) -> tuple[Channel, ...]:
    """The same channels named `prefix + name` (two sensors in one log: ch0_lambda, ch1_lambda); time stays t_s."""
    return tuple(c if c.name == "t_s" else Channel(prefix + c.name, c.unit, c.comment, c.source, c.attr, c.fmt,
                                                      c.only) for c in channels)


class RowTaker:
    """Keeps the raw values of each tick; `columns()` turns what was kept into one list per channel
    (in the channels' order) and forgets it."""

    def __init__(self, channels: Sequence[Channel], t0_s: float = 0.0, limits: dict[str, float] | None = None):
        self.channels = tuple(channels)
        self.t0_s = t0_s
        # heater_max_v: the heater's continuous cap; temp_floor_c: the coldest point of the profile's
        # ESR table (readings.table_floor_c), below which the estimate is shown as cold.
        self.limits = {"heater_max_v": math.inf, "temp_floor_c": TEMP_FLOOR_C, **(limits or {})}
        status_attrs: list[str] = []
        for c in self.channels:
            needs = ([c.attr] + SHOWN_NEEDS.get(c.attr, []) if c.source == "status" else
                     list(DERIVED[c.attr][0]) if c.source == "derived" else [])
            status_attrs += [a for a in needs if a not in status_attrs]
        self.truth_attrs = [c.attr for c in self.channels if c.source == "truth"]
        self.status_attrs = status_attrs
        # attrgetter of 2+ names returns a tuple; of one name, the value: always ask for 2+.
        self._get_status = attrgetter(*status_attrs, status_attrs[0])
        self._get_truth = attrgetter(*self.truth_attrs, self.truth_attrs[0]) if self.truth_attrs else None
        self._no_truth = (NAN,) * (len(self.truth_attrs) + 1)
        self.status_rows: list[tuple[Any, ...]] = []
        self.truth_rows: list[tuple[Any, ...]] = []

    def take(self, status: Any, truth: Any) -> int:
        """Keep one tick; returns how many ticks are kept."""
        self.status_rows.append(self._get_status(status))
        if self._get_truth is not None:
            self.truth_rows.append(self._no_truth if truth is None else self._get_truth(truth))
        return len(self.status_rows)

    def __len__(self) -> int:
        return len(self.status_rows)

    def complete_rows(self) -> int:
        """Ticks kept whole: a stop signal (Ctrl-C, SIGTERM) raised between the appends of one tick
        leaves one list a tick longer than the other."""
        return min(len(self.status_rows), len(self.truth_rows)) if self._get_truth is not None else len(
            self.status_rows)

    def trim(self, n: int) -> None:
        """Forget the ticks after the first n (a tick an interruption left half kept)."""
        del self.status_rows[n:]
        del self.truth_rows[n:]

    def columns(self) -> list[list[Any]]:
        """One list per channel of what was kept since the last call."""
        self.trim(self.complete_rows())
        rows, truth_rows = self.status_rows, self.truth_rows
        self.status_rows, self.truth_rows = [], []
        if not rows:
            return [[] for _ in self.channels]
        by_status = dict(zip(self.status_attrs, (list(col) for col in zip(*rows))))
        by_truth = dict(zip(self.truth_attrs, (list(col) for col in zip(*truth_rows)))) if truth_rows else {}
        out: list[list[Any]] = []
        for c in self.channels:
            if c.source == "status":
                col = by_status[c.attr]
                if c.attr == "t_s" and self.t0_s:
                    t0 = self.t0_s
                    col = [t - t0 for t in col]
                elif c.attr == "lambda_valid":
                    col = [1 if v else 0 for v in col]
                elif c.attr == "temp_c":       # below the ESR table it is "cold", not -38 or -40 °C
                    floor_c = self.limits["temp_floor_c"]
                    col = [shown_temp_c(v, floor_c) for v in col]
                elif c.attr == "lambda_value":  # the lean ceiling is free air, not lambda 50
                    col = [shown_lambda(v) for v in col]
                elif c.attr == "afr":           # and so is the AFR there (not 728)
                    col = [shown_afr(a, lam) for a, lam in zip(col, by_status["lambda_value"])]
            elif c.source == "truth":
                col = by_truth[c.attr]
            else:
                needs, derive = DERIVED[c.attr]
                col = derive(*(by_status[a] for a in needs), self.limits)
            out.append(col)
        return out


class ChannelsTaker:
    """Several sensors in one log: one RowTaker per channel (the first with t_s), called with every
    channel's status and truth at once; the columns are the channels' side by side."""

    def __init__(self, takers: Sequence[RowTaker]):
        self.takers = list(takers)
        self.channels = tuple(c for t in self.takers for c in t.channels)

    def take(self, statuses: Sequence[Any], truths: Sequence[Any]) -> int:
        for taker, status, truth in zip(self.takers, statuses, truths):
            taker.take(status, truth)
        return len(self.takers[0])

    def __len__(self) -> int:
        return len(self.takers[0])

    def columns(self) -> list[list[Any]]:
        # Every channel as many rows as the shortest: an interruption between two channels' takes
        # must not leave the columns out of step.
        n = min(taker.complete_rows() for taker in self.takers)
        for taker in self.takers:
            taker.trim(n)
        return [col for taker in self.takers for col in taker.columns()]


def channel_prefix(index: int) -> str:
    """The log's column prefix of sensor `index` in a run of several: ch0_, ch1_, ..."""
    return f"ch{index}_"


def channels_taker(per_channel: Sequence[Sequence[Channel]], t0s: Sequence[float],
                   limits: Sequence[dict[str, float]]) -> ChannelsTaker:
    """The taker of a run of several sensors: t_s once (channel 0's clock), then each channel's
    channels prefixed ch0_, ch1_, ..."""
    takers = []
    for i, (channels, t0_s, lim) in enumerate(zip(per_channel, t0s, limits)):
        mine = prefixed([c for c in channels if c.name != "t_s"], channel_prefix(i))
        if i == 0:
            mine = tuple(c for c in channels if c.name == "t_s") + mine
        takers.append(RowTaker(mine, t0_s, lim))
    return ChannelsTaker(takers)
