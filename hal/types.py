"""The data that crosses the seam between firmware and a front end: one `Sample` type (what a front
end measured) and one `Command` type (what the firmware sets), the same on every backend.

`Controller.tick(sample) -> Command` reads a Sample and returns a Command; every front end's
`sample()` returns a Sample (the sim backend too: the emulated board builds its readings as this
type) and `apply(command)` takes a Command.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from lambdarig.common.errors import LambdarigError


@dataclass(slots=True)
class Sample:
    """One reading from the front end, in SI units. Fields a front end cannot measure are NaN.

    The field order is part of the type: the emulated board builds samples positionally.
    """

    t_s: float               # when it was taken, on the front end's clock (virtual time in sim)
    nernst_v: float          # Nernst-cell DC voltage
    pump_current_a: float    # measured pump current (positive pumps O2 out: lean)
    ri_ohm: float = math.nan     # Nernst-cell ESR; NaN while excitation is off or not measured
    heater_v: float = math.nan   # RMS voltage on the heater terminals
    heater_a: float = math.nan   # RMS heater current
    supply_v: float = math.nan   # heater supply
    pump_v: float = math.nan     # pump-driver output voltage, when the board measures it
    sense_v: float = math.nan    # a second cell's voltage (the measuring cell of a mixed-potential element)
    pressure_kpa: float = math.nan   # exhaust pressure from a pressure input (absolute), when the front end has one


@dataclass(slots=True)
class Command:
    """What the firmware sets. Heater as a PWM duty (0..1) of the supply.

    A Controller owns one Command and returns it from every tick, updated in place (no object per
    tick in the 500 Hz loop): a front end reads it in apply(); keep a copy
    (`dataclasses.replace(command)`) to hold on to one tick's values.
    """

    pump_current_a: float = 0.0
    heater_duty: float = 0.0
    excitation: bool = True
    # The two 0-5 V analog outputs (lambda or AFR through the settings' curves); front ends with a
    # DAC drive them (a rig with CAP_ANALOG_OUT), the sim records them.
    analog_out1_v: float = 0.0
    analog_out2_v: float = 0.0


SAFE_COMMAND = Command(0.0, 0.0, True)


@dataclass(frozen=True)
class FrontEndInfo:
    """Identity, capabilities and limits of a front end."""

    kind: str                          # "sim", "serial", "visa", ...
    name: str                          # e.g. "sim:lsu49"
    element: str = ""                  # the element behind it when known (sim: always)
    measures_ri: bool = True
    measures_heater: bool = True
    measures_pump_v: bool = False
    pump_current_min_a: float = -10e-3
    pump_current_max_a: float = 10e-3
    virtual_time: bool = False         # True: wait_until integrates physics instead of sleeping
    has_truth: bool = False            # True: truth() gives the emulator's true values (sim only)
    trim_ohm: float = math.nan         # the sensor's trim resistor as measured; NaN: not measured / none
    details: dict = field(default_factory=dict)


class FrontEndError(LambdarigError, RuntimeError):
    """A front end could not do what was asked (link lost, instrument error, ...)."""


class LinkLost(FrontEndError):
    """The front end stopped answering."""
