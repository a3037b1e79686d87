"""Fuels as CH_yO_z per carbon atom, and their stoichiometric air-fuel ratios."""

from __future__ import annotations

from dataclasses import dataclass

from lambdarig.common import validators as check
from lambdarig.common.errors import nearest
from lambdarig.common.validators import Place

from .errors import EmulatorInputError

# Air mass per mol O2 in air, g: (32.00 + 3.774 * 28.01) g.
AIR_G_PER_MOL_O2 = 138.2
H_C_RANGE = (0.0, 10.0)
O_C_RANGE = (0.0, 2.0)


@dataclass(frozen=True, slots=True)
class Fuel:
    """A fuel and how the engine burns it. raw_co_pct > 0 is raw (engine-out) exhaust: that much CO
    (wet %, at lambda 1), with H2 in the frozen water-gas ratio, left unburnt next to O2 at every
    lambda (emulator/exhaust.py); 0 is the equilibrated test gas of the data sheets."""

    name: str
    h_c: float  # hydrogen atoms per carbon atom (y)
    o_c: float  # oxygen atoms per carbon atom (z)
    raw_co_pct: float = 0.0

    @property
    def o2_per_carbon(self) -> float:
        """Stoichiometric O2 demand per carbon atom, a = 1 + y/4 - z/2."""
        return 1.0 + self.h_c / 4.0 - self.o_c / 2.0

    @property
    def afr_stoich(self) -> float:
        """Stoichiometric air-fuel mass ratio."""
        fuel_g_per_carbon = 12.011 + 1.008 * self.h_c + 15.999 * self.o_c
        return AIR_G_PER_MOL_O2 * self.o2_per_carbon / fuel_g_per_carbon


# E85 (85 % ethanol, 15 % gasoline by volume): 0.85 L ethanol = 14.56 mol C2H5OH, 0.15 L gasoline
# CH1.85 at 0.745 kg/L = 8.05 mol C -> C 37.17, H 102.24, O 14.56 per litre of blend.
NAMED_FUELS: dict[str, Fuel] = {
    "gasoline": Fuel("gasoline", 1.85, 0.0),
    "e85": Fuel("e85", 2.751, 0.392),
    "ethanol": Fuel("ethanol", 3.0, 0.5),
    "methanol": Fuel("methanol", 4.0, 1.0),
    "propane": Fuel("propane", 8.0 / 3.0, 0.0),
    "methane": Fuel("methane", 4.0, 0.0),
    "diesel": Fuel("diesel", 1.80, 0.0),
    "iso-octane": Fuel("iso-octane", 2.25, 0.0),
}


def custom_fuel(h_c: float, o_c: float = 0.0, source: str = "fuel") -> Fuel:
    """A fuel given by its H/C and O/C atom ratios."""
    h_c = check.number(h_c, Place(source, "h_c", EmulatorInputError), *H_C_RANGE)
    o_c = check.number(o_c, Place(source, "o_c", EmulatorInputError), *O_C_RANGE)
    if 1.0 + h_c / 4.0 - o_c / 2.0 <= 0.0:
        raise EmulatorInputError(source, "o_c", f"{o_c} leaves the fuel nothing to burn (needs 1 + h_c/4 - o_c/2 > 0)")
    return Fuel(f"custom(h_c={h_c:g},o_c={o_c:g})", float(h_c), float(o_c))


def parse_fuel(text: str, source: str = "fuel") -> Fuel:
    """A named fuel, or `custom:h_c=2.0,o_c=0.1` / `h_c=2.0,o_c=0.1`."""
    key = text.strip().lower()
    if key in NAMED_FUELS:
        return NAMED_FUELS[key]
    body = key.removeprefix("custom:")
    if "h_c" in body:
        values: dict[str, float] = {}
        for part in body.split(","):
            name, _, number = part.partition("=")
            name = name.strip()
            if name not in ("h_c", "o_c"):
                raise EmulatorInputError(source=source, field="fuel", problem=f"unknown fuel parameter {name!r}",
                                         allowed="h_c and o_c", suggestions=nearest(name, ("h_c", "o_c")))
            try:
                values[name] = float(number)
            except ValueError:
                raise EmulatorInputError(source, f"fuel.{name}", f"{number.strip()!r} is not a number") from None
        return custom_fuel(values.get("h_c", 0.0), values.get("o_c", 0.0), source)
    raise EmulatorInputError(source=source, field="fuel", problem=f"unknown fuel {text!r}",
                             allowed=f"{', '.join(NAMED_FUELS)}, or custom:h_c=Y,o_c=Z",
                             suggestions=nearest(key, NAMED_FUELS))
