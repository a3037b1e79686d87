"""The instrument catalogue (protocol/instrument_models.py) is the one source of the models' facts:
the HAL's drivers and the emulated instruments name the same models, of the same kinds, with the
same ranges and channel limits, and the protocol leaf imports neither of them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lambdarig.emulator.instruments import EMULATED_MODELS
from lambdarig.emulator.instruments.smu import EmulatedSmu
from lambdarig.emulator.instruments.station_instrument import StationInstrument
from lambdarig.emulator.instruments.supply import EmulatedSupply
from lambdarig.hal.instruments import MODELS as DRIVERS
from lambdarig.protocol.instrument_models import (
    KEYSIGHT_E3631A,
    MODELS,
    RIGOL_DP832,
    ROLE_MODELS,
    SmuModel,
    SupplyModel,
)

REPO = Path(__file__).resolve().parents[1]


def test_drivers_and_emulated_models_name_exactly_the_catalogue():
    assert list(DRIVERS) == list(MODELS)
    assert set(EMULATED_MODELS) == set(MODELS)
    assert ROLE_MODELS == {"pump": ("keithley2400", "keithley2450"), "pressure": ("keysight_34465a",),
                           "heater": ("rigol_dp832", "keysight_e36312a", "keysight_e3631a"),
                           "nernst": ("keithley2400", "keithley2450", "keysight_34465a"),
                           "analog_out": ("rigol_dp832", "keysight_e36312a", "keysight_e3631a"),
                           "trim": ("keysight_34465a",)}


@pytest.mark.parametrize("key", list(MODELS))
def test_each_driver_takes_its_limits_from_the_catalogue(key):
    model, driver = MODELS[key], DRIVERS[key]
    assert (driver.MODEL, driver.KIND, driver.DESCRIPTION) == (model.key, model.kind, model.description)
    if isinstance(model, SmuModel):
        assert driver.CURRENT_RANGES == model.current_ranges_a
        assert driver.MAX_CURRENT_A == model.max_current_a
        assert (driver.COMPLIANCE_RANGE.lo, driver.COMPLIANCE_RANGE.hi) == (model.min_compliance_v,
                                                                            model.max_compliance_v)
        level = driver.PARAMS["source_current_a"].validator
        assert (level.lo, level.hi) == (-model.max_current_a, model.max_current_a)
    if isinstance(model, SupplyModel):
        assert driver.CHANNELS == model.heater_channels
        assert driver.REFUSED_CHANNELS == model.refused_channels
        for n in model.heater_channels:
            assert driver.CHANNEL_LIMITS[n] == (model.channel(n).max_voltage_v, model.channel(n).max_current_a)


@pytest.mark.parametrize("key", list(MODELS))
def test_each_emulated_model_is_its_own_class_on_the_catalogue_entry(key):
    model, cls = MODELS[key], EMULATED_MODELS[key]
    assert cls.MODEL is model
    base = {"smu": EmulatedSmu, "supply": EmulatedSupply, "meter": StationInstrument}[model.kind]
    assert issubclass(cls, base) and cls is not base
    # one module per model, named after it
    assert cls.__module__ == f"lambdarig.emulator.instruments.{key}"


def test_supply_channels_that_cannot_drive_a_heater_say_why():
    assert KEYSIGHT_E3631A.heater_channels == (1, 2)
    assert "negative output" in KEYSIGHT_E3631A.refused_channels[3]
    assert RIGOL_DP832.refused_channels == {}
    assert [RIGOL_DP832.channel(n).rating for n in (1, 3)] == ["30V/3A", "5V/3A"]
    assert KEYSIGHT_E3631A.channel(3).rating == "-25V/1A"


def test_the_protocol_leaf_imports_neither_hal_nor_emulator():
    code = ("import sys, lambdarig.protocol.station, lambdarig.protocol.instrument_models; "
            "bad = [m for m in sys.modules if m.startswith(('lambdarig.hal', 'lambdarig.emulator', "
            "'lambdarig.controller'))]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=30,
                   env={**os.environ, "PYTHONPATH": str(REPO)})
