"""The sim backend: an emulated element on an emulated board (emulator.rig.EmulatedRig), in virtual time.

URL: ``sim:ELEMENT?scenario=NAME&seed=N&link_loss_s=T&max_step_s=S&override=SECTION.KEY=VALUE&unit=N&age_h=H``

- ELEMENT is a built-in element name (``lsu49`` when empty) or a path to an element .toml
  (``sim:/abs/el.toml`` or ``sim:///abs/el.toml``; a leading ``//`` is dropped; %-escapes decoded).
- Query keys and keyword options (keywords win over query keys):
  ``scenario``          built-in name or .toml path (keyword: also a Scenario object); default "default"
  ``seed``              integer >= 0; default: the scenario's seed
  ``element_overrides`` list of "section.key=value" (query key: ``override``, repeatable)
  ``link_loss_s``       from this virtual time on, sample() and apply() raise LinkLost; default never
  ``max_step_s``        the emulator's largest integration step, seconds; default 0.002
  ``unit``              production unit N drawn from the element's tolerance section (integer >= 0);
                        default: the nominal element (emulator/production.py)
  ``age_h``             operating hours the element has aged by; default 0 (emulator/ageing.py)

Time is virtual: wait_until(t) integrates the physics up to t and never sleeps, so the firmware
runs as fast as the CPU allows, deterministically for a given seed.

sample() returns a real hal.types.Sample: the sim hands the Sample type to the emulated board as
its reading type, so the board builds the seam's type directly (the emulator cannot import the HAL,
and a BoardReading converted per tick would cost a second object in the 500 Hz loop).
"""

from __future__ import annotations

import math
import random
from typing import Any

from lambdarig.common.errors import InputError, nearest
from lambdarig.common.validators import show
from lambdarig.emulator.ageing import check_age_h, individual_spec
from lambdarig.emulator.element_spec import load_element
from lambdarig.emulator.production import check_unit
from lambdarig.emulator.rig import DEFAULT_MAX_STEP_S, EmulatedRig, Truth
from lambdarig.emulator.scenario import Scenario, load_scenario

from .frontend import FrontEnd
from .types import Command, FrontEndError, FrontEndInfo, LinkLost, Sample
from .url import query_options, split_url

DEFAULT_ELEMENT = "lsu49"
DEFAULT_SCENARIO = "default"
FIRST_SAMPLE_INTERVAL_S = 1.0 / 500.0
MAX_STEP_RANGE_S = (1e-5, 0.02)

OPTION_KEYS = ("scenario", "seed", "element_overrides", "link_loss_s", "max_step_s", "unit", "age_h")
QUERY_KEYS = ("scenario", "seed", "override", "link_loss_s", "max_step_s", "unit", "age_h")
_QUERY_TO_OPTION = {"override": "element_overrides"}


# Noise of the emulated exhaust-pressure sensor, 1 sd: 0.25 kPa (assumption: a 400 kPa MAP sensor at
# about 0.1 % of full scale per sample; the firmware filters it).
PRESSURE_NOISE_KPA = 0.25

def _bad(option: str, problem: str, *, allowed: str | None = None, known: tuple[str, ...] = ()) -> InputError:
    return InputError("sim front end", f"option {show(option)}", problem, allowed=allowed,
                      suggestions=nearest(option, known))


def _seed(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = int(value.strip(), 10)
        except ValueError:
            raise _bad("seed", f"must be an integer >= 0, got {show(value)}") from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad("seed", f"must be an integer >= 0, got {show(value)}")
    return value


def _float(option: str, value: Any) -> float:
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise _bad(option, f"must be a number, got {show(value)}")


def _link_loss(value: Any) -> float:
    if value is None:
        return math.inf
    t = _float("link_loss_s", value)
    if not t >= 0.0:  # also NaN
        raise _bad("link_loss_s", f"must be a time >= 0 s (or omitted: never), got {show(value)}")
    return t


def _max_step(value: Any) -> float:
    if value is None:
        return DEFAULT_MAX_STEP_S
    step = _float("max_step_s", value)
    lo, hi = MAX_STEP_RANGE_S
    if not lo <= step <= hi:
        raise _bad("max_step_s", f"must be from {lo:g} to {hi:g} s, got {show(value)}")
    return step


def _overrides(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and "=" in v for v in value):
        raise _bad("element_overrides", f'must be a list of "section.key=value" strings, got {show(value)}')
    return list(value)


def _scenario(value: Any) -> Scenario:
    if value is None:
        value = DEFAULT_SCENARIO
    if isinstance(value, Scenario):
        return value
    if isinstance(value, str) and value.strip():
        return load_scenario(value.strip())  # EmulatorInputError (a ValueError) for an unknown one
    raise _bad("scenario", f"must be a built-in scenario name, a .toml path or a Scenario, got {show(value)}")


def parse_sim_url(url: str) -> tuple[str, dict[str, Any]]:
    """(element, options) from a sim URL; InputError naming an unknown or repeated query key."""
    target, query = split_url(url, "sim", lambda _: InputError("sim front end", "url", f"{show(url)} is not a sim URL",
                                                               allowed="sim:ELEMENT?key=value"))
    element = target or DEFAULT_ELEMENT
    options, _ = query_options(
        query, QUERY_KEYS, renamed=_QUERY_TO_OPTION, repeatable=("element_overrides",),
        unknown=lambda key: _bad(key, "unknown query key", allowed=", ".join(QUERY_KEYS),
                                 known=QUERY_KEYS),
        twice=lambda key: _bad(key, "given twice in the URL", allowed="each key once"))
    return element, options


class SimFrontEnd(FrontEnd):
    """A FrontEnd over an EmulatedRig in virtual time. Open with `open_frontend("sim:...")`.

    A rig built elsewhere is given Sample as its board's reading type here, so sample() returns a
    Sample whoever built it."""

    def __init__(self, rig: EmulatedRig, *, name: str | None = None, seed: int | None = None,
                 link_loss_s: float | None = None):
        rig.board.reading_type = Sample
        self._rig = rig
        self._name = name or f"sim:{rig.spec.name}"
        self._seed = rig.scenario.seed if seed is None else seed
        # The exhaust-pressure input: the world's pressure as a sensor reads it (its own seeded noise).
        self._pressure_noise = random.Random(0x5052 ^ (self._seed or 0)).gauss
        self._link_loss_s = _link_loss(link_loss_s)
        # Samples and commands are refused from _cutoff_s on: the link-loss time, or -inf once closed.
        self._cutoff_s = self._link_loss_s
        self._closed = False
        self._last_sample_t: float | None = None
        self.last_safe_s: float | None = None   # virtual time of the last safe() (the board obeyed)
        self.safe_count = 0

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SimFrontEnd:
        element, merged = parse_sim_url(url)
        for key in options:
            if key not in OPTION_KEYS:
                raise _bad(key, "unknown option", allowed=", ".join(OPTION_KEYS), known=OPTION_KEYS)
        merged.update(options)
        seed = _seed(merged.get("seed"))
        link_loss_s = _link_loss(merged.get("link_loss_s"))
        max_step_s = _max_step(merged.get("max_step_s"))
        overrides = _overrides(merged.get("element_overrides"))
        scenario = _scenario(merged.get("scenario"))
        unit = check_unit(merged.get("unit"), "sim front end", "option 'unit'")
        age = merged.get("age_h")
        age_h = 0.0 if age is None else check_age_h(age, "sim front end", "option 'age_h'")
        spec = individual_spec(load_element(element, overrides), unit, age_h)
        rig = EmulatedRig(spec, scenario, seed=seed, max_step_s=max_step_s)
        return cls(rig, name=url.strip(), seed=seed, link_loss_s=link_loss_s)

    # -- the emulator behind it (simulation only) ---------------------------------------------

    @property
    def rig(self) -> EmulatedRig:
        return self._rig

    @property
    def scenario(self) -> Scenario:
        return self._rig.scenario

    @property
    def link_loss_s(self) -> float:
        return self._link_loss_s

    # -- optional abilities of the FrontEnd interface ------------------------------------------

    def truth(self) -> Truth:
        return self._rig.truth()

    def scenario_duration_s(self) -> float:
        return float(self._rig.scenario.duration_s)

    # -- the FrontEnd surface -----------------------------------------------------------------

    def _refuse(self, what: str) -> FrontEndError:
        if self._closed:
            return FrontEndError(f"sim front end {self._name!r} is closed: cannot {what}")
        return LinkLost(f"sim link lost at {self._link_loss_s:g} s (now {self._rig.t_s:.6g} s): cannot {what}")

    def sample(self) -> Sample:
        """The board's reading now."""
        rig = self._rig
        t = rig.t_s
        if t >= self._cutoff_s:
            raise self._refuse("sample")
        last = self._last_sample_t
        self._last_sample_t = t
        interval = t - last if last is not None and t > last else FIRST_SAMPLE_INTERVAL_S
        sample = rig.sample(interval)
        sample.pressure_kpa = rig.world.pressure_kpa + PRESSURE_NOISE_KPA * self._pressure_noise(0.0, 1.0)
        return sample

    def apply(self, command: Command) -> None:
        """Set pump current, heater duty (clamped to 0..1) and excitation.

        NaN or infinite values raise ValueError before anything changes.
        """
        pump_a = command.pump_current_a
        duty = command.heater_duty
        # x - x is 0.0 for a finite number and NaN (truthy) for NaN or +-inf: cheaper than isfinite.
        if (pump_a - pump_a) or (duty - duty):
            raise ValueError(f"command must be finite: pump_current_a={pump_a!r}, heater_duty={duty!r}")
        rig = self._rig
        if rig.t_s >= self._cutoff_s:
            raise self._refuse("apply a command")
        rig.apply(pump_a, 0.0 if duty < 0.0 else 1.0 if duty > 1.0 else duty, command.excitation)

    def wait_until(self, t_s: float) -> bool:
        """Integrate the physics up to t_s. False (nothing done) when t_s is in the past."""
        rig = self._rig
        if t_s < rig.t_s:
            return False
        if t_s - t_s:  # NaN for NaN and +inf (0.0 for a finite time): cheaper than math.isfinite
            raise ValueError(f"wait_until: time must be finite, got {t_s!r}")
        rig.advance_to(t_s)
        return True

    def now(self) -> float:
        return self._rig.t_s

    def safe(self) -> None:
        """Pump 0, heater off. Never raises, even after link loss or close: the emulated board is
        still there, so its outputs really are made safe (recorded in last_safe_s / safe_count)."""
        try:
            self._rig.safe()
            self.last_safe_s = self._rig.t_s
            self.safe_count += 1
        except Exception:  # pragma: no cover - safe() must never raise
            pass

    def info(self) -> FrontEndInfo:
        rig = self._rig
        dac = rig.board.spec
        scenario = rig.scenario
        # The emulated board measures the connector's trim resistor when the element has one
        # (getattr: the element's trim_ohm comes with the production-spread work, sensemu).
        trim = getattr(rig.element, "trim_ohm", None)
        return FrontEndInfo(
            kind="sim", name=self._name, element=rig.spec.name,
            measures_ri=True, measures_heater=True, measures_pump_v=True,
            pump_current_min_a=dac.pump_dac_min_a, pump_current_max_a=dac.pump_dac_max_a,
            virtual_time=True, has_truth=True, trim_ohm=math.nan if trim is None else float(trim),
            details={"scenario": scenario.name, "seed": self._seed, "duration_s": scenario.duration_s,
                     "max_step_s": rig.max_step_s, "link_loss_s": self._link_loss_s,
                     "unit": rig.spec.unit, "age_h": rig.spec.age_h, "fuel": scenario.fuel.name},
        )

    def close(self) -> None:
        """Make safe and refuse further samples and commands (idempotent)."""
        self.safe()
        self._closed = True
        self._cutoff_s = -math.inf

    def __repr__(self) -> str:
        return f"SimFrontEnd({self._name!r}, t_s={self._rig.t_s:.6g})"
