"""Controller.status() runs at every telemetry tick inside the control loop, so it reads each value once
by the shortest way (the state's `_value_`, the estimate's fields, the first warning by min()). It
must report exactly what the readable definitions say: checked here against them, field by field, at
every telemetry tick of runs that pass through warm-up, the closed loop, faults and warnings, an HC
element, a potentiometric one and the ECU's heater allow."""

from __future__ import annotations

import math

import pytest

from lambdarig.choose_settings import settings_for_simulation
from lambdarig.controller.core import Controller, Status
from lambdarig.controller.runtime import Runtime
from lambdarig.controller.settings import Settings
from lambdarig.hal.registry import open_frontend
from lambdarig.inputs import Caller


def readable_status(ctl: Controller) -> Status:
    """What status() reports, written from the controller's readable definitions (properties and all)."""
    sample = ctl._sample
    temp_c = ctl.heater.temp_c
    lam, o2_pct, afr = ctl._reading(temp_c)
    hc_ppm = math.nan
    if ctl.mode == "hc" and ctl.lambda_valid:
        hc_ppm = ctl.hc_ppm_from(ctl._hc_delta_v, temp_c)
    fault = ctl.fault_code or next(iter(sorted(ctl.warnings)), "")
    return Status(ctl._now_s, ctl.state.value, lam, o2_pct, afr, ctl.lambda_valid, sample.nernst_v,
                  sample.pump_current_a, ctl.heater.estimate.ri_filtered, ctl.heater.temp_c, ctl.heater.voltage_v,
                  ctl.command.heater_duty, sample.supply_v, fault, ctl.pump.saturated, hc_ppm,
                  ctl.command.analog_out1_v, ctl.command.analog_out2_v, ctl.heater_allowed)


class Compare:
    """Sink: status() against readable_status() at every telemetry tick (repr: NaN equals NaN)."""

    def __init__(self, ctl: Controller, ecu_allow_until_s: float = math.inf):
        self.ctl = ctl
        self.ecu_allow_until_s = ecu_allow_until_s
        self.checked = 0
        self.states: set[str] = set()
        self.faults: set[str] = set()
        self.valid = 0
        self.allowed: set[bool] = set()
        self.hc_numbers = 0

    def __call__(self, status: Status, truth: object) -> None:
        assert repr(status) == repr(readable_status(self.ctl))
        self.checked += 1
        self.states.add(status.state)
        self.faults.add(status.fault)
        self.valid += status.lambda_valid
        self.allowed.add(status.heater_allowed)
        self.hc_numbers += status.hc_ppm == status.hc_ppm
        if status.t_s < self.ecu_allow_until_s:   # the ECU's frames stop at this time
            self.ctl.set_heater_allowed(True, status.t_s)


def run(element: str, scenario: str, duration_s: float, settings: dict | None = None,
        ecu_allow_until_s: float = math.inf) -> Compare:
    fe = open_frontend(f"sim:{element}", scenario=scenario, seed=3)
    ctl = Controller(settings_for_simulation(settings, element, Caller("test")))
    check = Compare(ctl, ecu_allow_until_s)
    try:
        Runtime(fe, ctl, sinks=[check]).run(duration_s)
    finally:
        fe.close()
    return check


# An HC curve (an assumed line, not a fit), so that the HC element reports a number when valid.
HC_CURVE = {"hc.calibrated": True, "hc.e100_mv": -21.0, "hc.slope_mv_per_decade": -47.0}


@pytest.mark.parametrize("element, scenario, duration_s, settings", [
    ("lsu49", "default", 30.0, None), ("lsu49", "faults", 60.0, None), ("hc-mixed", "hc-steps", 40.0, HC_CURVE),
    ("sealed-ref", "default", 30.0, None)])
def test_status_reports_what_the_readable_definitions_say(element, scenario, duration_s, settings):
    check = run(element, scenario, duration_s, settings)
    assert check.checked > 100 * duration_s * 0.99
    assert "closed_loop" in check.states and check.valid > 0   # the readings were compared, not only NaN
    if settings is HC_CURVE:
        assert check.hc_numbers > 0
    if scenario == "faults":
        assert len(check.faults - {""}) >= 1


def test_status_follows_the_ecus_heater_allow():
    # The ECU's allow comes until 20 s, then lapses: status() reports both.
    check = run("lsu49", "default", 25.0, {"can.heater_allow": "can"}, ecu_allow_until_s=20.0)
    assert check.checked > 2400 and "closed_loop" in check.states and check.allowed == {True, False}


def test_the_fault_field_names_the_first_warning_by_name():
    ctl = Controller(Settings())
    ctl.warnings.update({"undertemp", "can_lost", "supply_low"})
    assert ctl.status().fault == "can_lost" == readable_status(ctl).fault
    ctl.fault_code = "heater_open"
    assert ctl.status().fault == "heater_open"
