"""Emulated SCPI lab instruments on 127.0.0.1, all wired to ONE sensor element running in real time.

A lab station as docs/station.md describes it: an SMU sources the pump current (Keithley 2400 or
2450), a bench supply drives the heater (Rigol DP832, Keysight E36312A or E3631A), and optionally a
second SMU (or a DMM) sits on the Nernst cell. One module per job:

    scpi.py                the SCPI core: message parser, error queue, status registers
    line_server.py         one loopback TCP server per instrument, with failure injection
    station_instrument.py  the base of every model: SCPI core + station wiring, seeded noise
    loads.py               the element's cells as loads on an output (compliance, faults)
    smu.py                 what the SMUs share;   keithley2400.py, keithley2450.py
    supply.py              what the supplies share; rigol_dp832.py, keysight_e36312a.py, keysight_e3631a.py
    keysight_34465a.py     the DMM
    station.py             InstrumentStation: the element, the physics thread, the servers, the station file
    cli.py                 `lambdarig serve instruments` (add_arguments / serve)

The models, their ranges and limits are the catalogue's (protocol/instrument_models.py); the station
file is written with the station schema's own writer (protocol/station.py). This package imports
nothing from the controller or the HAL. Documentation: docs/instruments-emulated.md.
"""

from .station import EMULATED_MODELS, InstrumentStation, StationTruth

__all__ = ["InstrumentStation", "StationTruth", "EMULATED_MODELS"]
