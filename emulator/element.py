"""The dynamic model of one sensor element, stepped in (virtual) time.

State: the gas at the element surface (exhaust behind the protection tube), the measuring node
(cavity or electrode pore volume) held as its oxygen balance, the reference gas, and two
temperatures (heater track, electrolyte). Inputs per step: the world, the pump and reference
currents that actually flow, the heater terminal voltage. Everything here is plain floats: this runs
thousands of times per simulated second.

Physics (reference/physics.md):
- surface gas: first-order exchange with the exhaust, rate = still-gas diffusion + flushing ∝ flow;
- measuring node: species fluxes through the diffusion layers (Stefan flow for O2), the pump current
  removing O2 (4 e- per O2), instant equilibrium at the catalytic electrode, so the node's state is
  its oxygen balance b and its pO2 follows from the H2/H2O and CO/CO2 equilibria;
- Nernst EMF = RT/4F ln(pO2_ref / pO2_node); Ri = two-term Arrhenius (grain interior + boundary);
- pump-cell voltage = Nernst term (outer vs node) + Ip R_pump(T) + Butler-Volmer overvoltage;
- heat: heater track -> electrolyte -> gas (convection ∝ sqrt(flow)) and pipe wall (radiation).
"""

from __future__ import annotations

import math

from .constants import (F_C_PER_MOL, HC_CARBON, HC_HYDROGEN, K_B_EV_PER_K, O2_DEMAND, O2_IN_DRY_AIR,
                        R_J_PER_MOL_K, SIGMA_W_PER_M2_K4, ZERO_C_IN_K)
from .element_spec import DiffusionLayer, ElementSpec
from .equilibrium import METAL_OXIDE_BUFFERS, equilibrium_po2, k_co, k_water
from .exhaust import exhaust, lambda_of
from .fuels import Fuel
from .transport import molar_concentration, path_conductance
from .world import World

FOUR_F = 4.0 * F_C_PER_MOL
AIR_PRESSURE_BAR = 1.01325
# Conductances and equilibrium constants are refreshed when the cell moves this far (K):
# Ip_air changes ~0.03 %/K, so 0.2 K keeps the cached values within 0.006 %.
REFRESH_K = 0.2
MAX_THERMAL_STEP_S = 0.005


class ElementModel:
    def __init__(self, spec: ElementSpec, fuel: Fuel, world: World):
        self.spec = spec
        self.fuel = fuel
        nernst = spec.nernst_cell
        self._r1, self._e1 = nernst.r1_ohm, nernst.e1_ev / K_B_EV_PER_K
        self._r2, self._e2 = nernst.r2_ohm, nernst.e2_ev / K_B_EV_PER_K
        self._ri_at_ref = self.ri_at(nernst.ref_temp_c + ZERO_C_IN_K)
        heater = spec.heater
        self._r_heat_cold = heater.r_cold_ohm - heater.r_lead_ohm
        self._factors = spec.species_factor
        node = spec.measuring_node
        self._node_volume_m3 = node.volume_mm3 * 1e-9 if node else 0.0
        self._storage_mol = node.oxygen_storage_mol if node else 0.0
        self._storage_k = 1.0 / math.sqrt(node.storage_half_po2_bar) if node else 0.0
        self._storage = 0.0
        ref = spec.reference
        self._ref_leak_layer = (DiffusionLayer("reference leak", ref.leak_pore_diameter_um, ref.leak_area_over_length_um)
                                if ref.kind == "pumped" else None)
        self._buffer = METAL_OXIDE_BUFFERS.get(ref.buffer) if ref.kind == "sealed" else None
        self.reset(world)

    # --- properties of the materials -----------------------------------------------------------

    def ri_at(self, temp_k: float) -> float:
        """Nernst-cell ESR (bulk + grain boundary), ohm."""
        return self._r1 * math.exp(self._e1 / temp_k) + self._r2 * math.exp(self._e2 / temp_k)

    def arc(self, temp_k: float) -> tuple[float, float]:
        """Electrode arc (R_ct, C_dl) of the Nernst cell at temp_k."""
        nernst = self.spec.nernst_cell
        r_ct = nernst.arc_r_ohm_at_ref * math.exp(
            nernst.arc_e_ev / K_B_EV_PER_K * (1.0 / temp_k - 1.0 / (nernst.ref_temp_c + ZERO_C_IN_K)))
        return r_ct, nernst.arc_c_f

    def heater_resistance_at(self, heater_temp_k: float) -> float:
        heater = self.spec.heater
        return heater.r_lead_ohm + self._r_heat_cold * (1.0 + heater.alpha_per_k * (heater_temp_k - ZERO_C_IN_K - 20.0))

    # --- state ---------------------------------------------------------------------------------

    def reset(self, world: World) -> None:
        """A cold element that has sat in this world's gas long enough to fill with it."""
        temp_k = world.ambient_c + ZERO_C_IN_K
        self.cell_temp_k = temp_k
        self.heater_temp_k = temp_k
        self.time_s = 0.0
        self._lambda = None
        self._hc_ppm = None
        self._set_exhaust(world)
        ex = self._exhaust
        self.s_o2, self.s_h2, self.s_co, self.s_hc = ex.o2, ex.h2, ex.co, ex.hc
        self.s_h2o, self.s_co2 = ex.h2o, ex.co2
        self._surface_settled = True
        self._pressure_kpa = world.pressure_kpa
        self._cache_temp_k = -1.0
        self._refresh(temp_k, world.pressure_kpa)
        self.node_po2_bar = self._equilibrium(self._surface_balance(), 0.0)
        ks = self._storage_k * math.sqrt(self.node_po2_bar)
        self.node_balance = self._surface_balance() + self._storage * ks / (1.0 + ks)
        self.ref_fraction = O2_IN_DRY_AIR  # the pumped reference starts filled with air
        self.ref_po2_bar = self._reference_po2()
        self.outer_po2_bar = self._equilibrium(self._surface_balance(), 0.0)
        self.pump_current_a = 0.0
        self.ref_current_a = 0.0
        self.heater_v = 0.0
        self._update_outputs()

    def _set_exhaust(self, world: World) -> None:
        self._lambda = world.lambda_value
        self._hc_ppm = world.hc_ppm
        self._exhaust = exhaust(world.lambda_value, self.fuel, world.hc_ppm)
        self._surface_settled = False

    def _surface_balance(self) -> float:
        return self.s_o2 - O2_DEMAND["H2"] * self.s_h2 - O2_DEMAND["CO"] * self.s_co - O2_DEMAND["HC"] * self.s_hc

    def _pools(self) -> tuple[float, float]:
        """Hydrogen (H2 + H2O) and carbon (CO + CO2) pools once HC has burnt, mole fractions."""
        hc = self.s_hc
        return (self.s_h2 + self.s_h2o + 0.5 * HC_HYDROGEN * hc, self.s_co + self.s_co2 + HC_CARBON * hc)

    def _equilibrium(self, balance: float, guess_bar: float) -> float:
        h_pool, c_pool = self._pools()
        return equilibrium_po2(balance, h_pool, c_pool, self._p_bar, self._kw, self._kc, guess_bar)

    def _node_equilibrium(self, balance: float, guess_bar: float) -> float:
        h_pool, c_pool = self._pools()
        return equilibrium_po2(balance, h_pool, c_pool, self._p_bar, self._kw, self._kc, guess_bar,
                               self._storage, self._storage_k)

    def _refresh(self, temp_k: float, pressure_kpa: float) -> None:
        """Recompute everything that depends on temperature and pressure only."""
        self._cache_temp_k = temp_k
        self._pressure_kpa = pressure_kpa
        self._p_bar = pressure_kpa / 100.0
        self._kw = k_water(temp_k)
        self._kc = k_co(temp_k)
        self._conc = molar_concentration(temp_k, pressure_kpa)
        if self._node_volume_m3:
            # The store is counted per mole of node gas, like the balance itself.
            old_storage = self._storage
            self._storage = self._storage_mol / (self._node_volume_m3 * self._conc)
            if old_storage and hasattr(self, "node_balance"):
                ks = self._storage_k * math.sqrt(self.node_po2_bar)
                self.node_balance += (self._storage - old_storage) * ks / (1.0 + ks)
        layers = self.spec.diffusion_layers
        f = self._factors
        if layers:
            self._g_o2 = path_conductance(layers, "O2", temp_k, pressure_kpa, f["O2"])
            self._g_h2 = path_conductance(layers, "H2", temp_k, pressure_kpa, f["H2"])
            self._g_co = path_conductance(layers, "CO", temp_k, pressure_kpa, f["CO"])
            self._g_hc = path_conductance(layers, "HC", temp_k, pressure_kpa, f["HC"])
        if self._ref_leak_layer is not None:
            self._g_leak = path_conductance((self._ref_leak_layer,), "O2", temp_k, pressure_kpa)
        self.arc_r_ohm, self.arc_c_f = self.arc(temp_k)
        self._rt_4f = R_J_PER_MOL_K * temp_k / FOUR_F
        pump = self.spec.pump_cell
        if pump is not None:
            ref_k = self.spec.nernst_cell.ref_temp_c + ZERO_C_IN_K
            self._two_i0 = 2.0 * pump.exchange_current_a_at_ref * math.exp(
                -pump.exchange_e_ev / K_B_EV_PER_K * (1.0 / temp_k - 1.0 / ref_k))

    # --- one time step -------------------------------------------------------------------------

    def step(self, dt_s: float, world: World, pump_current_a: float, ref_current_a: float, heater_v: float) -> None:
        """Advance by dt_s with these currents flowing and this RMS voltage on the heater terminals."""
        if world.lambda_value != self._lambda or world.hc_ppm != self._hc_ppm:
            self._set_exhaust(world)
        self.pump_current_a = pump_current_a
        self.ref_current_a = ref_current_a
        self.heater_v = heater_v
        self._step_surface(dt_s, world.flow_mps)
        self._step_thermal(dt_s, world, heater_v)
        temp_k = self.cell_temp_k
        if abs(temp_k - self._cache_temp_k) > REFRESH_K or world.pressure_kpa != self._pressure_kpa:
            self._refresh(temp_k, world.pressure_kpa)
            self.outer_po2_bar = self._equilibrium(self._surface_balance(), self.outer_po2_bar)
        if self._node_volume_m3:
            self._step_node(dt_s, pump_current_a)
        else:
            self.node_po2_bar = self.outer_po2_bar
        self._step_reference(dt_s, ref_current_a)
        self.time_s += dt_s
        self._update_outputs()

    def _step_surface(self, dt_s: float, flow_mps: float) -> None:
        if self._surface_settled:
            return
        tube = self.spec.protection_tube
        keep = math.exp(-(tube.exchange_still_per_s + tube.exchange_per_mps * flow_mps) * dt_s)
        ex = self._exhaust
        self.s_o2 = ex.o2 + (self.s_o2 - ex.o2) * keep
        self.s_h2 = ex.h2 + (self.s_h2 - ex.h2) * keep
        self.s_co = ex.co + (self.s_co - ex.co) * keep
        self.s_hc = ex.hc + (self.s_hc - ex.hc) * keep
        self.s_h2o = ex.h2o + (self.s_h2o - ex.h2o) * keep
        self.s_co2 = ex.co2 + (self.s_co2 - ex.co2) * keep
        if abs(self.s_o2 - ex.o2) + abs(self.s_h2 - ex.h2) + abs(self.s_co - ex.co) + abs(self.s_hc - ex.hc) < 1e-12:
            self.s_o2, self.s_h2, self.s_co, self.s_hc = ex.o2, ex.h2, ex.co, ex.hc
            self.s_h2o, self.s_co2 = ex.h2o, ex.co2
            self._surface_settled = True
        self.outer_po2_bar = self._equilibrium(self._surface_balance(), self.outer_po2_bar)

    def _step_thermal(self, dt_s: float, world: World, heater_v: float) -> None:
        thermal = self.spec.thermal
        gas_k = world.gas_temp_c + ZERO_C_IN_K
        g_conv = thermal.g_still_w_per_k + thermal.g_forced_w_per_k_at_10mps * math.sqrt(max(world.flow_mps, 0.0) / 10.0)
        rad = thermal.emissivity_area_mm2 * 1e-6 * SIGMA_W_PER_M2_K4
        gas_k4 = gas_k * gas_k * gas_k * gas_k
        g_hc = thermal.g_heater_cell_w_per_k
        inv_c_h = 1.0 / thermal.c_heater_j_per_k
        inv_c_c = 1.0 / thermal.c_cell_j_per_k
        r_lead = self.spec.heater.r_lead_ohm
        v2 = heater_v * heater_v
        steps = max(1, math.ceil(dt_s / MAX_THERMAL_STEP_S))
        h = dt_s / steps
        t_h, t_c = self.heater_temp_k, self.cell_temp_k
        for _ in range(steps):
            r_total = self.heater_resistance_at(t_h)
            p_heat = v2 * (r_total - r_lead) / (r_total * r_total)
            q_hc = g_hc * (t_h - t_c)
            t_c2 = t_c * t_c
            q_loss = g_conv * (t_c - gas_k) + rad * (t_c2 * t_c2 - gas_k4)
            t_h += (p_heat - q_hc) * inv_c_h * h
            t_c += (q_hc - q_loss) * inv_c_c * h
        self.heater_temp_k, self.cell_temp_k = t_h, t_c

    def _node_flux(self, po2_bar: float) -> tuple[float, float]:
        """Net O2-equivalent inflow to the node (mol/s) at node pO2, and its slope vs the node's
        oxygen balance (mol/s per unit balance, > 0)."""
        h_pool, c_pool = self._pools()
        kw, kc, p_bar = self._kw, self._kc, self._p_bar
        s = math.sqrt(po2_bar)
        ah = 1.0 + kw * s
        ac = 1.0 + kc * s
        x_o2 = po2_bar / p_bar
        x_h2 = h_pool / ah
        x_co = c_pool / ac
        # A node pumped full of O2 would vent; keep the Stefan term finite at the physical limit.
        one_minus = 1.0 - x_o2 if x_o2 < 0.999 else 0.001
        inflow = (self._g_o2 * math.log(one_minus / (1.0 - self.s_o2))
                  - 0.5 * self._g_h2 * (self.s_h2 - x_h2)
                  - 0.5 * self._g_co * (self.s_co - x_co)
                  - O2_DEMAND["HC"] * self._g_hc * self.s_hc)
        dxo2 = 2.0 * s / p_bar
        dxh2 = h_pool * kw / (ah * ah)   # magnitude; x_H2 falls as s rises
        dxco = c_pool * kc / (ac * ac)
        ks = self._storage_k
        a_s = 1.0 + ks * s
        dbds = dxo2 + 0.5 * dxh2 + 0.5 * dxco + self._storage * ks / (a_s * a_s)
        slope = (self._g_o2 * dxo2 / one_minus + 0.5 * self._g_h2 * dxh2 + 0.5 * self._g_co * dxco) / dbds
        return inflow, slope

    def _step_node(self, dt_s: float, pump_current_a: float) -> None:
        inflow, slope = self._node_flux(self.node_po2_bar)
        net = inflow - pump_current_a / FOUR_F
        holdup = self._node_volume_m3 * self._conc
        self.node_balance += net / slope * (1.0 - math.exp(-slope * dt_s / holdup))
        self.node_po2_bar = self._node_equilibrium(self.node_balance, self.node_po2_bar)

    def _step_reference(self, dt_s: float, ref_current_a: float) -> None:
        if self._ref_leak_layer is None:
            self.ref_po2_bar = self._reference_po2()
            return
        volume = self.spec.reference.volume_mm3 * 1e-9
        target = self._surface_balance() + ref_current_a / (FOUR_F * self._g_leak)
        keep = math.exp(-self._g_leak * dt_s / (volume * self._conc))
        self.ref_fraction = min(target + (self.ref_fraction - target) * keep, 1.0)
        self.ref_po2_bar = self._reference_po2()

    def _reference_po2(self) -> float:
        kind = self.spec.reference.kind
        if kind == "air":
            return O2_IN_DRY_AIR * AIR_PRESSURE_BAR
        if kind == "sealed":
            return self._buffer(self.cell_temp_k)
        if self.ref_fraction > 1e-3:
            return self.ref_fraction * self._p_bar
        return self._equilibrium(self.ref_fraction, getattr(self, "ref_po2_bar", 0.0))

    def _update_outputs(self) -> None:
        temp_k = self.cell_temp_k
        self.ri_ohm = self.ri_at(temp_k)
        self.nernst_emf_v = R_J_PER_MOL_K * temp_k / FOUR_F * math.log(self.ref_po2_bar / self.node_po2_bar)

    # --- what the wires see ----------------------------------------------------------------------

    @property
    def temp_c(self) -> float:
        return self.cell_temp_k - ZERO_C_IN_K

    @property
    def heater_temp_c(self) -> float:
        return self.heater_temp_k - ZERO_C_IN_K

    @property
    def heater_r_ohm(self) -> float:
        return self.heater_resistance_at(self.heater_temp_k)

    @property
    def pump_r_ohm(self) -> float:
        pump = self.spec.pump_cell
        return pump.r_ohm_at_ref * self.ri_ohm / self._ri_at_ref if pump else math.inf

    @property
    def coupling_r_ohm(self) -> float:
        """Resistance through which the pump current shows up in the Nernst reading."""
        coupling = self.spec.coupling
        if self.spec.pump_cell is None:
            return coupling.shared_r_ohm
        return coupling.shared_r_ohm + coupling.effective_kappa * self.pump_r_ohm

    def nernst_terminal_v(self, pump_current_a: float, ref_current_a: float) -> float:
        """DC voltage across the Nernst terminals (no excitation): EMF + reference-pump IR drop +
        pump-current cross-talk."""
        if self.spec.pump_cell is None:
            pump_current_a = 0.0
        return self.nernst_emf_v + ref_current_a * self.ri_ohm + pump_current_a * self.coupling_r_ohm

    def pump_voltage(self, pump_current_a: float) -> float:
        """Voltage the pump cell needs to pass this current now (outer electrode positive):
        Nernst term (outer vs node) + ohmic drop + Butler-Volmer overvoltage (symmetric, asinh)."""
        pump = self.spec.pump_cell
        if pump is None:
            return 0.0
        rt_4f = self._rt_4f
        return (rt_4f * math.log(self.outer_po2_bar / self.node_po2_bar)
                + pump_current_a * self.pump_r_ohm
                + 8.0 * rt_4f * math.asinh(pump_current_a / self._two_i0))

    def pump_slope_ohm(self, pump_current_a: float) -> float:
        """dV/dI of the pump cell at this current (ohmic + overvoltage)."""
        if self.spec.pump_cell is None:
            return math.inf
        two_i0 = self._two_i0
        return self.pump_r_ohm + 8.0 * self._rt_4f / math.sqrt(pump_current_a * pump_current_a + two_i0 * two_i0)

    @property
    def surface_lambda(self) -> float:
        from .exhaust import Gas
        return lambda_of(Gas(self.s_o2, self.s_h2, self.s_co, self.s_hc, self.s_h2o, self.s_co2), self.fuel)

    @property
    def exhaust_lambda(self) -> float:
        return self._lambda

    @property
    def exhaust_o2_pct(self) -> float:
        return 100.0 * self._exhaust.o2
