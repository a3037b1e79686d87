"""Sensor-element description files: what an element is made of, loaded and checked.

An element file names its measuring gas node, the diffusion layers between it and the exhaust, its
reference, its cells, the couplings between them, its heater and its thermal mass. The same schema
serves wideband (pump + Nernst), potentiometric (sealed reference, no pump) and mixed-potential
(pumped compartment + non-catalytic measuring electrode) elements; a section a family does not use
is simply absent.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from lambdarig.common.errors import nearest
from lambdarig.common.overrides import apply_override
from lambdarig.common.tables import TableReader
from lambdarig.common.toml_file import read_toml_file
from lambdarig.common.validators import show

from .equilibrium import METAL_OXIDE_BUFFERS
from .errors import EmulatorInputError
from .variation_spec import Ageing, ExhaustLimits, Tolerance, parse_ageing, parse_exhaust_limits, parse_tolerance

FAMILIES = ("wideband", "potentiometric", "hc")
REFERENCE_KINDS = ("air", "pumped", "sealed")
SPECIES_WITH_FACTORS = ("O2", "H2", "CO", "HC")
TOP_KEYS = ("name", "family", "description", "source", "nernst_target_v", "operating_temp_c", "measuring_node",
            "diffusion_layer", "diffusion_species_factor", "protection_tube", "reference", "nernst_cell", "pump_cell",
            "coupling", "heater", "thermal", "partial_catalysis", "measuring_cell", "tolerance", "ageing",
            "exhaust_limits")


@dataclass(frozen=True)
class DiffusionLayer:
    name: str
    pore_diameter_um: float      # sets the Knudsen share, hence the pressure sensitivity
    area_over_length_um: float   # effective open area / path length (porosity/tortuosity lumped in)


@dataclass(frozen=True)
class MeasuringNode:
    volume_mm3: float
    catalytic: bool
    oxygen_storage_mol: float = 0.0      # O2 the electrode's adsorbed-oxygen store holds when full
    storage_half_po2_bar: float = 1e-9   # pO2 at half coverage (Langmuir, dissociative)


@dataclass(frozen=True)
class PartialCatalysis:
    """A partly catalytic electrode in a non-catalytic node (the Pt-Au inner pumping electrode of a
    mixed-potential element): it burns each reducer with the node's O2 at a finite first-order rate,
    k(T) = k_ref·exp(−(E/k_B)(1/T − 1/T_ref)), slowed when O2 runs short by x_O2/(x_O2 + o2_half)."""

    h2_per_s: float
    co_per_s: float
    hc_per_s: float
    h2_e_ev: float
    co_e_ev: float
    hc_e_ev: float
    ref_temp_c: float
    o2_half_fraction: float


@dataclass(frozen=True)
class MeasuringCell:
    """The mixed-potential measuring cell (non-equilibrium electrode in the node vs the reference).

    Its reading is the control-cell Nernst term plus ΔV = −S(T)·log10(1 + c_eq/c0) +
    β·log10(x_O2/x_O2,0), with c_eq = Σ w_i·ppm_i in the node and S(T) = S_ref·exp(s_temp_coeff·(T − T_ref))."""

    s_mv_per_decade: float       # S at ref_temp_c
    s_temp_coeff_per_k: float    # d ln S / dT
    ref_temp_c: float
    c0_ppm: float                # concentration scale: linear response below, logarithmic above
    w_hc: float                  # cross-sensitivity weights, per ppm, HC (C3H6) = 1
    w_co: float
    w_h2: float
    beta_mv_per_decade: float    # dependence on the node's O2
    o2_ref_fraction: float       # x_O2,0: the O2 at which the β term is zero
    kappa: float                 # share of the pump cell's electrolyte drop seen by the measuring cell


@dataclass(frozen=True)
class ProtectionTube:
    exchange_still_per_s: float  # gas exchange by diffusion through the tube holes with no flow
    exchange_per_mps: float      # extra exchange per m/s of exhaust velocity (flushing)


@dataclass(frozen=True)
class Reference:
    kind: str
    pump_current_a: float = 0.0         # recommended reference pumping current (pumped kind)
    volume_mm3: float = 0.0
    leak_pore_diameter_um: float = 0.0
    leak_area_over_length_um: float = 0.0
    buffer: str = ""                    # sealed kind: metal/metal-oxide couple


@dataclass(frozen=True)
class NernstCell:
    r1_ohm: float       # ESR = r1*exp(e1/kT) + r2*exp(e2/kT): grain interior + grain boundary
    e1_ev: float
    r2_ohm: float
    e2_ev: float
    arc_r_ohm_at_ref: float   # electrode charge-transfer arc R_ct at ref_temp_c ...
    arc_e_ev: float
    arc_c_f: float            # ... in parallel with the double-layer capacitance
    ref_temp_c: float


@dataclass(frozen=True)
class PumpCell:
    r_ohm_at_ref: float              # ohmic resistance; follows the Nernst cell's Arrhenius law
    exchange_current_a_at_ref: float
    exchange_e_ev: float


@dataclass(frozen=True)
class Coupling:
    shared_r_ohm: float        # common lead + shared electrode between pump and Nernst circuits
    kappa: float               # fraction of the pump cell's electrolyte drop seen by the Nernst cell
    barrier_present: bool      # an insulating barrier layer between the cells
    barrier_kappa: float       # residual coupling through the barrier's cut-outs
    heater_leak_ohm: float     # heater -> Nernst insulation resistance

    @property
    def effective_kappa(self) -> float:
        return self.barrier_kappa if self.barrier_present else self.kappa


@dataclass(frozen=True)
class Heater:
    r_cold_ohm: float   # at 20 °C, terminals, leads included
    r_lead_ohm: float   # cable + connector: does not heat the element
    alpha_per_k: float  # temperature coefficient of the heating track


@dataclass(frozen=True)
class Thermal:
    c_heater_j_per_k: float
    c_cell_j_per_k: float
    g_heater_cell_w_per_k: float
    g_still_w_per_k: float          # natural convection + conduction to the mount, still gas
    g_forced_w_per_k_at_10mps: float  # forced convection at 10 m/s; scales with sqrt(velocity)
    emissivity_area_mm2: float      # epsilon * A for radiation to the pipe wall


@dataclass(frozen=True)
class ElementSpec:
    name: str
    family: str
    description: str
    source: str
    nernst_target_v: float
    operating_temp_c: float
    measuring_node: MeasuringNode | None
    diffusion_layers: tuple[DiffusionLayer, ...]
    species_factor: dict[str, float]
    protection_tube: ProtectionTube
    reference: Reference
    nernst_cell: NernstCell
    pump_cell: PumpCell | None
    coupling: Coupling
    heater: Heater
    thermal: Thermal
    path: str = ""
    measuring_cell: MeasuringCell | None = None        # family "hc" only
    partial_catalysis: PartialCatalysis | None = None  # non-catalytic measuring node only
    # Production and ageing (emulator/variation_spec.py, production.py, ageing.py). trim_ohm is the
    # trim resistor (pin 5, IA) production fitted to this unit, None when there is none: elements
    # without one (LSU ADV, the seed elements) and the nominal element, which is the data-sheet
    # characteristic itself and needs no trim (the same as an open trim: correction factor 1).
    trim_ohm: float | None = None
    tolerance: Tolerance | None = None
    ageing: Ageing | None = None
    exhaust_limits: ExhaustLimits | None = None
    unit: int | None = None     # the production unit drawn (None: nominal)
    age_h: float = 0.0          # operating hours the element has aged by


def _package_dir() -> Path:
    return Path(str(resources.files("lambdarig.emulator.elements")))


def element_names() -> list[str]:
    return sorted(p.stem for p in _package_dir().glob("*.toml"))


def element_path(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or "/" in name_or_path or "\\" in name_or_path:
        return candidate   # a path: read_toml_file says what is wrong with it, if anything
    path = _package_dir() / f"{name_or_path}.toml"
    try:
        known_name = path.is_file()
    except OSError:   # a name the system cannot look up (too long): no element of the package
        known_name = False
    if not known_name:
        known = element_names()
        raise EmulatorInputError(source="element", field="name", problem=f"unknown element {show(name_or_path)}",
                                 allowed=", ".join(known) + ", or a path to an element .toml file",
                                 suggestions=nearest(name_or_path, known))
    return path


def load_element_toml(name_or_path: str) -> dict[str, Any]:
    """An element file's raw table (for what-if edits); EmulatorInputError when it cannot be read."""
    return read_toml_file(element_path(name_or_path), error=EmulatorInputError)


def element_summary(name: str) -> str:
    data = load_element_toml(name)
    return f"{data.get('family', '?'):<14} {data.get('description', '')}"


def load_element(name_or_path: str, overrides: list[str] | None = None) -> ElementSpec:
    path = element_path(name_or_path)
    data = read_toml_file(path, error=EmulatorInputError)
    source = str(path)
    if overrides:
        data = copy.deepcopy(data)
        for assignment in overrides:
            apply_override(data, assignment, f"{source} (override)", error=EmulatorInputError)
    return parse_element(data, source)


def parse_element(data: dict[str, Any], source: str) -> ElementSpec:
    top = TableReader(data, source, error=EmulatorInputError, keys=TOP_KEYS)
    name = top.text("name")
    family = top.text("family", FAMILIES)
    description = top.text("description", default="")
    origin = top.text("source")
    target = top.number("nernst_target_v", -1.5, 1.5, unit="V")
    op_temp = top.number("operating_temp_c", 300, 1100, unit="°C")

    node = None
    node_table = top.sub("measuring_node", required=family != "potentiometric")
    if node_table is not None:
        node = MeasuringNode(node_table.number("volume_mm3", 1e-4, 10.0, unit="mm³"),
                             node_table.boolean("catalytic", True),
                             node_table.number("oxygen_storage_mol", 0.0, 1e-6, default=0.0, unit="mol"),
                             node_table.number("storage_half_po2_bar", 1e-30, 1.0, default=1e-9, unit="bar"))
        node_table.finish()
        # A non-catalytic node tracks O2 and the reducers apart, burnt at finite rates: it exists for
        # the mixed-potential measuring cell, and an HC element needs it (a catalytic compartment
        # would burn the HC before the measuring electrode saw it).
        if family == "hc" and node.catalytic:
            raise EmulatorInputError(source, "measuring_node.catalytic",
                                     "must be false for family \"hc\" (the mixed-potential measuring electrode "
                                     "must see unburnt gas)")
        if family != "hc" and not node.catalytic:
            raise EmulatorInputError(source, "measuring_node.catalytic",
                                     f"false is only supported for family \"hc\" (a non-catalytic node with a "
                                     f"mixed-potential measuring cell); family {family!r}: allowed true")
        if not node.catalytic and node.oxygen_storage_mol:
            raise EmulatorInputError(source, "measuring_node.oxygen_storage_mol",
                                     "must be 0 for a non-catalytic node (the store is a catalytic-electrode model)")

    layers = []
    for layer in top.tables("diffusion_layer", required=family != "potentiometric"):
        layers.append(DiffusionLayer(layer.text("name", default="layer"),
                                     layer.number("pore_diameter_um", 0.005, 1000.0, unit="µm"),
                                     layer.number("area_over_length_um", 1e-3, 1e5, unit="µm")))
        layer.finish()
    if family != "potentiometric" and not layers:
        raise EmulatorInputError(source, "diffusion_layer", "a pumped element needs at least one diffusion layer")

    factors = {species: 1.0 for species in SPECIES_WITH_FACTORS}
    factor_table = top.sub("diffusion_species_factor", required=False)
    if factor_table is not None:
        for species in SPECIES_WITH_FACTORS:
            factors[species] = factor_table.number(species, 0.2, 5.0, default=1.0)
        factor_table.finish()

    tube_table = top.sub("protection_tube")
    tube = ProtectionTube(tube_table.number("exchange_still_per_s", 0.01, 1e4, unit="1/s"),
                          tube_table.number("exchange_per_mps", 0.0, 1e4, unit="1/(s·m/s)"))
    tube_table.finish()

    ref_table = top.sub("reference")
    kind = ref_table.text("kind", REFERENCE_KINDS)
    if kind == "pumped":
        reference = Reference(kind,
                              pump_current_a=ref_table.number("pump_current_a", 0.0, 100e-6, unit="A"),
                              volume_mm3=ref_table.number("volume_mm3", 1e-4, 10.0, unit="mm³"),
                              leak_pore_diameter_um=ref_table.number("leak_pore_diameter_um", 0.005, 100.0, unit="µm"),
                              leak_area_over_length_um=ref_table.number("leak_area_over_length_um", 1e-4, 1e3,
                                                                        unit="µm"))
    elif kind == "sealed":
        reference = Reference(kind, buffer=ref_table.text("buffer", tuple(METAL_OXIDE_BUFFERS)))
    else:
        reference = Reference(kind)
    ref_table.finish()

    nernst_table = top.sub("nernst_cell")
    nernst = NernstCell(nernst_table.number("r1_ohm", 1e-9, 1e6, unit="Ω"),
                        nernst_table.number("e1_ev", 0.1, 2.0, unit="eV"),
                        nernst_table.number("r2_ohm", 0.0, 1e6, unit="Ω"),
                        nernst_table.number("e2_ev", 0.1, 2.5, unit="eV"),
                        nernst_table.number("arc_r_ohm_at_ref", 0.0, 1e5, unit="Ω"),
                        nernst_table.number("arc_e_ev", 0.1, 2.5, unit="eV"),
                        nernst_table.number("arc_c_f", 1e-9, 1e-2, unit="F"),
                        nernst_table.number("ref_temp_c", 300, 1100, unit="°C"))
    nernst_table.finish()

    pump = None
    pump_table = top.sub("pump_cell", required=family != "potentiometric")
    if pump_table is not None:
        pump = PumpCell(pump_table.number("r_ohm_at_ref", 1.0, 1e5, unit="Ω"),
                        pump_table.number("exchange_current_a_at_ref", 1e-6, 1.0, unit="A"),
                        pump_table.number("exchange_e_ev", 0.1, 3.0, unit="eV"))
        pump_table.finish()

    coupling_table = top.sub("coupling")
    coupling = Coupling(coupling_table.number("shared_r_ohm", 0.0, 1000.0, unit="Ω"),
                        coupling_table.number("kappa", 0.0, 1.0),
                        coupling_table.boolean("barrier_present", False),
                        coupling_table.number("barrier_kappa", 0.0, 1.0, default=0.0),
                        coupling_table.number("heater_leak_ohm", 1e4, 1e12, unit="Ω"))
    coupling_table.finish()

    heater_table = top.sub("heater")
    heater = Heater(heater_table.number("r_cold_ohm", 0.5, 100.0, unit="Ω"),
                    heater_table.number("r_lead_ohm", 0.0, 10.0, unit="Ω"),
                    heater_table.number("alpha_per_k", 0.0, 0.01, unit="1/K"))
    heater_table.finish()
    if heater.r_lead_ohm >= heater.r_cold_ohm:
        raise EmulatorInputError(source, "heater.r_lead_ohm",
                                 f"{heater.r_lead_ohm:g} Ω must be below heater.r_cold_ohm ({heater.r_cold_ohm:g} Ω)")

    thermal_table = top.sub("thermal")
    thermal = Thermal(thermal_table.number("c_heater_j_per_k", 1e-3, 10.0, unit="J/K"),
                      thermal_table.number("c_cell_j_per_k", 1e-3, 10.0, unit="J/K"),
                      thermal_table.number("g_heater_cell_w_per_k", 1e-3, 100.0, unit="W/K"),
                      thermal_table.number("g_still_w_per_k", 1e-5, 1.0, unit="W/K"),
                      thermal_table.number("g_forced_w_per_k_at_10mps", 0.0, 1.0, unit="W/K"),
                      thermal_table.number("emissivity_area_mm2", 0.0, 1000.0, unit="mm²"))
    thermal_table.finish()

    catalysis = None
    non_catalytic = node is not None and not node.catalytic
    cat_table = top.sub("partial_catalysis", required=non_catalytic)
    if cat_table is not None:
        if not non_catalytic:
            raise EmulatorInputError(source, "partial_catalysis",
                                     "only for a non-catalytic measuring node (measuring_node.catalytic = false)")
        catalysis = PartialCatalysis(cat_table.number("h2_per_s", 0.0, 1e5, unit="1/s"),
                                     cat_table.number("co_per_s", 0.0, 1e5, unit="1/s"),
                                     cat_table.number("hc_per_s", 0.0, 1e5, unit="1/s"),
                                     cat_table.number("h2_e_ev", 0.0, 3.0, unit="eV"),
                                     cat_table.number("co_e_ev", 0.0, 3.0, unit="eV"),
                                     cat_table.number("hc_e_ev", 0.0, 3.0, unit="eV"),
                                     cat_table.number("ref_temp_c", 300, 1100, default=op_temp, unit="°C"),
                                     cat_table.number("o2_half_fraction", 1e-9, 0.2, default=1e-3))
        cat_table.finish()

    cell = None
    cell_table = top.sub("measuring_cell", required=family == "hc")
    if cell_table is not None:
        if family != "hc":
            raise EmulatorInputError(source, "measuring_cell", f"only for family \"hc\", not {family!r}")
        cell = MeasuringCell(cell_table.number("s_mv_per_decade", 1.0, 300.0, unit="mV/decade"),
                             cell_table.number("s_temp_coeff_per_k", -0.05, 0.05, unit="1/K"),
                             cell_table.number("ref_temp_c", 300, 1100, default=op_temp, unit="°C"),
                             cell_table.number("c0_ppm", 0.1, 1e5, unit="ppm"),
                             cell_table.number("w_hc", 0.0, 10.0, default=1.0),
                             cell_table.number("w_co", 0.0, 10.0),
                             cell_table.number("w_h2", 0.0, 10.0),
                             cell_table.number("beta_mv_per_decade", -200.0, 200.0, default=0.0, unit="mV/decade"),
                             cell_table.number("o2_ref_fraction", 1e-4, 0.5, default=0.05),
                             cell_table.number("kappa", 0.0, 1.0, default=0.0))
        cell_table.finish()

    tolerance = parse_tolerance(top)
    ageing = parse_ageing(top)
    limits = parse_exhaust_limits(top)
    top.finish()
    return ElementSpec(name, family, description, origin, target, op_temp, node, tuple(layers), factors, tube,
                       reference, nernst, pump, coupling, heater, thermal, path=source, measuring_cell=cell,
                       partial_catalysis=catalysis, tolerance=tolerance, ageing=ageing, exhaust_limits=limits)
