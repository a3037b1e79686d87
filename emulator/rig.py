"""An emulated sensor on an emulated interface board, driven by a scenario, in virtual time.

This is the emulator's one entry point for whatever drives it: the sim front end, the emulated
serial rig and the emulated instruments all wrap it. It never sleeps: `advance_to(t)` integrates the
physics up to t in steps of at most `max_step_s`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .ageing import individual_spec
from .board import AnalogBoard, BoardReading, BoardSpec
from .element import ElementModel
from .element_spec import ElementSpec, load_element
from .errors import EmulatorInputError
from .scenario import Scenario

DEFAULT_MAX_STEP_S = 0.002


@dataclass(slots=True)
class Truth:
    """What is really there (simulation only): never shown to the firmware."""

    lambda_value: float      # of the exhaust (math.inf in free air)
    o2_pct: float            # free O2 in the exhaust
    hc_ppm: float
    temp_c: float            # electrolyte (Nernst cell) temperature
    heater_temp_c: float
    ri_ohm: float            # the cell's true ESR
    nernst_emf_v: float
    pump_current_a: float    # the current that actually flows
    heater_r_ohm: float
    pressure_kpa: float
    # The measuring node: free O2 (%; the equilibrium value in a catalytic node) and, in a
    # mixed-potential element's compartment, the HC left after the partial burn (ppm; else 0).
    node_o2_pct: float = math.nan
    node_hc_ppm: float = math.nan
    sense_emf_v: float = math.nan    # measuring-cell EMF (mixed-potential elements; NaN for the others)


def check_exhaust_limit(spec: ElementSpec, scenario: Scenario) -> None:
    """Refuse a scenario whose exhaust is hotter than the element's short-time rating (an element
    without [exhaust_limits] takes the scenario's general range)."""
    limits = spec.exhaust_limits
    if limits is not None and scenario.max_gas_temp_c() > limits.short_c:
        raise EmulatorInputError(scenario.source, "gas_temp_c",
                                 f"{scenario.max_gas_temp_c():g} °C is above {spec.name}'s short-time exhaust "
                                 f"limit", allowed=f"at most {limits.short_c:g} °C "
                                                   f"({limits.continuous_c:g} °C continuously)")


class EmulatedRig:
    """`reading_type` is what `sample()` returns (the board's BoardReading unless another type with
    the same fields is given: the sim backend gives the HAL's Sample). `unit` / `age_h`: build
    production unit N of the element, aged that many hours (None / 0: the element as given)."""

    def __init__(self, element: str | ElementSpec, scenario: Scenario, board: BoardSpec | None = None,
                 seed: int | None = None, max_step_s: float = DEFAULT_MAX_STEP_S,
                 reading_type: Callable[..., Any] = BoardReading, *, unit: int | None = None, age_h: float = 0.0):
        spec = load_element(element) if isinstance(element, str) else element
        # unit N of the element, aged age_h hours (emulator/production.py, ageing.py); defaults: as given.
        self.spec = individual_spec(spec, unit, age_h) if unit is not None or age_h else spec
        check_exhaust_limit(self.spec, scenario)
        self.scenario = scenario
        self.max_step_s = max_step_s
        self.t_s = 0.0
        self.world = scenario.world_at(0.0)
        self.element = ElementModel(self.spec, scenario.fuel, self.world)
        self.board = AnalogBoard(self.element, board, scenario.seed if seed is None else seed, reading_type)
        self._last_step_s = max_step_s

    def apply(self, pump_current_a: float | None = None, heater_duty: float | None = None,
              excitation: bool | None = None) -> None:
        if pump_current_a is not None:
            self.board.set_pump_current(pump_current_a)
        if heater_duty is not None:
            self.board.set_heater_duty(heater_duty)
        if excitation is not None:
            self.board.set_excitation(excitation)

    def safe(self) -> None:
        self.board.safe()

    def advance_to(self, t_s: float) -> None:
        remaining = t_s - self.t_s
        if remaining <= 0.0:
            return
        scenario = self.scenario
        board = self.board
        t = self.t_s
        # (at least one: a remainder of a few ps would round to none)
        steps = max(1, math.ceil(remaining / self.max_step_s - 1e-9))
        dt = remaining / steps
        for _ in range(steps):
            # world_at returns a shared World within a constant stretch of the script: read-only.
            world = scenario.world_at(t)
            faults = scenario.faults_at(t)
            supply_v = world.supply_v
            if faults.supply_drop and faults.supply_drop_v < supply_v:
                supply_v = faults.supply_drop_v
            board.advance(dt, world, supply_v, faults)
            t += dt
        self.world = world
        self.t_s = t_s
        self._last_step_s = dt

    def sample(self, interval_s: float | None = None) -> Any:
        """The board's reading now (a reading_type); interval_s is the time since the last reading, over
        which the ESR demodulator averages (default: the last integration step)."""
        return self.board.sample(self.t_s, interval_s or self._last_step_s)

    def truth(self) -> Truth:
        e = self.element
        world = self.scenario.world_at(self.t_s)
        return Truth(world.lambda_value, e.exhaust_o2_pct, world.hc_ppm, e.temp_c, e.heater_temp_c, e.ri_ohm,
                     e.nernst_emf_v, e.pump_current_a, e.heater_r_ohm, world.pressure_kpa,
                     100.0 * e.node_o2_fraction, e.node_hc_ppm, e.sense_emf_v)
