"""The 0.8 -> 1.2 step figure of benchmarks/control_quality.py (section 4) and its reference, the
ideal loop: the same element held by a stiff loop with the firmware's pump-current limits.

Why the firmware's reading can enter the ±2 % band before the ideal loop's: its loop first lags
(the cavity stores O2), then pumps that O2 out on top of the flux, so its reading runs ahead of the
gas behind the tube for a while. These tests pin that explanation, and that the reference is the tube
and not the loop or the cavity."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import control_quality as cq  # noqa: E402

from lambdarig.controller.settings import Settings  # noqa: E402

TUBE_TAU_S = 1.0 / (2.0 + 4.0 * 10.0)   # lsu49.toml: exchange 2 /s still + 4 /s per m/s, at 10 m/s


@pytest.fixture(scope="module")
def ideal() -> dict:
    return cq.ideal_loop()


@pytest.fixture(scope="module")
def ours() -> cq.Record:
    return cq.controller_step(cq.ours)


def test_the_ideal_loop_is_as_fast_as_the_protection_tube(ideal):
    assert ideal["t63_s"] == pytest.approx(TUBE_TAU_S, rel=0.05)
    assert 0.075 < ideal["settle_s"] < 0.095
    pump = Settings().pump
    assert ideal["peak_current_a"] < min(-pump.current_min_a, pump.current_max_a)   # the limits do not bind here


def test_the_ideal_loops_settling_does_not_depend_on_its_gains(ideal):
    """A stiffer loop is not faster: the reference is the gas behind the tube, not a loop tuning."""
    assert cq.ideal_loop(gain=3.0)["settle_s"] == pytest.approx(ideal["settle_s"], abs=0.002)


def test_the_firmware_reads_nothing_before_the_gas_arrives(ours):
    early = (ours.t >= cq.STEP_T_S) & (ours.t < cq.STEP_T_S + 0.004)
    assert early.any() and np.all(np.abs(ours.lam[early] - 0.8) < 0.002)


def test_the_firmware_enters_the_band_early_by_running_ahead_of_the_gas(ours, ideal):
    settle = cq.settle_time(ours.t, ours.lam, 1.2 * 0.98, 1.2 * 1.02, cq.STEP_T_S)
    tracking_s, lead, lag = cq.tracking(ours, ideal)
    assert settle < ideal["settle_s"]          # the figure: 52 ms against 84 ms
    assert lead > 0.03 and lag < -0.03         # first behind the gas, then ahead of it
    assert tracking_s < 1.3 * ideal["settle_s"]   # and with the gas (within 2 %) soon after the ideal loop
