"""Steady state of an element at fixed conditions, with an ideal pump loop holding the Nernst target.

Uses the dynamic model's own flux and equilibrium equations, so it is the point the dynamic model
settles to: the pump current equals the net O2-equivalent flux through the diffusion layers at the
node pO2 that the Nernst target implies.

Mixed-potential (family "hc") elements: the target is the control-cell voltage, which fixes the
compartment's free O2; the reducers settle where their inflow equals their burn at the inner pumping
electrode plus their outflow; the pump current removes the O2 inflow minus what the burn consumed; the
measuring cell's EMF (sense_emf_v) follows from the compartment's species.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

from .board import BoardSpec
from .constants import F_C_PER_MOL, R_J_PER_MOL_K, SIGMA_W_PER_M2_K4, ZERO_C_IN_K
from .element import ElementModel
from .element_spec import ElementSpec
from .fuels import Fuel
from .world import World

FOUR_F = 4.0 * F_C_PER_MOL


@dataclass
class SteadyState:
    element: str
    fuel: str
    lambda_value: float
    pressure_kpa: float
    temp_c: float
    pump_current_a: float
    nernst_v: float          # at the terminals, what the pump loop holds at target
    nernst_emf_v: float      # the cell's own EMF; differs by reference-pump IR drop and cross-talk
    ri_ohm: float
    o2_pct: float
    heater_power_w: float    # electrical power to hold temp_c in still gas at gas_temp_c
    heater_v: float
    heater_r_ohm: float
    pump_v: float
    node_po2_bar: float
    ref_po2_bar: float
    # Elements with a mixed-potential measuring cell (family "hc"); NaN for the others.
    sense_emf_v: float = math.nan   # measuring-cell EMF: nernst_emf_v + mixed-potential shift (<= 0 with HC)
    sense_v: float = math.nan       # measuring-cell terminal voltage (what the board's sense input sees, DC)
    node_o2_pct: float = math.nan   # compartment free O2
    node_hc_ppm: float = math.nan   # compartment HC (C3H6), CO and H2 after the partial burn
    node_co_ppm: float = math.nan
    node_h2_ppm: float = math.nan

    HC_FIELDS = ("sense_emf_v", "sense_v", "node_o2_pct", "node_hc_ppm", "node_co_ppm", "node_h2_ppm")

    @property
    def has_measuring_cell(self) -> bool:
        return not math.isnan(self.sense_emf_v)

    def as_dict(self) -> dict:
        data = asdict(self)
        if math.isinf(data["lambda_value"]):
            data["lambda_value"] = "air"
        if not self.has_measuring_cell:
            for key in self.HC_FIELDS:  # not measured by this element: absent, not NaN
                del data[key]
        return data


def still_gas_heater_power(model: ElementModel, temp_c: float, gas_temp_c: float) -> tuple[float, float, float]:
    """(electrical power W, terminal RMS volts, terminal resistance) to hold temp_c in still gas."""
    thermal = model.spec.thermal
    cell_k = temp_c + ZERO_C_IN_K
    gas_k = gas_temp_c + ZERO_C_IN_K
    loss_w = (thermal.g_still_w_per_k * (cell_k - gas_k)
              + thermal.emissivity_area_mm2 * 1e-6 * SIGMA_W_PER_M2_K4 * (cell_k ** 4 - gas_k ** 4))
    heater_k = cell_k + loss_w / thermal.g_heater_cell_w_per_k
    r_total = model.heater_resistance_at(heater_k)
    r_heat = r_total - model.spec.heater.r_lead_ohm
    power_w = loss_w * r_total / r_heat
    return power_w, math.sqrt(power_w * r_total), r_total


def _hold_node(model: ElementModel, emf_at_no_pump_v: float, slope_v: float,
               pump_current_for: Callable[[float], float]) -> float:
    """The pump current an ideal loop settles at, holding the node where the control cell reads its
    target: iterate node pO2 (from the EMF less the pump current's drop over the coupling resistance)
    -> the current that node needs, to 1e-12 A (50 rounds at most). Leaves the node at that pO2, held
    (no dynamic balance), and returns the current."""
    pump_current_a = 0.0
    for _ in range(50):
        emf = emf_at_no_pump_v - pump_current_a * model.coupling_r_ohm
        node_po2 = model.ref_po2_bar * math.exp(-emf / slope_v)
        new_current = pump_current_for(node_po2)
        done = abs(new_current - pump_current_a) < 1e-12
        pump_current_a = new_current
        if done:
            break
    model.node_po2_bar = node_po2
    model.node_balance = math.nan  # a held node has no dynamic balance
    return pump_current_a


def steady_state(spec: ElementSpec, fuel: Fuel, lambda_value: float, pressure_kpa: float = 101.325,
                 temp_c: float | None = None, hc_ppm: float = 0.0, gas_temp_c: float = 20.0,
                 nernst_target_v: float | None = None, co_ppm: float = 0.0, h2_ppm: float = 0.0,
                 air_h2o: float = 0.0) -> SteadyState:
    """Steady state with an ideal pump loop holding the Nernst (control-cell) terminal at its target.

    co_ppm and h2_ppm add CO and H2 to the exhaust at the element (on top of what lambda gives, mole
    fractions not renormalised): for cross-sensitivity studies of mixed-potential elements.
    air_h2o is the water mole fraction of humid free air (humidity.water_in_air); 0.0 is dry air.
    """
    temp_c = spec.operating_temp_c if temp_c is None else temp_c
    target = spec.nernst_target_v if nernst_target_v is None else nernst_target_v
    world = World(lambda_value=lambda_value, pressure_kpa=pressure_kpa, gas_temp_c=gas_temp_c,
                  hc_ppm=hc_ppm, ambient_c=gas_temp_c, air_h2o=air_h2o)
    model = ElementModel(spec, fuel, world)
    if co_ppm or h2_ppm:
        model.s_co += co_ppm * 1e-6
        model.s_h2 += h2_ppm * 1e-6
        model._surface_changed()
    temp_k = temp_c + ZERO_C_IN_K
    model.cell_temp_k = model.heater_temp_k = temp_k
    model._refresh(temp_k, pressure_kpa)
    model._update_outputs()
    ref_current_a = spec.reference.pump_current_a if spec.reference.kind == "pumped" else 0.0
    # A cold cell cannot pass the full reference current: the source runs into its compliance.
    ref_current_a = min(ref_current_a, BoardSpec().ref_compliance_v / (model.ri_ohm + model.arc_r_ohm))
    if spec.reference.kind == "pumped":
        model.ref_fraction = min(model._surface_balance() + ref_current_a / (FOUR_F * model._g_leak), 1.0)
    model.ref_po2_bar = model._reference_po2()
    model.outer_po2_bar = model._equilibrium(model._surface_balance(), 0.0)
    if not model._node_volume_m3:
        model.node_po2_bar = model.outer_po2_bar  # the working electrode sees the surface gas
    model._update_outputs()
    ri = model.ri_ohm
    slope_v = R_J_PER_MOL_K * temp_k / (4.0 * F_C_PER_MOL)

    pump_current_a = 0.0
    if spec.pump_cell is not None and model._mixed:
        # The control cell reads the compartment's free O2: the target fixes it; the pump removes the
        # O2 inflow net of what the partial burn consumes (reducers at their steady values).
        pump_current_a = _hold_node(model, target - ref_current_a * ri, slope_v,
                                    lambda node_po2: FOUR_F * model._mixed_steady(node_po2 / model._p_bar))
    elif spec.pump_cell is not None and model._node_volume_m3:
        pump_current_a = _hold_node(model, target - ref_current_a * ri, slope_v,
                                    lambda node_po2: FOUR_F * model._node_flux(node_po2)[0])
    model._update_outputs()
    power_w, heater_v, heater_r = still_gas_heater_power(model, temp_c, gas_temp_c)
    hc = {}
    if model.has_measuring_cell:
        hc = dict(sense_emf_v=model.sense_emf_v, sense_v=model.sense_terminal_v(pump_current_a),
                  node_o2_pct=100.0 * model.node_o2_fraction, node_hc_ppm=model.node_hc_ppm,
                  node_co_ppm=model.node_co_ppm, node_h2_ppm=model.node_h2_ppm)
    return SteadyState(
        element=spec.name, fuel=fuel.name, lambda_value=lambda_value, pressure_kpa=pressure_kpa, temp_c=temp_c,
        pump_current_a=pump_current_a,
        nernst_v=model.nernst_terminal_v(pump_current_a, ref_current_a),
        nernst_emf_v=model.nernst_emf_v, ri_ohm=ri, o2_pct=model.exhaust_o2_pct,
        heater_power_w=power_w, heater_v=heater_v, heater_r_ohm=heater_r,
        pump_v=model.pump_voltage(pump_current_a), node_po2_bar=model.node_po2_bar, ref_po2_bar=model.ref_po2_bar,
        **hc)
