"""Intermittent faults: a line that makes and breaks contact (0.1 s on / 0.1 s off) is caught within
1 s, and a chattering heater short gets a bounded amount of drive, not 30 s of it. The chatter is
scripted in the scenario (chatter_on_s / chatter_off_s) and the whole run is virtual time on sim:lsu49.
"""

from __future__ import annotations

import functools

import pytest
from controller_helpers import fault_scenario, record_sim_run

import lambdarig
from lambdarig.controller.diagnostics import CODES
from lambdarig.controller.settings import ELEMENT_CHOICES
from lambdarig.emulator.scenario import builtin_scenarios

PUMP_PERIOD_S = 0.002
CHATTER_T = 15.0          # after the warm-up (~14 s in this world)
CHATTER_LEN = 30.0
DURATION = CHATTER_T + CHATTER_LEN + 5.0
CODE_OF = {"heater_short": "heater_short", "pump_open": "pump_open", "nernst_open": "nernst_open",
           "heater_open": "heater_open"}


@functools.cache
def chatter_run(kind: str, on_s: float = 0.1, off_s: float = 0.1):
    fault = {"t_s": CHATTER_T, "kind": kind, "clear_s": CHATTER_T + CHATTER_LEN,
             "chatter_on_s": on_s, "chatter_off_s": off_s}
    scenario = fault_scenario([fault], DURATION)
    return scenario, record_sim_run(scenario, DURATION)


@pytest.mark.parametrize("kind", CODE_OF)
def test_chattering_fault_is_caught_within_one_second(kind):
    _, run = chatter_run(kind)
    events = run.controller.events
    assert events, f"a chattering {kind} gave no fault"
    first = events[0]
    assert first.code == CODE_OF[kind], [e.code for e in events]
    assert CHATTER_T <= first.t_s <= CHATTER_T + 1.0, first


def test_chattering_heater_short_gets_bounded_drive_and_latches():
    scenario, run = chatter_run("heater_short")
    # Drive into the short: ticks where the board's heater is on while the short makes contact.
    into_short_s = sum(PUMP_PERIOD_S for a in run.applied
                       if a.board_duty > 0.0 and scenario.faults_at(a.t_s).heater_short)
    assert into_short_s < 1.0, into_short_s
    assert run.controller.latched
    assert [e.code for e in run.controller.events] == ["heater_short"] * (CODES["heater_short"].retry_limit + 1)
    late = [a for a in run.applied if a.t_s > CHATTER_T + 10.0]
    assert late and all(a.board_duty == 0.0 and a.board_pump_a == 0.0 for a in late)
    assert run.board_safe()


def test_short_single_glitches_do_not_fault():
    """A 10 ms contact once a second (a glitch, not a failing line) stays below the count."""
    _, run = chatter_run("heater_short", 0.01, 0.99)
    assert run.controller.events == []


def test_chatter_windows_in_the_scenario():
    scenario, _ = chatter_run("pump_open")
    windows = scenario.fault_windows
    assert len(windows) == 150
    assert windows[0].on_s == CHATTER_T and windows[0].off_s == pytest.approx(CHATTER_T + 0.1)
    assert scenario.faults_at(CHATTER_T + 0.05).pump_open
    assert not scenario.faults_at(CHATTER_T + 0.15).pump_open
    assert not scenario.faults_at(CHATTER_T + CHATTER_LEN + 0.05).pump_open


@pytest.mark.parametrize("element", ELEMENT_CHOICES)
@pytest.mark.parametrize("scenario", [name for name in builtin_scenarios() if name != "faults"])
def test_no_false_faults_on_any_builtin_scenario_and_element(scenario, element):
    """The counter must not turn the noise of a healthy run into a fault, on any element."""
    result = lambdarig.simulate(element, scenario, keep_samples=False, warn=lambda text: None)
    faults = [e for e in result.summary["events"] if e["severity"] == "fault"]
    assert faults == []


@pytest.mark.parametrize(("fault", "field", "words"), [
    ({"chatter_off_s": 0.1}, "fault[0].chatter_off_s", "needs chatter_on_s"),
    ({"chatter_on_s": 0.0}, "fault[0].chatter_on_s", "outside the allowed range"),
    ({"chatter_on_s": 0.001, "chatter_off_s": 0.001}, "fault[0].chatter_on_s", "more than a scenario may hold"),
])
def test_chatter_options_are_checked(fault, field, words):
    from lambdarig.emulator.errors import EmulatorInputError

    with pytest.raises(EmulatorInputError) as caught:
        fault_scenario([{"t_s": 1.0, "kind": "pump_open", **fault}], 60.0)
    assert caught.value.field == field and words in str(caught.value)
