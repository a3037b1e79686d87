"""Helpers for the controller tests: a synthetic bench (no emulator) and sim-run recorders.

`Bench` ticks a Controller with made-up but self-consistent measurements: a first-order thermal
model of the cell (7.5 V holds 780 °C), Ri from the profile's ESR table, a heater of a few ohms, a
perfect pump driver (measured current = command) and a Nernst cell that sits below/above its target
when the pump current is short of/beyond what the gas needs. Everything is deterministic.

`record_sim_run` runs the real Runtime over the sim front end and records, for every applied
command, the controller state and what the emulated board actually holds.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

from lambdarig.controller.core import Controller, Status
from lambdarig.controller.runtime import RunResult, Runtime
from lambdarig.controller.settings import Settings
from lambdarig.emulator.scenario import scenario_from_dict
from lambdarig.hal.registry import open_frontend
from lambdarig.hal.types import Sample

# The emulated 16-bit bipolar pump DAC (-10..+10 mA): one code.
PUMP_DAC_LSB_A = 20e-3 / 65535


def esr_for_temp(profile, temp_c: float) -> float:
    """Ri that the profile reads as `temp_c`: the inverse of profile.temp_from_esr, including its
    extrapolation of the end segments beyond the table (profile.esr_at clamps there, so a cold cell
    fed esr_at(20) would read 500 °C)."""
    r, t = profile.esr_ohm, profile.esr_temp_c
    if t[-1] <= temp_c <= t[0]:
        return profile.esr_at(temp_c)
    i = len(r) - 1 if temp_c < t[-1] else 1   # temp_from_esr's end segments
    r0, r1, t0, t1 = r[i - 1], r[i], t[i - 1], t[i]
    return r0 * math.exp((temp_c - t0) * math.log(r1 / r0) / (t1 - t0))


class Bench:
    """A Controller driven by synthetic measurements at its pump rate, in virtual time."""

    TAU_S = 8.0             # thermal time constant of the cell
    V_HOLD = 7.5            # heater voltage that holds 780 °C (the settings' feed-forward)
    NERNST_V_PER_A = 20.0   # Nernst deviation per ampere of pump-current shortfall

    def __init__(self, settings: Settings | None = None, temp_c: float = 20.0, supply_v: float = 13.5,
                 ambient_c: float = 20.0):
        self.ctl = Controller(settings)
        self.settings = self.ctl.settings
        self.profile = self.ctl.profile
        self.period_s = 1.0 / self.settings.rates.pump_hz
        self.n = 0
        self.t_s = 0.0
        self.temp_c = temp_c
        self.ambient_c = ambient_c
        self.supply_v = supply_v
        self.gas_ip_a = 0.0            # the pump current the gas needs (0: lambda 1)
        self.hold_temp: float | None = None   # force the cell temperature (ignore the heater)
        self.nernst_override_v: float | None = None
        self.heater_open = False       # no heater current, no heating
        self.heater_v = 0.0
        self.last_out_pump_a = 0.0
        self.log: list[tuple[float, str, float, float]] = []   # (t, state, pump_a, duty) per tick

    @property
    def state(self) -> str:
        return self.ctl.state.name

    def ri_ohm(self) -> float:
        return esr_for_temp(self.profile, self.temp_c)

    def step(self):
        ctl = self.ctl
        t = self.n * self.period_s
        self.t_s = t
        pump_a = self.last_out_pump_a  # a perfect driver
        if self.nernst_override_v is not None:
            nernst = self.nernst_override_v
        else:
            nernst = 0.45 - self.NERNST_V_PER_A * (self.gas_ip_a - pump_a)
            nernst = min(max(nernst, 0.0), 1.0)
        r_heater = self.profile.heater_r_cold_ohm * (1.0 + self.profile.heater_alpha_per_k * (self.temp_c - 20.0))
        heater_a = 0.0 if self.heater_open else self.heater_v / r_heater
        out = ctl.tick(Sample(t, nernst, pump_a, self.ri_ohm(), self.heater_v, heater_a, self.supply_v))
        self.last_out_pump_a = out.pump_current_a
        self.heater_v = self.supply_v * math.sqrt(out.heater_duty) if self.supply_v > 0 else 0.0
        if self.hold_temp is not None:
            self.temp_c = self.hold_temp
        else:
            heating_v = 0.0 if self.heater_open else self.heater_v
            t_ss = self.ambient_c + (780.0 - 20.0) * (heating_v / self.V_HOLD) ** 2
            self.temp_c += (t_ss - self.temp_c) * (self.period_s / self.TAU_S)
        self.log.append((t, ctl.state.name, out.pump_current_a, out.heater_duty))
        self.n += 1
        return out

    def run_for(self, seconds: float):
        end = self.n + round(seconds / self.period_s)
        out = None
        while self.n < end:
            out = self.step()
        return out

    def run_until(self, predicate, timeout_s: float) -> float:
        """Tick until predicate(bench) is true; returns the time; AssertionError on timeout."""
        end = self.n + round(timeout_s / self.period_s)
        while self.n < end:
            self.step()
            if predicate(self):
                return self.t_s
        raise AssertionError(f"condition not reached within {timeout_s} s (state {self.state}, "
                             f"T {self.temp_c:.0f} °C, events {[e.code for e in self.ctl.events]})")

    def to_closed_loop(self, timeout_s: float = 40.0) -> float:
        return self.run_until(lambda b: b.state == "CLOSED_LOOP", timeout_s)


def fault_scenario(faults: list[dict], duration_s: float = 32.0, **world):
    """The fault-test world: lambda 1.0, 350 °C gas, 10 m/s from t = 0 (warm-up ~14 s)."""
    data = {"duration_s": duration_s, "lambda": 1.0, "gas_temp_c": 350.0, "flow_mps": 10.0, "supply_v": 13.5,
            "fault": faults, **world}
    return scenario_from_dict(data, "scenario controller-test")


@dataclass
class Applied:
    t_s: float
    state: str             # controller state when the command was applied
    duty_cmd: float        # the duty the controller asked for
    supply_v: float        # the supply of the sample that tick (the one the controller used)
    board_pump_a: float    # what the emulated board holds after apply (quantised)
    board_duty: float


@dataclass
class SimRun:
    frontend: object
    controller: Controller
    result: RunResult | None = None
    applied: list[Applied] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    error: BaseException | None = None

    def board_safe(self) -> bool:
        fe = self.frontend.rig.board
        return abs(fe.pump_command_a) <= PUMP_DAC_LSB_A and fe.heater_duty == 0.0

    def codes(self) -> list[str]:
        return [e.code for e in self.controller.events]

    def v_eff(self) -> list[tuple[float, str, float]]:
        """(t, state, effective heater voltage) per applied command. The duty changes only at heater
        ticks, computed from that tick's supply sample; V_eff = supply * sqrt(duty) is taken with that
        supply and held until the duty changes (so measurement noise between heater ticks does not
        show up as voltage steps)."""
        out = []
        v = 0.0
        last_duty = None
        for a in self.applied:
            if a.duty_cmd != last_duty:
                v = a.supply_v * math.sqrt(a.duty_cmd) if a.duty_cmd > 0.0 else 0.0
                last_duty = a.duty_cmd
            out.append((a.t_s, a.state, v))
        return out


def record_sim_run(scenario, duration_s: float, seed: int = 0, settings: Settings | None = None,
                   sinks=(), link_loss_s: float | None = None, expect_exception: bool = False) -> SimRun:
    options = {"scenario": scenario, "seed": seed}
    if link_loss_s is not None:
        options["link_loss_s"] = link_loss_s
    fe = open_frontend("sim:lsu49", **options)
    ctl = Controller(settings)
    run = SimRun(fe, ctl)
    board = fe.rig.board
    orig_sample, orig_apply = fe.sample, fe.apply
    last = {}

    def sample():
        s = orig_sample()
        last["supply_v"] = s.supply_v
        return s

    def apply(command):
        orig_apply(command)
        run.applied.append(Applied(fe.now(), ctl.state.name, command.heater_duty, last["supply_v"],
                                   board.pump_command_a, board.heater_duty))

    fe.sample = sample
    fe.apply = apply
    runtime = Runtime(fe, ctl, [lambda status, truth: run.statuses.append(status), *sinks])
    if expect_exception:
        try:
            runtime.run(duration_s)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            run.error = exc
    else:
        run.result = runtime.run(duration_s)
    return run


@functools.cache
def builtin_run(name: str, seed: int = 0) -> SimRun:
    """A whole built-in scenario with default settings, recorded; shared between tests (read only)."""
    from lambdarig.emulator.scenario import load_scenario

    return record_sim_run(name, load_scenario(name).duration_s, seed=seed)
