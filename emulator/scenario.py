"""Scenarios: TOML files that script the world over time (lambda, pressure, gas, flow, supply, HC, faults).

The format is documented in docs/scenarios.md. Loading validates the whole file before building
anything and raises EmulatorInputError naming the file and the exact field, so a bad file never
half-loads. Evaluation (`world_at`, `faults_at`) runs in the simulation's inner loop: plain floats,
precomputed segments, and a cached segment index because time nearly always moves forward.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from lambdarig.common import validators as check
from lambdarig.common.errors import InputError, nearest
from lambdarig.common.tables import TableReader
from lambdarig.common.toml_file import parse_toml_text, read_toml_file
from lambdarig.common.validators import Place

from .errors import EmulatorInputError
from .exhaust import exhaust
from .fuels import H_C_RANGE, NAMED_FUELS, O_C_RANGE, Fuel, custom_fuel, parse_fuel
from .humidity import water_in_air
from .world import FAULT_KINDS, NO_FAULTS, Faults, World

AIR = math.inf
MAX_DURATION_S = 86400.0
SCENARIO_PACKAGE = "lambdarig.emulator.scenarios"

# Scripted channels in World's positional order (ambient_c follows them): TOML key, range, unit.
CHANNELS: tuple[tuple[str, float, float, str], ...] = (
    ("lambda", 0.4, 100.0, ""),
    ("pressure_kpa", 20.0, 400.0, "kPa"),
    ("gas_temp_c", -40.0, 1100.0, "°C"),
    ("flow_mps", 0.0, 100.0, "m/s"),
    ("supply_v", 0.0, 32.0, "V"),
    ("hc_ppm", 0.0, 20000.0, "ppm"),
)
CHANNEL_KEYS = tuple(key for key, *_ in CHANNELS)
LAMBDA, SUPPLY = 0, 4

DEFAULT_INITIAL = {"lambda": 1.0, "pressure_kpa": 101.325, "flow_mps": 0.0, "hc_ppm": 0.0}
AMBIENT_RANGE_C = (-40.0, 60.0)
HUMIDITY_RANGE_PCT = (0.0, 100.0)
# Raw exhaust: engine-out CO at lambda 1 is of order 0.5-1 % on gasoline engines (Heywood, Internal Combustion
# Engine Fundamentals, 1988, ch. 11; order of magnitude, quoted from memory: assumption): 3 % bounds it.
RAW_CO_RANGE_PCT = (0.0, 3.0)
SUPPLY_DROP_DEFAULT_V = 6.0

TOP_KEYS = ("name", "description", "duration_s", "fuel", "ambient_c", "humidity_pct", "raw_co_pct", "supply_v",
            "seed",
            "lambda", "pressure_kpa", "gas_temp_c", "flow_mps", "hc_ppm", "at", "fault")
AT_KEYS = ("t_s", *CHANNEL_KEYS, "ramp_s")
FAULT_KEYS = ("t_s", "kind", "clear_s", "value_v", "chatter_on_s", "chatter_off_s")
# A chattering fault (an intermittent contact) is scripted as on/off windows; these bound how many
# one scenario may hold and how short a half-period may be (below a pump tick nothing can see it).
MAX_FAULT_WINDOWS = 20000
CHATTER_MIN_S = 0.001
FUEL_KEYS = ("h_c", "o_c")


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """One injected fault: active for on_s <= t < off_s (off_s is inf when it never clears)."""

    kind: str
    on_s: float
    off_s: float
    value_v: float = SUPPLY_DROP_DEFAULT_V


# ---------------------------------------------------------------------------------------------
# Checks the common validators have no word for: lambda may be "air"; a fuel is a name or a table.


def _channel(at: Place, index: int, value: Any) -> float:
    _, lo, hi, unit = CHANNELS[index]
    if index == LAMBDA:
        if isinstance(value, str) and value.strip().lower() == "air":
            return AIR
        return check.number(value, at, lo, hi, unit, also=' or "air" (free air)')
    return check.number(value, at, lo, hi, unit)


def _fuel(at: Place, value: Any) -> Fuel:
    if isinstance(value, str):
        try:
            return parse_fuel(value, at.source)
        except EmulatorInputError as exc:
            # fuels.py names its fields bare (h_c); here they live under the `fuel` key.
            raise exc.replace(field=exc.field if exc.field.startswith("fuel") else f"fuel.{exc.field}") from None
    if isinstance(value, dict):
        table = TableReader(value, at.source, at.field, error=EmulatorInputError, keys=FUEL_KEYS)
        h_c = table.number("h_c", *H_C_RANGE, also=" (H/C atom ratio of a custom fuel)")
        o_c = table.number("o_c", *O_C_RANGE, default=0.0)
        try:
            return custom_fuel(h_c, o_c, at.source)
        except EmulatorInputError as exc:
            raise exc.replace(field=f"fuel.{exc.field}") from None
    raise at.refuse(f"{check.show(value)} is not a fuel",
                    allowed=f"a fuel name ({', '.join(NAMED_FUELS)}) or a table {{h_c = ..., o_c = ...}}")


# ---------------------------------------------------------------------------------------------
# One channel's course while loading: knots (t, value), linear between them; equal times make a step.


class _Track:
    __slots__ = ("initial", "times", "values")

    def __init__(self, initial: float):
        self.initial = initial
        self.times: list[float] = []
        self.values: list[float] = []

    def value_at(self, t_s: float) -> float:
        """Right-continuous: at a step's time, the value after the step."""
        j = bisect_right(self.times, t_s) - 1
        if j < 0:
            return self.initial
        if j == len(self.times) - 1:
            return self.values[j]
        v0, v1 = self.values[j], self.values[j + 1]
        if v0 == v1:  # also keeps "air" (inf) out of the arithmetic
            return v0
        t0, t1 = self.times[j], self.times[j + 1]  # t1 > t_s >= t0, so no division by zero
        return v0 + (v1 - v0) * (t_s - t0) / (t1 - t0)

    def set(self, t_s: float, target: float, ramp_s: float) -> bool:
        """Head for target from t_s; returns whether this changes the course."""
        now = self.value_at(t_s)
        # A ramp still running at t_s is cut short: the new change starts from where it got to.
        cut = bisect_right(self.times, t_s)
        was_moving = cut < len(self.times)
        del self.times[cut:], self.values[cut:]
        self.times += [t_s, t_s + ramp_s]
        self.values += [now, target]
        return was_moving or target != now


# ---------------------------------------------------------------------------------------------


class Scenario:
    """A validated scenario, evaluated at any time. Build with load_scenario or scenario_from_dict."""

    def __init__(self, *, name: str, description: str, duration_s: float, fuel: Fuel, ambient_c: float,
                 seed: int, source: str, tracks: list[_Track], faults: list[FaultWindow],
                 change_times: list[float], humidity_pct: float = 0.0):
        self.name = name
        self.description = description
        self.duration_s = duration_s
        self.fuel = fuel
        self.ambient_c = ambient_c
        self.humidity_pct = humidity_pct
        self.air_h2o = air_h2o = water_in_air(humidity_pct, ambient_c)  # water mole fraction of the air
        self.seed = seed
        self.source = source
        self.fault_windows: tuple[FaultWindow, ...] = tuple(faults)
        self._initial = tuple(track.initial for track in tracks)
        self._change_times = change_times

        # Merge the channels into one list of segments [t_k, t_k+1), each linear in every channel,
        # so world_at is one lookup plus six multiply-adds.
        breaks = sorted({0.0, *(t for track in tracks for t in track.times)})
        self._seg_t = breaks
        self._seg_v: list[tuple[float, ...]] = []
        self._seg_slope: list[tuple[float, ...] | None] = []  # None: constant segment
        for k, t0 in enumerate(breaks):
            start = tuple(track.value_at(t0) for track in tracks)
            slopes = None
            if k + 1 < len(breaks):
                mid_s = 0.5 * (t0 + breaks[k + 1])
                slope = tuple(
                    0.0 if v0 == vm or math.isinf(v0) or math.isinf(vm) else (vm - v0) / (mid_s - t0)
                    for v0, vm in zip(start, (track.value_at(mid_s) for track in tracks))
                )
                if any(slope):
                    slopes = slope
            self._seg_v.append(start)
            self._seg_slope.append(slopes)
        # Constant segments share one World object each (world_at returns it; callers must not
        # mutate a World they are given). None for a ramp: world_at builds a new World there.
        self._seg_world = [_world(v, ambient_c, air_h2o) if slope is None else None
                           for v, slope in zip(self._seg_v, self._seg_slope)]
        self._world_before = _world(self._initial, ambient_c, air_h2o)  # t < 0
        self._seg_last = 0
        # The segment world_at used last: [t0, t1), its start values, slopes and World (hot path).
        self._set_current_segment(0)

        # Fault states between fault edges, shared objects so faults_at allocates nothing.
        edges = sorted({w.on_s for w in faults} | {w.off_s for w in faults if w.off_s != math.inf})
        self._fault_t = edges
        self._fault_state = self._fault_states(faults, edges)
        self._fault_last = 0
        # The fault span faults_at used last: [t0, t1) and its Faults (hot path).
        self._set_current_fault_span(-1)

    @staticmethod
    def _fault_states(windows: list[FaultWindow], edges: list[float]) -> list[Faults]:
        """The Faults in force from each edge to the next: one sweep over the windows sorted by
        start (a chattering fault brings thousands of windows; this stays linear in them)."""
        by_start = sorted(windows, key=lambda w: w.on_s)
        active: list[FaultWindow] = []
        states: list[Faults] = []
        k = 0
        for t_s in edges:
            while k < len(by_start) and by_start[k].on_s <= t_s:
                active.append(by_start[k])
                k += 1
            active = [w for w in active if t_s < w.off_s]
            states.append(_faults_of(active))
        return states

    def __repr__(self) -> str:
        return f"Scenario({self.name!r}, duration_s={self.duration_s:g}, source={self.source!r})"

    # -- evaluation (hot path) -----------------------------------------------------------------

    def _segment(self, t_s: float) -> int:
        times = self._seg_t
        i = self._seg_last
        n = len(times)
        if times[i] <= t_s:
            if i + 1 == n or t_s < times[i + 1]:
                return i
            if i + 2 == n or t_s < times[i + 2]:
                self._seg_last = i + 1
                return i + 1
        if t_s != t_s:
            raise ValueError("scenario time is NaN")
        i = bisect_right(times, t_s) - 1
        self._seg_last = i
        return i

    def _set_current_segment(self, i: int) -> None:
        times = self._seg_t
        self._cur_t0 = times[i]
        self._cur_t1 = times[i + 1] if i + 1 < len(times) else math.inf
        self._cur_v = self._seg_v[i]
        self._cur_slope: tuple[float, ...] = self._seg_slope[i] or ()  # () only where a World is cached
        self._cur_world = self._seg_world[i]

    def world_at(self, t_s: float) -> World:
        """The scripted world at t_s: initial values before 0, last values held after duration_s.

        supply_v here is the scripted supply; supply_v_at also applies a supply_drop fault.
        Within a constant stretch of the script this is the same World object each time: callers
        must treat it as read-only.
        """
        if not self._cur_t0 <= t_s < self._cur_t1:  # left the segment of the last call (or NaN)
            if t_s < 0.0:
                return self._world_before
            self._set_current_segment(self._segment(t_s))
        world = self._cur_world
        if world is not None:
            return world
        v = self._cur_v
        s = self._cur_slope
        dt = t_s - self._cur_t0
        return World(v[0] + s[0] * dt, v[1] + s[1] * dt, v[2] + s[2] * dt,
                     v[3] + s[3] * dt, v[4] + s[4] * dt, v[5] + s[5] * dt, self.ambient_c, self.air_h2o)

    def _set_current_fault_span(self, i: int) -> None:
        """Span i: from fault edge i to the next (i = -1: before the first edge)."""
        times = self._fault_t
        self._fault_cur_t0 = times[i] if i >= 0 else -math.inf
        self._fault_cur_t1 = times[i + 1] if i + 1 < len(times) else math.inf
        self._fault_cur = self._fault_state[i] if i >= 0 else NO_FAULTS

    def faults_at(self, t_s: float) -> Faults:
        """Faults active at t_s; the shared NO_FAULTS object when there are none."""
        if self._fault_cur_t0 <= t_s < self._fault_cur_t1:
            return self._fault_cur
        times = self._fault_t
        if not times or t_s < times[0]:
            self._set_current_fault_span(-1)
            return NO_FAULTS
        i = self._fault_last
        if not (times[i] <= t_s and (i + 1 == len(times) or t_s < times[i + 1])):
            i = bisect_right(times, t_s) - 1
            self._fault_last = i
        self._set_current_fault_span(i)
        return self._fault_state[i]

    def supply_v_at(self, t_s: float) -> float:
        """Supply voltage including an active supply_drop fault (which can only lower it)."""
        scripted_v = self.world_at(t_s).supply_v
        faults = self.faults_at(t_s)
        if faults.supply_drop:
            return min(scripted_v, faults.supply_drop_v)
        return scripted_v

    # -- summaries -----------------------------------------------------------------------------

    def change_times(self) -> list[float]:
        """Sorted times where a scripted value starts to change, or a fault starts or clears."""
        return list(self._change_times)

    def max_gas_temp_c(self) -> float:
        """The hottest exhaust the scenario reaches (values are linear between breakpoints)."""
        return max(values[2] for values in (self._initial, *self._seg_v))

    def lambda_steps(self) -> list[tuple[float, float]]:
        """(t_s, lambda) for each plateau: the value at t = 0, then where lambda settles after each change."""
        steps: list[tuple[float, float]] = []
        for t0, v, s in zip(self._seg_t, self._seg_v, self._seg_slope):
            if (s is None or s[LAMBDA] == 0.0) and (not steps or steps[-1][1] != v[LAMBDA]):
                steps.append((t0, v[LAMBDA]))
        return steps


# ---------------------------------------------------------------------------------------------
# Loading


def _faults_of(active: list[FaultWindow]) -> Faults:
    if not active:
        return NO_FAULTS
    drops = [w.value_v for w in active if w.kind == "supply_drop"]
    flags = {w.kind: True for w in active}
    return Faults(**flags, supply_drop_v=min(drops) if drops else SUPPLY_DROP_DEFAULT_V)


def _chatter_windows(entry: TableReader, kind: str, on_s: float, off_s: float, end_s: float,
                     value_v: float) -> list[FaultWindow]:
    """A fault that chatters: on for chatter_on_s, off for chatter_off_s, from t_s until clear_s
    (or the end of the scenario)."""
    chatter_on_s = entry.number("chatter_on_s", CHATTER_MIN_S, end_s - on_s, unit="s",
                                also=" (how long each contact lasts)")
    chatter_off_s = entry.number("chatter_off_s", CHATTER_MIN_S, end_s - on_s, unit="s",
                                 default=chatter_on_s, also=" (the gap between contacts; default chatter_on_s)")
    stop_s = min(off_s, end_s)
    count = math.ceil((stop_s - on_s) / (chatter_on_s + chatter_off_s))
    if count > MAX_FAULT_WINDOWS:
        raise entry.at("chatter_on_s").refuse(
            f"{count} contacts from {on_s:g} to {stop_s:g} s are more than a scenario may hold",
            allowed=f"at most {MAX_FAULT_WINDOWS} contacts per fault: longer chatter_on_s/chatter_off_s "
                    "or a shorter span")
    windows = []
    for i in range(count):
        start_s = on_s + i * (chatter_on_s + chatter_off_s)
        windows.append(FaultWindow(kind, start_s, min(start_s + chatter_on_s, off_s), value_v))
    return windows


def _world(values: tuple[float, ...], ambient_c: float, air_h2o: float = 0.0) -> World:
    """A World from channel values in CHANNEL_KEYS order."""
    return World(values[0], values[1], values[2], values[3], values[4], values[5], ambient_c, air_h2o)


def scenario_from_dict(data: dict, source: str) -> Scenario:
    """Validate a parsed scenario table (the TOML document) and build the Scenario."""
    top = TableReader(data, source, error=EmulatorInputError, keys=TOP_KEYS)
    duration_s = top.number("duration_s", 0.0, MAX_DURATION_S, unit="s", lo_open=True,
                            also=" (the scenario's length)")

    default_name = source.removeprefix("scenario ") if source.startswith("scenario ") else Path(source).stem
    name = top.text("name", default=default_name)
    description = top.text("description", default="")
    fuel = _fuel(top.at("fuel"), top.value("fuel", "gasoline"))
    ambient_c = top.number("ambient_c", *AMBIENT_RANGE_C, default=20.0, unit="°C")
    humidity_pct = top.number("humidity_pct", *HUMIDITY_RANGE_PCT, default=0.0, unit="%",
                              also=" (relative humidity of the air at ambient_c; 0 = dry air)")
    raw_co_pct = top.number("raw_co_pct", *RAW_CO_RANGE_PCT, default=0.0, unit="%",
                            also=" (raw exhaust: CO left unburnt next to O2, wet % at lambda 1; 0 = equilibrated)")
    if raw_co_pct:
        fuel = replace(fuel, raw_co_pct=raw_co_pct)
    seed = top.integer("seed", 0, None, default=0)

    defaults = {**DEFAULT_INITIAL, "gas_temp_c": ambient_c, "supply_v": 13.5}
    tracks = [_Track(_channel(top.at(key), k, top.value(key, defaults[key]))) for k, key in enumerate(CHANNEL_KEYS)]

    within = f" (within duration_s = {duration_s:g} s)"
    changes: set[float] = set()
    previous_t_s = 0.0
    for i, entry in enumerate(top.tables("at", required=False, keys=AT_KEYS)):
        t_s = entry.number("t_s", 0.0, duration_s, unit="s", also=within)
        if t_s < previous_t_s:
            raise entry.at("t_s").refuse(f"{t_s:g} s is before at[{i - 1}].t_s = {previous_t_s:g} s; "
                                         "[[at]] entries must be in non-decreasing t_s order",
                                         allowed=f"{previous_t_s:g} to {duration_s:g} s")
        previous_t_s = t_s
        ramp_s = entry.number("ramp_s", 0.0, duration_s - t_s, default=0.0, unit="s",
                              also=f" (a ramp must end by duration_s = {duration_s:g} s)")
        for k, key in enumerate(CHANNEL_KEYS):
            if not entry.has(key):
                continue  # values not named hold
            target = _channel(entry.at(key), k, entry.value(key))
            if ramp_s > 0.0 and k == LAMBDA:
                if target == AIR:
                    raise entry.at(key).refuse('cannot ramp to "air": free air is a step',
                                               allowed='ramp_s = 0, or lambda = "air" in its own [[at]] entry')
                if tracks[k].value_at(t_s) == AIR:
                    raise entry.at(key).refuse(f'cannot ramp from "air" (lambda is air at {t_s:g} s)',
                                               allowed="step out of air first (ramp_s = 0)")
            if tracks[k].set(t_s, target, ramp_s):
                changes.add(t_s)

    faults: list[FaultWindow] = []
    for entry in top.tables("fault", required=False, keys=FAULT_KEYS):
        on_s = entry.number("t_s", 0.0, duration_s, unit="s", also=within)
        kind = entry.text("kind", FAULT_KINDS)
        off_s = math.inf
        if entry.has("clear_s"):
            off_s = entry.number("clear_s", on_s, duration_s, unit="s", lo_open=True,
                                 also=" (after t_s, within duration_s)")
        value_v = SUPPLY_DROP_DEFAULT_V
        if entry.has("value_v"):
            if kind != "supply_drop":
                raise entry.at("value_v").refuse(f'only applies to kind = "supply_drop", not {kind!r}')
            value_v = entry.number("value_v", 0.0, 32.0, unit="V")
        if entry.has("chatter_on_s") or entry.has("chatter_off_s"):
            if not entry.has("chatter_on_s"):
                raise entry.at("chatter_off_s").refuse("needs chatter_on_s too",
                                                       allowed="chatter_on_s = S (and optionally chatter_off_s)")
            windows = _chatter_windows(entry, kind, on_s, off_s, duration_s, value_v)
        else:
            windows = [FaultWindow(kind, on_s, off_s, value_v)]
        if len(faults) + len(windows) > MAX_FAULT_WINDOWS:
            raise entry.at("t_s").refuse(f"more than {MAX_FAULT_WINDOWS} fault windows in one scenario",
                                         allowed=f"at most {MAX_FAULT_WINDOWS} (chattering faults count each contact)")
        faults.extend(windows)
        for window in windows:
            changes.add(window.on_s)
            if window.off_s != math.inf:
                changes.add(window.off_s)

    scenario = Scenario(name=name, description=description, duration_s=duration_s, fuel=fuel, ambient_c=ambient_c,
                        seed=seed, source=source, tracks=tracks, faults=faults, change_times=sorted(changes),
                        humidity_pct=humidity_pct)
    _check_gas_feasible(scenario, source)
    return scenario


def _check_gas_feasible(scenario: Scenario, source: str) -> None:
    """Every lambda/HC combination the scenario reaches must be a gas the fuel can make (no soot
    limit, no more unburnt HC than the exhaust holds); values are linear between breakpoints, so the
    breakpoints and the ends of each segment cover it."""
    times = sorted({*scenario._seg_t, *(b - 1e-9 for b in scenario._seg_t[1:]), scenario.duration_s})
    for t_s in times:
        world = scenario.world_at(max(t_s, 0.0))
        try:
            exhaust(world.lambda_value, scenario.fuel, world.hc_ppm)
        except ArithmeticError as exc:
            raise EmulatorInputError(source, f"at (t = {t_s:.6g} s)",
                                     f"lambda {world.lambda_value:g} with {world.hc_ppm:g} ppm HC and fuel "
                                     f"{scenario.fuel.name} is not a possible exhaust: {exc}") from None


def _scenario_dir():
    return resources.files(SCENARIO_PACKAGE)


def builtin_scenarios() -> dict[str, str]:
    """Built-in scenario name -> first line of its description, sorted by name."""
    found: dict[str, str] = {}
    for entry in sorted(_scenario_dir().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            try:
                description = parse_toml_text(entry.read_text(encoding="utf-8"), entry.name).get("description", "")
            except InputError:
                description = "(unreadable scenario file)"
            found[entry.name.removesuffix(".toml")] = str(description).strip().split("\n")[0]
    return found


def _is_file(path: Path) -> bool:
    """Whether a regular file is there; False for a name the system cannot even look up (too long)."""
    try:
        return path.is_file()
    except OSError:
        return False


def builtin_path(name: str) -> Path:
    """The file of a built-in scenario; EmulatorInputError for an unknown name."""
    entry = _scenario_dir() / f"{name}.toml"
    if "/" in name or "\\" in name or not _is_file(entry):
        known = builtin_scenarios()
        shown = check.show(name)
        raise EmulatorInputError(source=f"scenario {shown.strip(chr(39))}", field="scenario",
                                 problem=f"no built-in scenario {shown}",
                                 allowed=", ".join(known) + ", or a path to a .toml file",
                                 suggestions=nearest(name, known))
    return Path(str(entry))


def _load_file(path: Path, source: str) -> Scenario:
    return scenario_from_dict(read_toml_file(path, source, error=EmulatorInputError), source)


def load_scenario(path_or_name: str) -> Scenario:
    """Load a scenario from a .toml path, or a built-in by name (see builtin_scenarios())."""
    text = str(path_or_name)
    path = Path(text)
    looks_like_path = text.endswith(".toml") or "/" in text or "\\" in text
    if looks_like_path or (_is_file(path) and text not in builtin_scenarios()):
        return _load_file(path, text)
    return _load_file(builtin_path(text), f"scenario {text}")
