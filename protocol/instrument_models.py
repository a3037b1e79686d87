"""The lab instrument models a station file may name, with the limits of each.

Both ends of a VISA station take their facts from here: the station schema (protocol/station.py)
checks a file against these limits, the HAL's drivers (hal/instruments) validate what they send
against them, and the emulated instruments (emulator/instruments) imitate them. A model is named
by its key (`keithley2400`); its kind says which roles it can play:

    pump    an SMU sourcing the pump current          keithley2400, keithley2450
    heater  one channel of a programmable supply      rigol_dp832, keysight_e36312a, keysight_e3631a
    nernst  an SMU (reference current, ESR) or a DMM  keithley2400, keithley2450, keysight_34465a
    analog_out  optional: one channel of a supply as the controller's analog output 1 (0-5 V)
    trim    optional: a DMM reading the sensor's trim resistor (2-wire ohms, once at connect)  keysight_34465a
    pressure  optional: a DMM reading an exhaust-pressure transducer's output volts        keysight_34465a
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

ROLES = ("pump", "heater", "nernst", "analog_out", "trim", "pressure")   # optional roles appended at the end


@dataclass(frozen=True)
class CatalogueEntry:
    """What every model has: its key (as a station file names it), a description, and its kind."""

    kind: ClassVar[str]
    key: str
    description: str


@dataclass(frozen=True)
class SmuModel(CatalogueEntry):
    """A source-measure unit that sources current and measures voltage."""

    kind: ClassVar[str] = "smu"
    current_ranges_a: tuple[float, ...]
    voltage_ranges_v: tuple[float, ...]
    min_compliance_v: float
    max_compliance_v: float = 210.0
    max_current_a: float = 1.05


@dataclass(frozen=True)
class SupplyChannel:
    """One output of a supply. `refused` says why it cannot drive a heater ("" when it can)."""

    name: str
    min_voltage_v: float
    max_voltage_v: float
    max_current_a: float
    refused: str = ""

    @property
    def rating(self) -> str:
        """'30V/3A': the output's rating as the front panel prints it."""
        peak_v = self.max_voltage_v or self.min_voltage_v
        return f"{peak_v:g}V/{self.max_current_a:g}A"


@dataclass(frozen=True)
class SupplyModel(CatalogueEntry):
    """A programmable supply; channel n (1-based) is channels[n - 1]."""

    kind: ClassVar[str] = "supply"
    channels: tuple[SupplyChannel, ...]
    default_heater_channel: int

    def channel(self, number: int) -> SupplyChannel:
        return self.channels[number - 1]

    @property
    def heater_channels(self) -> tuple[int, ...]:
        """The channel numbers that can drive a heater."""
        return tuple(n for n, ch in enumerate(self.channels, start=1) if not ch.refused)

    @property
    def refused_channels(self) -> dict[int, str]:
        """Channel number -> why it cannot drive a heater."""
        return {n: ch.refused for n, ch in enumerate(self.channels, start=1) if ch.refused}


@dataclass(frozen=True)
class MeterModel(CatalogueEntry):
    """A DC voltmeter: it sources nothing (no reference current, no ESR)."""

    kind: ClassVar[str] = "meter"


InstrumentModel = SmuModel | SupplyModel | MeterModel

KEITHLEY_2400 = SmuModel(
    "keithley2400", "Keithley 2400 SourceMeter (SCPI)",
    current_ranges_a=(1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0),
    voltage_ranges_v=(0.2, 2.0, 20.0, 200.0),
    min_compliance_v=0.0002)
KEITHLEY_2450 = SmuModel(
    "keithley2450", "Keithley 2450 SourceMeter (SCPI command set)",
    current_ranges_a=(10e-9, 100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0),
    voltage_ranges_v=(0.02, 0.2, 2.0, 20.0, 200.0),
    min_compliance_v=0.02)
RIGOL_DP832 = SupplyModel(
    "rigol_dp832", "Rigol DP832 (3 channels)",
    channels=(SupplyChannel("CH1", 0.0, 30.0, 3.0), SupplyChannel("CH2", 0.0, 30.0, 3.0),
              SupplyChannel("CH3", 0.0, 5.0, 3.0)),
    default_heater_channel=1)
KEYSIGHT_E36312A = SupplyModel(
    "keysight_e36312a", "Keysight E36312A (3 channels)",
    channels=(SupplyChannel("CH1", 0.0, 6.0, 5.0), SupplyChannel("CH2", 0.0, 25.0, 1.0),
              SupplyChannel("CH3", 0.0, 25.0, 1.0)),
    default_heater_channel=2)
KEYSIGHT_E3631A = SupplyModel(
    "keysight_e3631a", "Keysight E3631A (P6V, P25V; one output switch for all)",
    channels=(SupplyChannel("P6V", 0.0, 6.0, 5.0), SupplyChannel("P25V", 0.0, 25.0, 1.0),
              SupplyChannel("N25V", -25.0, 0.0, 1.0,
                            refused="channel 3 (N25V) is a negative output (0 to -25 V); use 1 (P6V) or 2 (P25V)")),
    default_heater_channel=2)
KEYSIGHT_34465A = MeterModel("keysight_34465a", "Keysight 34465A digital multimeter")

MODELS: dict[str, InstrumentModel] = {
    model.key: model for model in (KEITHLEY_2400, KEITHLEY_2450, RIGOL_DP832, KEYSIGHT_E36312A, KEYSIGHT_E3631A,
                                   KEYSIGHT_34465A)
}
SMU_MODELS = tuple(key for key, model in MODELS.items() if model.kind == "smu")
SUPPLY_MODELS = tuple(key for key, model in MODELS.items() if model.kind == "supply")
METER_MODELS = tuple(key for key, model in MODELS.items() if model.kind == "meter")
ROLE_MODELS: dict[str, tuple[str, ...]] = {
    "pump": SMU_MODELS, "heater": SUPPLY_MODELS, "nernst": SMU_MODELS + METER_MODELS, "analog_out": SUPPLY_MODELS,
    "trim": METER_MODELS,
    "pressure": METER_MODELS,
}


__all__ = ["ROLES", "CatalogueEntry", "SmuModel", "SupplyChannel", "SupplyModel", "MeterModel", "InstrumentModel",
           "MODELS", "SMU_MODELS", "SUPPLY_MODELS", "METER_MODELS", "ROLE_MODELS", "KEITHLEY_2400", "KEITHLEY_2450",
           "RIGOL_DP832", "KEYSIGHT_E36312A", "KEYSIGHT_E3631A", "KEYSIGHT_34465A"]
