"""Controller states and transitions (controller/statemachine.py, controller/core.py), driven by
synthetic ticks (no emulator): see tests/controller_helpers.Bench."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from controller_helpers import Bench
from transitions import MachineError

from lambdarig.controller.core import Controller
from lambdarig.controller.settings import Settings
from lambdarig.controller.statemachine import HEATING, TRANSITIONS, State, build_machine, mermaid_diagram, state_doc

DOC = Path(__file__).resolve().parents[1] / "docs" / "controller-states.md"


def count_triggers(ctl: Controller) -> list[str]:
    """Wrap the model's trigger method (what core.py calls) and record every trigger name."""
    calls: list[str] = []
    original = ctl.trigger

    def trigger(name, *args, **kwargs):
        calls.append(name)
        return original(name, *args, **kwargs)

    ctl.trigger = trigger
    return calls


def outputs_zero(bench: Bench) -> bool:
    out = bench.ctl.command
    return out.pump_current_a == 0.0 and out.heater_duty == 0.0


# --- the table ------------------------------------------------------------------------------


def test_transition_table_uses_states_only():
    names = {t["trigger"] for t in TRANSITIONS}
    assert names == {"supply_ok", "condensation_done", "heated", "cooled", "supply_lost", "fault", "retry",
                     "stop", "start", "disallowed"}
    for t in TRANSITIONS:
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        assert all(isinstance(s, State) for s in sources)
        assert isinstance(t["dest"], State)
    # Every state is reachable and every state but STOPPED can be stopped.
    dests = {t["dest"] for t in TRANSITIONS}
    assert dests | {State.WAIT_SUPPLY} == set(State)
    stop_sources = next(t["source"] for t in TRANSITIONS if t["trigger"] == "stop")
    assert set(stop_sources) == set(State) - {State.STOPPED}
    assert set(HEATING) == {State.CONDENSATION, State.RAMP, State.CLOSED_LOOP}


def test_machine_has_no_auto_transitions():
    class Model:
        def is_warm(self):
            return False

    model = Model()
    build_machine(model)
    assert model.state is State.WAIT_SUPPLY
    assert not hasattr(model, "to_CLOSED_LOOP")
    with pytest.raises(MachineError):
        model.trigger("heated")        # not allowed from WAIT_SUPPLY
    assert model.state is State.WAIT_SUPPLY


# --- warm-up ----------------------------------------------------------------------------------


def test_wait_supply_until_supply_stable():
    bench = Bench(supply_v=9.5)                      # between off_v (8.5) and on_v (10): not enough
    bench.run_for(3.0)
    assert bench.state == "WAIT_SUPPLY" and outputs_zero(bench)
    assert bench.ctl.events == []                   # a low supply before heating is not a fault
    bench.supply_v = 12.0
    t_on = bench.t_s
    t = bench.run_until(lambda b: b.state != "WAIT_SUPPLY", 2.0)
    assert bench.state == "CONDENSATION"            # cold cell
    stable_s = bench.settings.supply.stable_s
    assert stable_s - 1e-9 <= t - t_on <= stable_s + 1.0 / bench.settings.rates.heater_hz + 0.01


def test_wait_supply_needs_continuous_stability():
    bench = Bench(supply_v=13.5, settings=Settings({"supply.stable_s": 1.0}))
    for _ in range(5):                               # supply flickers: up 0.6 s, down 0.1 s
        bench.run_for(0.6)
        bench.supply_v = 9.0
        bench.run_for(0.1)
        bench.supply_v = 13.5
    assert bench.state == "WAIT_SUPPLY"
    bench.run_until(lambda b: b.state == "CONDENSATION", 1.2)


def test_supply_above_max_not_accepted():
    bench = Bench(supply_v=17.0)
    bench.run_for(2.0)
    assert bench.state == "WAIT_SUPPLY" and outputs_zero(bench)


def test_condensation_then_ramp_after_condensation_s():
    bench = Bench(settings=Settings({"heater.condensation_s": 3.0}))
    t0 = bench.run_until(lambda b: b.state == "CONDENSATION", 1.0)
    assert bench.ctl.command.heater_duty > 0.0
    t1 = bench.run_until(lambda b: b.state == "RAMP", 5.0)
    assert 3.0 - 1e-9 <= t1 - t0 <= 3.0 + 0.06
    # The condensation voltage held throughout.
    volts = [bench.supply_v * math.sqrt(d) for t, s, _, d in bench.log if s == "CONDENSATION" and t > t0]
    assert max(volts) <= 2.0 + 1e-9


def test_ramp_to_closed_loop_when_esr_says_hot():
    bench = Bench()
    bench.run_until(lambda b: b.state == "RAMP", 7.0)
    bench.hold_temp = 700.0                          # below target - margin (750)
    bench.run_for(3.0)
    assert bench.state == "RAMP"
    assert not bench.ctl.pump.enabled or bench.ctl.heater.temp_c >= 630.0
    bench.hold_temp = 760.0                          # through the 50 ms Ri filter
    bench.run_until(lambda b: b.state == "CLOSED_LOOP", 0.5)
    assert 750.0 <= bench.ctl.heater.temp_c <= 760.0


def test_warm_cell_skips_condensation():
    bench = Bench(temp_c=600.0)
    bench.hold_temp = 600.0
    bench.run_until(lambda b: b.state != "WAIT_SUPPLY", 1.0)
    assert bench.state == "RAMP"


def test_cold_start_sequence_and_trigger_count():
    bench = Bench()
    calls = count_triggers(bench.ctl)
    bench.to_closed_loop()
    assert calls == ["supply_ok", "condensation_done", "heated"]
    states = []
    for _, s, _, _ in bench.log:
        if not states or states[-1] != s:
            states.append(s)
    assert states == ["WAIT_SUPPLY", "CONDENSATION", "RAMP", "CLOSED_LOOP"]


def test_no_trigger_per_tick_in_steady_closed_loop():
    bench = Bench()
    bench.to_closed_loop()
    bench.run_for(2.0)
    calls = count_triggers(bench.ctl)
    bench.run_for(10.0)                              # 5000 ticks, 200 heater ticks
    assert len(calls) < 10, calls
    assert calls == []
    assert bench.state == "CLOSED_LOOP" and bench.ctl.status().lambda_valid


def test_no_trigger_per_tick_while_waiting_or_stopped():
    bench = Bench(supply_v=5.0)
    calls = count_triggers(bench.ctl)
    bench.run_for(10.0)
    assert calls == []
    bench.supply_v = 13.5
    bench.to_closed_loop()
    bench.ctl.stop()
    calls.clear()
    bench.run_for(10.0)
    assert calls == []
    assert bench.state == "STOPPED"


# --- supply loss ----------------------------------------------------------------------------


@pytest.mark.parametrize("bad_supply", [7.0, 0.0, math.nan, 20.0])
def test_supply_drop_goes_to_wait_supply_with_outputs_zero(bad_supply):
    bench = Bench()
    bench.to_closed_loop()
    bench.run_for(1.0)
    assert bench.ctl.command.heater_duty > 0.0
    bench.supply_v = bad_supply
    t0 = bench.t_s
    t = bench.run_until(lambda b: b.state == "WAIT_SUPPLY", 1.0)
    assert t - t0 <= bench.settings.diagnostics.persist_s + 0.11
    assert outputs_zero(bench)
    assert [e.code for e in bench.ctl.events] == ["supply_out_of_range"]
    assert math.isnan(bench.ctl.status().lambda_value) and not bench.ctl.status().lambda_valid
    bench.run_for(2.0)
    # A supply reading that is no number is also an invalid signal: a fault naming it, not an
    # endless wait for supply (issue 16, item 10).
    unknown = math.isnan(bad_supply)
    assert bench.state == ("FAULT" if unknown else "WAIT_SUPPLY") and outputs_zero(bench)
    if unknown:
        assert [e.code for e in bench.ctl.events] == ["supply_out_of_range", "signal_invalid"]
    assert all(p == 0.0 and d == 0.0 for tt, _, p, d in bench.log if tt >= t)
    # The supply comes back: the still-warm cell ramps (no condensation) back to closed loop.
    bench.supply_v = 13.5
    bench.run_until(lambda b: b.state not in ("WAIT_SUPPLY", "FAULT"), 1.0 + bench.settings.diagnostics.retry_s)
    assert bench.state in ("RAMP", "CONDENSATION")
    bench.to_closed_loop(20.0)
    bench.run_for(2.0)
    assert bench.ctl.status().lambda_valid
    assert not bench.ctl.latched


def test_short_supply_dip_ignored():
    bench = Bench()
    bench.to_closed_loop()
    bench.supply_v = 7.0
    bench.run_for(0.08)                              # shorter than persist_s (0.15 s)
    bench.supply_v = 13.5
    bench.run_for(1.0)
    assert bench.state == "CLOSED_LOOP"
    assert bench.ctl.events == []


def test_supply_hysteresis():
    bench = Bench()
    bench.to_closed_loop()
    bench.supply_v = 9.0                             # below on_v but above off_v: keeps heating
    bench.run_for(3.0)
    assert bench.state == "CLOSED_LOOP" and bench.ctl.events == []


# --- stop / start ---------------------------------------------------------------------------


def test_stop_and_start():
    bench = Bench()
    bench.to_closed_loop()
    bench.run_for(1.0)
    bench.ctl.stop()
    assert bench.state == "STOPPED"
    assert outputs_zero(bench)
    bench.run_for(5.0)
    assert bench.state == "STOPPED" and outputs_zero(bench)
    st = bench.ctl.status()
    assert st.state == "stopped" and not st.lambda_valid and math.isnan(st.lambda_value)
    bench.ctl.start()
    assert bench.state == "WAIT_SUPPLY"
    bench.to_closed_loop(30.0)
    bench.run_for(2.0)
    assert bench.ctl.status().lambda_valid
    assert bench.ctl.events == []


def test_stop_from_every_state():
    for target in ("WAIT_SUPPLY", "CONDENSATION", "RAMP", "CLOSED_LOOP"):
        bench = Bench(settings=Settings({"heater.condensation_s": 2.0}))
        if target != "WAIT_SUPPLY":
            bench.run_until(lambda b, want=target: b.state == want, 40.0)
        bench.ctl.stop()
        bench.step()
        assert bench.state == "STOPPED" and outputs_zero(bench)


def test_start_clears_a_latched_fault():
    bench = Bench(settings=Settings({"diagnostics.max_retries": 1, "diagnostics.retry_s": 0.5}))
    bench.to_closed_loop()
    bench.heater_open = True
    bench.run_for(8.0)
    assert bench.state == "FAULT" and bench.ctl.latched
    assert [e.code for e in bench.ctl.events].count("heater_open") == 2
    assert outputs_zero(bench)
    bench.run_for(5.0)
    assert bench.state == "FAULT" and outputs_zero(bench)
    bench.heater_open = False
    bench.run_for(5.0)
    assert bench.state == "FAULT"                    # latched: the cause clearing is not enough
    bench.ctl.stop()
    bench.ctl.start()
    assert not bench.ctl.latched and bench.state == "WAIT_SUPPLY"
    bench.to_closed_loop(30.0)


# --- other faults through the state machine ------------------------------------------------------


def test_did_not_heat():
    s = Settings({"heater.heat_timeout_s": 10.0})
    bench = Bench(settings=s)
    bench.hold_temp = 20.0                           # never heats
    calls = count_triggers(bench.ctl)
    bench.run_until(lambda b: b.state == "FAULT", 15.0)
    assert bench.ctl.fault_code == "did_not_heat"
    assert outputs_zero(bench)
    assert calls == ["supply_ok", "condensation_done", "fault"]
    bench.run_for(s.diagnostics.retry_s + 0.5)       # retried
    assert bench.state in ("WAIT_SUPPLY", "CONDENSATION")


def test_overtemp_fault_and_retry_when_cooled():
    bench = Bench()
    bench.to_closed_loop()
    bench.hold_temp = 900.0                          # above target + 80
    bench.run_until(lambda b: b.state == "FAULT", 1.0)
    assert bench.ctl.fault_code == "overtemp" and outputs_zero(bench)
    bench.run_for(5.0)                               # still hot: no retry
    assert bench.state == "FAULT"
    bench.hold_temp = None
    bench.temp_c = 700.0
    bench.run_until(lambda b: b.state == "CLOSED_LOOP", 30.0)


def test_undertemp_in_closed_loop_ramps_back():
    bench = Bench()
    bench.to_closed_loop()
    bench.run_for(1.0)
    bench.hold_temp = 650.0                          # below target - 100
    bench.run_until(lambda b: b.state == "RAMP", 1.0)
    assert "undertemp" in [e.code for e in bench.ctl.events]
    bench.hold_temp = None
    bench.run_until(lambda b: b.state == "CLOSED_LOOP", 30.0)


# --- diagram ------------------------------------------------------------------------------------


def test_mermaid_diagram_names_every_state_and_trigger():
    text = mermaid_diagram()
    assert "stateDiagram" in text
    for state in State:
        assert state.name in text
    for t in TRANSITIONS:
        assert t["trigger"] in text


def test_state_doc_matches_code():
    text = DOC.read_text()
    assert mermaid_diagram().strip() in text
    assert text == state_doc()
