"""What the world imposes on the element at one instant: the scenario's output, the element's input."""

from __future__ import annotations

from dataclasses import dataclass

FAULT_KINDS = ("heater_open", "heater_short", "pump_open", "nernst_open", "supply_drop", "readings_invalid")


# World and Faults: built by Cython (world.pxd, lambdarig/aot.py) these are dataclasses with C fields
# (which Cython builds without slots=True), read as C numbers by the built element and board.


@dataclass
class World:
    lambda_value: float  # math.inf means free air
    pressure_kpa: float = 101.325
    gas_temp_c: float = 20.0
    flow_mps: float = 0.0
    supply_v: float = 13.5
    hc_ppm: float = 0.0
    ambient_c: float = 20.0
    air_h2o: float = 0.0  # water mole fraction of the air (free air); 0.0 dry, see humidity.py


@dataclass(frozen=True)
class Faults:
    """Injected faults active at an instant. `supply_drop_v` is the supply while `supply_drop` is on."""

    heater_open: bool = False
    heater_short: bool = False
    pump_open: bool = False
    nernst_open: bool = False
    supply_drop: bool = False
    supply_drop_v: float = 6.0
    readings_invalid: bool = False   # the board's converters give no number: every reading is NaN

    @property
    def any(self) -> bool:
        return (self.heater_open or self.heater_short or self.pump_open or self.nernst_open or self.supply_drop
                or self.readings_invalid)

    def active(self) -> tuple[str, ...]:
        return tuple(kind for kind in FAULT_KINDS if getattr(self, kind))


NO_FAULTS = Faults()

