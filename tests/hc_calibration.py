"""One gas-bench calibration of the hc-mixed HC curve per test process (the `lambdarig calibrate hc-mixed`
flow, ~3 s): the firmware's HC curve has no default, so tests that read HC calibrate first. It runs on
unit CALIBRATION_UNIT of the production spread, and the tests read on the nominal element: a figure on
another unit than the calibrated one."""

from __future__ import annotations

import functools

from lambdarig.cli.calibrate import calibrate_hc
from lambdarig.controller.profiles import settings_for_element
from lambdarig.controller.settings import Settings

CALIBRATION_UNIT = 1


@functools.cache
def hc_values(unit: int | None = CALIBRATION_UNIT) -> dict:
    return calibrate_hc("hc-mixed", 0, unit=unit)


def calibrated_settings(unit: int | None = CALIBRATION_UNIT) -> Settings:
    return settings_for_element("hc-mixed", hc_values(unit))
