"""Instrument drivers for lab stations (VISA): small, declarative, validated before anything is sent.

    MODELS["keithley2400"]  -> Keithley2400 (SMU)       pump or nernst role
    MODELS["keithley2450"]  -> Keithley2450 (SMU)       pump or nernst role
    MODELS["rigol_dp832"]   -> RigolDP832 (supply)      heater role
    MODELS["keysight_e36312a"] -> KeysightE36312A       heater role
    MODELS["keysight_e3631a"]  -> KeysightE3631A        heater role
    MODELS["keysight_34465a"]  -> Keysight34465A (meter) nernst role

The models themselves (keys, kinds, ranges, channels and their limits) are in the catalogue,
protocol/instrument_models.py, which the station file's schema checks against too; each driver takes
its limits from there. See hal/instruments/base.py for the declarative pattern, logging and error
translation, and docs/station.md for the SCPI each driver sends.
"""

from .base import Choice, Instrument, Param, Range, SMUReading
from .keithley import SMU, Keithley2400, Keithley2450
from .meters import Keysight34465A, Meter
from .supplies import KeysightE3631A, KeysightE36312A, RigolDP832, Supply

MODELS: dict[str, type[Instrument]] = {
    cls.MODEL: cls for cls in (Keithley2400, Keithley2450, RigolDP832, KeysightE36312A, KeysightE3631A,
                               Keysight34465A)
}

__all__ = ["MODELS", "Instrument", "Param", "Range",
           "Choice", "SMUReading", "SMU", "Keithley2400", "Keithley2450", "Supply", "RigolDP832", "KeysightE36312A",
           "KeysightE3631A", "Meter", "Keysight34465A"]
