"""The dynamic model of one sensor element, stepped in (virtual) time.

State: the gas at the element surface (exhaust behind the protection tube), the measuring node
(cavity or electrode pore volume) held as its oxygen balance, the reference gas, and two
temperatures (heater track, electrolyte). Inputs per step: the world, the pump and reference
currents that actually flow, the heater terminal voltage. Everything here is plain floats: this runs
thousands of times per simulated second.

Physics:
- surface gas: first-order exchange with the exhaust, rate = still-gas diffusion + flushing ∝ flow;
- measuring node: species fluxes through the diffusion layers (Stefan flow for O2), the pump current
  removing O2 (4 e- per O2), instant equilibrium at the catalytic electrode, so the node's state is
  its oxygen balance b and its pO2 follows from the H2/H2O and CO/CO2 equilibria;
- Nernst EMF = RT/4F ln(pO2_ref / pO2_node); Ri = two-term Arrhenius (grain interior + boundary);
- pump-cell voltage = Nernst term (outer vs node) + Ip R_pump(T) + Butler-Volmer overvoltage;
- heat: heater track -> electrolyte -> gas (convection ∝ sqrt(flow)) and pipe wall (radiation).

Non-catalytic node (family "hc", docs/hc-sensor.md): the node's O2, H2, CO and HC are
tracked apart (no instant equilibrium). Each crosses the diffusion layers with its own conductance
(Stefan term for O2), the pump current removes O2 (Ip/4F), and the partly catalytic inner pumping
electrode burns each reducer at a finite first-order rate, consuming O2 stoichiometrically. The
control cell (inner pumping electrode vs reference) reads the free O2; the measuring cell adds the
mixed-potential term ΔV (sense_emf_v). The catalytic path is untouched: the non-catalytic one is a
separate branch (_step_mixed).
"""

from __future__ import annotations

import math

from .constants import (
    D_IN_N2_CM2_S,
    D_REF_P_KPA,
    D_REF_T_K,
    F_C_PER_MOL,
    HC_CARBON,
    HC_HYDROGEN,
    K_B_EV_PER_K,
    MOLAR_MASS_KG,
    O2_DEMAND,
    O2_IN_DRY_AIR,
    R_J_PER_MOL_K,
    SIGMA_W_PER_M2_K4,
    ZERO_C_IN_K,
)
from .element_spec import DiffusionLayer, ElementSpec
from .equilibrium import METAL_OXIDE_BUFFERS, PO2_FLOOR_BAR, equilibrium_po2, k_co, k_water
from .exhaust import exhaust
from .fuels import Fuel
from .transport import molar_concentration, path_conductance
from .world import World

FOUR_F = 4.0 * F_C_PER_MOL
_DEMAND_H2, _DEMAND_CO, _DEMAND_HC = O2_DEMAND["H2"], O2_DEMAND["CO"], O2_DEMAND["HC"]
AIR_PRESSURE_BAR = 1.01325
# Conductances and equilibrium constants are refreshed when the cell moves this far (K):
# Ip_air changes ~0.03 %/K, so 0.2 K keeps the cached values within 0.006 %.
REFRESH_K = 0.2
MAX_THERMAL_STEP_S = 0.005
# Non-catalytic node: below this free-O2 pressure (bar) the control electrode's potential is taken as
# the larger of the free-O2 value and the gas's equilibrium value (a node emptied of O2 by pumping,
# or filled with reducers, reads rich like a Pt electrode would). Lean operation never gets here.
MIXED_EQ_BELOW_BAR = 1e-6
# The β·log10(x_O2/x_O2,0) term of the measuring cell is evaluated with x_O2 at least this.
SENSE_O2_FLOOR = 1e-6
# The mixed-potential slope's temperature law is evaluated within this range (K).
SENSE_T_RANGE_K = (573.15, 1373.15)


def _reducer_step(x0: float, x_surface: float, exchange_per_s: float, burn_per_s: float,
                  dt_s: float) -> tuple[float, float]:
    """One species in a non-catalytic node: exchange with the surface gas and a first-order burn.
    Returns (the fraction after dt_s, burn rate x the mean fraction over the step)."""
    a = exchange_per_s + burn_per_s
    x_inf = exchange_per_s * x_surface / a
    at = a * dt_s
    keep = math.exp(-at)
    x1 = x_inf + (x0 - x_inf) * keep
    if burn_per_s <= 0.0:
        return x1, 0.0
    return x1, burn_per_s * (x_inf + (x0 - x_inf) * ((1.0 - keep) / at if at > 1e-12 else 1.0))


def _no_buffer(temp_k: float) -> float:
    raise RuntimeError("only a sealed reference has a metal/metal-oxide buffer")


class ElementModel:
    # Slots: step() reads and writes some hundred attributes per call, and with this many an
    # instance __dict__ cannot use CPython's fast (shared-key) attribute access.
    __slots__ = (
        # what it is
        "spec", "fuel",
        # state
        "cell_temp_k", "heater_temp_k", "s_o2", "s_h2", "s_co", "s_hc", "s_h2o", "s_co2",
        "node_balance", "node_po2_bar", "outer_po2_bar", "ref_fraction", "ref_po2_bar",
        # inputs of the last step and outputs
        "pump_current_a", "ref_current_a", "heater_v", "ri_ohm", "nernst_emf_v", "arc_r_ohm", "arc_c_f",
        "_pump_r_ohm", "_coupling_r_ohm",
        # constants of the spec
        "_r1", "_e1", "_r2", "_e2", "_ri_at_ref", "_r_heat_cold", "_factors", "_node_volume_m3",
        "_storage_mol", "_storage_k", "_ref_kind", "_ref_volume_m3", "_ref_leak_layer", "_buffer",
        "_layer_terms", "_leak_terms", "_arc_e_k", "_inv_ref_k", "_two_i0_at_ref", "_minus_exchange_e_k",
        "_exchange_still", "_exchange_per_mps", "_g_still", "_g_forced",
        "_rad", "_g_heater_cell", "_inv_c_heater", "_inv_c_cell", "_r_lead", "_alpha", "_has_pump",
        "_pump_r_at_ref", "_shared_r", "_kappa",
        # the exhaust and the surface gas
        "_lambda", "_hc_ppm", "_air_h2o", "_exhaust", "_surface_settled", "_s_balance", "_h_pool", "_c_pool",
        "_one_minus_s_o2",
        # cached per temperature and pressure (_refresh)
        "_cache_temp_k", "_pressure_kpa", "_p_bar", "_kw", "_kc", "_conc", "_storage", "_g_o2", "_g_h2",
        "_g_co", "_g_hc", "_half_g_h2", "_half_g_co", "_hc_demand_g", "_holdup_mol", "_g_leak",
        "_four_f_g_leak", "_rt_4f", "_two_i0", "_ref_keep_dt", "_ref_keep",
        # cached per world (_set_heat_loss)
        "_loss_gas_c", "_loss_flow_mps", "_gas_k", "_gas_k4", "_g_conv",
        # non-catalytic node (family "hc"): state, outputs, constants, per-temperature cache
        "_mixed", "_has_sense", "n_o2", "n_h2", "n_co", "n_hc", "sense_dv_v",
        "_burn_ref", "_burn_e_k", "_inv_burn_ref_k", "_o2_half", "_s_ref_v", "_s_coeff", "_s_ref_k", "_c0",
        "_w_hc", "_w_co", "_w_h2", "_beta_v", "_x_o2_ref", "_sense_kappa",
        "_k_h2", "_k_co", "_k_hc", "_s_v", "_r_o2", "_r_h2", "_r_co", "_r_hc", "_inv_4f_holdup",
    )

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
        self._ref_kind = ref.kind
        self._ref_volume_m3 = ref.volume_mm3 * 1e-9
        self._ref_leak_layer = (
            DiffusionLayer("reference leak", ref.leak_pore_diameter_um, ref.leak_area_over_length_um)
            if ref.kind == "pumped" else None)
        self._buffer = METAL_OXIDE_BUFFERS[ref.buffer] if ref.kind == "sealed" else _no_buffer
        f = self._factors
        self._layer_terms = self._transport_terms(spec.diffusion_layers, ("O2", "H2", "CO", "HC"),
                                                  (f["O2"], f["H2"], f["CO"], f["HC"]))
        self._leak_terms = (self._transport_terms((self._ref_leak_layer,), ("O2",), (1.0,))
                            if self._ref_leak_layer is not None else ())
        self._check_conductances()

        # Constants of the spec, bound once for step() and _refresh() (the spec is frozen).
        self._arc_e_k = nernst.arc_e_ev / K_B_EV_PER_K
        self._inv_ref_k = 1.0 / (nernst.ref_temp_c + ZERO_C_IN_K)
        tube = spec.protection_tube
        self._exchange_still = tube.exchange_still_per_s
        self._exchange_per_mps = tube.exchange_per_mps
        thermal = spec.thermal
        self._g_still = thermal.g_still_w_per_k
        self._g_forced = thermal.g_forced_w_per_k_at_10mps
        self._rad = thermal.emissivity_area_mm2 * 1e-6 * SIGMA_W_PER_M2_K4
        self._g_heater_cell = thermal.g_heater_cell_w_per_k
        self._inv_c_heater = 1.0 / thermal.c_heater_j_per_k
        self._inv_c_cell = 1.0 / thermal.c_cell_j_per_k
        self._r_lead = heater.r_lead_ohm
        self._alpha = heater.alpha_per_k
        # Heat loss to the gas depends on the world's gas temperature and flow only: cached per world.
        self._loss_gas_c: float | None = None
        self._loss_flow_mps: float | None = None
        pump = spec.pump_cell
        self._has_pump = pump is not None
        self._pump_r_at_ref = pump.r_ohm_at_ref if pump is not None else math.inf
        if pump is not None:
            self._two_i0_at_ref = 2.0 * pump.exchange_current_a_at_ref
            self._minus_exchange_e_k = -pump.exchange_e_ev / K_B_EV_PER_K
        coupling = spec.coupling
        self._shared_r = coupling.shared_r_ohm
        self._kappa = coupling.effective_kappa
        # pump_r_ohm and coupling_r_ohm of the present step (kept with ri_ohm by step() and
        # _update_outputs): the resistances the flowing pump current sees. No pump cell, no current.
        self._pump_r_ohm = math.inf
        self._coupling_r_ohm = 0.0
        self._init_mixed(spec)
        self.reset(world)

    @property
    def trim_ohm(self) -> float | None:
        """The unit's trim resistor (pin 5, IA), None when it has none (emulator/production.py)."""
        return self.spec.trim_ohm

    def _init_mixed(self, spec: ElementSpec) -> None:
        """Constants of a non-catalytic node (partial catalysis) and of a measuring cell."""
        node = spec.measuring_node
        self._mixed = node is not None and not node.catalytic
        cell = spec.measuring_cell
        self._has_sense = cell is not None
        self.n_o2 = self.n_h2 = self.n_co = self.n_hc = 0.0
        self.sense_dv_v = math.nan
        self._k_h2 = self._k_co = self._k_hc = 0.0
        self._r_o2 = self._r_h2 = self._r_co = self._r_hc = self._inv_4f_holdup = 0.0
        self._s_v = math.nan
        cat = spec.partial_catalysis
        if cat is not None:
            self._burn_ref = (cat.h2_per_s, cat.co_per_s, cat.hc_per_s)
            self._burn_e_k = (cat.h2_e_ev / K_B_EV_PER_K, cat.co_e_ev / K_B_EV_PER_K, cat.hc_e_ev / K_B_EV_PER_K)
            self._inv_burn_ref_k = 1.0 / (cat.ref_temp_c + ZERO_C_IN_K)
            self._o2_half = cat.o2_half_fraction
        else:
            self._burn_ref = (0.0, 0.0, 0.0)
            self._burn_e_k = (0.0, 0.0, 0.0)
            self._inv_burn_ref_k = 0.0
            self._o2_half = 1e-3
        if cell is not None:
            self._s_ref_v = cell.s_mv_per_decade * 1e-3
            self._s_coeff = cell.s_temp_coeff_per_k
            self._s_ref_k = cell.ref_temp_c + ZERO_C_IN_K
            self._c0 = cell.c0_ppm * 1e-6
            self._w_hc, self._w_co, self._w_h2 = cell.w_hc, cell.w_co, cell.w_h2
            self._beta_v = cell.beta_mv_per_decade * 1e-3
            self._x_o2_ref = cell.o2_ref_fraction
            self._sense_kappa = cell.kappa
        else:
            self._s_ref_v = self._s_coeff = self._s_ref_k = 0.0
            self._c0 = 1.0
            self._w_hc = self._w_co = self._w_h2 = 0.0
            self._beta_v = 0.0
            self._x_o2_ref = 1.0
            self._sense_kappa = 0.0

    def _check_conductances(self) -> None:
        """_path_conductances must stay transport.path_conductance, to the last bit."""
        f = self._factors
        layers = self.spec.diffusion_layers
        for temp_k, pressure_kpa in ((1053.15, 101.325), (700.0, 250.0)):
            fast, slow = [], []
            if layers:
                fast += self._path_conductances(self._layer_terms, temp_k, pressure_kpa)
                slow += [path_conductance(layers, sp, temp_k, pressure_kpa, f[sp]) for sp in ("O2", "H2", "CO", "HC")]
            if self._ref_leak_layer is not None:
                fast += self._path_conductances(self._leak_terms, temp_k, pressure_kpa)
                slow.append(path_conductance((self._ref_leak_layer,), "O2", temp_k, pressure_kpa))
            if fast != slow:
                raise RuntimeError("ElementModel._path_conductances no longer matches transport.path_conductance")

    # --- properties of the materials -----------------------------------------------------------

    def ri_at(self, temp_k: float) -> float:
        """Nernst-cell ESR (bulk + grain boundary), ohm."""
        return self._r1 * math.exp(self._e1 / temp_k) + self._r2 * math.exp(self._e2 / temp_k)

    def arc(self, temp_k: float) -> tuple[float, float]:
        """Electrode arc (R_ct, C_dl) of the Nernst cell at temp_k."""
        nernst = self.spec.nernst_cell
        r_ct = nernst.arc_r_ohm_at_ref * math.exp(self._arc_e_k * (1.0 / temp_k - self._inv_ref_k))
        return r_ct, nernst.arc_c_f

    def heater_resistance_at(self, heater_temp_k: float) -> float:
        return self._r_lead + self._r_heat_cold * (1.0 + self._alpha * (heater_temp_k - ZERO_C_IN_K - 20.0))

    # --- state ---------------------------------------------------------------------------------

    def reset(self, world: World) -> None:
        """A cold element that has sat in this world's gas long enough to fill with it."""
        temp_k = world.ambient_c + ZERO_C_IN_K
        self.cell_temp_k = temp_k
        self.heater_temp_k = temp_k
        self._set_exhaust(world)
        ex = self._exhaust
        self.s_o2, self.s_h2, self.s_co, self.s_hc = ex.o2, ex.h2, ex.co, ex.hc
        self.s_h2o, self.s_co2 = ex.h2o, ex.co2
        self._surface_changed()
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
        if self._mixed:
            # the compartment is full of the surface gas, nothing burnt yet
            self.n_o2, self.n_h2, self.n_co, self.n_hc = self.s_o2, self.s_h2, self.s_co, self.s_hc
            self.node_po2_bar = self._mixed_control_po2()
        self.pump_current_a = 0.0
        self.ref_current_a = 0.0
        self.heater_v = 0.0
        self._update_outputs()

    def _set_exhaust(self, world: World) -> None:
        self._lambda = world.lambda_value
        self._hc_ppm = world.hc_ppm
        self._air_h2o = world.air_h2o
        self._exhaust = exhaust(world.lambda_value, self.fuel, world.hc_ppm, air_h2o=world.air_h2o)
        self._surface_settled = False

    def _surface_balance(self) -> float:
        return self.s_o2 - O2_DEMAND["H2"] * self.s_h2 - O2_DEMAND["CO"] * self.s_co - O2_DEMAND["HC"] * self.s_hc

    def _pools(self) -> tuple[float, float]:
        """Hydrogen (H2 + H2O) and carbon (CO + CO2) pools once HC has burnt, mole fractions."""
        hc = self.s_hc
        return (self.s_h2 + self.s_h2o + 0.5 * HC_HYDROGEN * hc, self.s_co + self.s_co2 + HC_CARBON * hc)

    def _surface_changed(self) -> None:
        """Cache what step() needs of the surface gas (s_*); call whenever the s_* change.
        (_surface_balance and _pools written out.)"""
        s_h2, s_co, s_hc = self.s_h2, self.s_co, self.s_hc
        self._s_balance = self.s_o2 - _DEMAND_H2 * s_h2 - _DEMAND_CO * s_co - _DEMAND_HC * s_hc
        self._h_pool = s_h2 + self.s_h2o + 0.5 * HC_HYDROGEN * s_hc
        self._c_pool = s_co + self.s_co2 + HC_CARBON * s_hc
        self._one_minus_s_o2 = 1.0 - self.s_o2

    def _outer_equilibrium(self) -> float:
        """_equilibrium(_surface_balance(), outer_po2_bar) from the cached surface terms."""
        return equilibrium_po2(self._s_balance, self._h_pool, self._c_pool, self._p_bar, self._kw, self._kc,
                               self.outer_po2_bar)

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
        if self.spec.diffusion_layers:
            self._g_o2, self._g_h2, self._g_co, self._g_hc = self._path_conductances(
                self._layer_terms, temp_k, pressure_kpa)
            # Products step() uses as they stand in _node_flux (same rounding).
            self._half_g_h2 = 0.5 * self._g_h2
            self._half_g_co = 0.5 * self._g_co
            self._hc_demand_g = O2_DEMAND["HC"] * self._g_hc
        self._holdup_mol = self._node_volume_m3 * self._conc
        if self._ref_leak_layer is not None:
            self._g_leak, = self._path_conductances(self._leak_terms, temp_k, pressure_kpa)
            self._four_f_g_leak = FOUR_F * self._g_leak
            self._ref_keep_dt = -1.0  # the reference's per-step decay is recomputed on the next step
        self.arc_r_ohm, self.arc_c_f = self.arc(temp_k)
        self._rt_4f = R_J_PER_MOL_K * temp_k / FOUR_F
        if self._has_pump:
            self._two_i0 = self._two_i0_at_ref * math.exp(self._minus_exchange_e_k * (1.0 / temp_k - self._inv_ref_k))
        if self._mixed or self._has_sense:
            self._refresh_mixed(temp_k)

    def _refresh_mixed(self, temp_k: float) -> None:
        """Per-temperature terms of the non-catalytic node and the measuring cell."""
        if self._mixed:
            inv = 1.0 / temp_k - self._inv_burn_ref_k
            (k_h2, k_co, k_hc), (e_h2, e_co, e_hc) = self._burn_ref, self._burn_e_k
            self._k_h2 = k_h2 * math.exp(-e_h2 * inv)
            self._k_co = k_co * math.exp(-e_co * inv)
            self._k_hc = k_hc * math.exp(-e_hc * inv)
            holdup = self._holdup_mol
            # exchange rates through the layers, 1/s per unit mole-fraction difference
            self._r_o2 = self._g_o2 / holdup
            self._r_h2 = self._g_h2 / holdup
            self._r_co = self._g_co / holdup
            self._r_hc = self._g_hc / holdup
            self._inv_4f_holdup = 1.0 / (FOUR_F * holdup)
        if self._has_sense:
            lo, hi = SENSE_T_RANGE_K
            t = lo if temp_k < lo else hi if temp_k > hi else temp_k
            self._s_v = self._s_ref_v * math.exp(self._s_coeff * (t - self._s_ref_k))

    @staticmethod
    def _transport_terms(layers, species: tuple[str, ...], factors: tuple[float, ...]) -> tuple:
        """What transport.path_conductance takes from the species data and the layers."""
        return (tuple((D_IN_N2_CM2_S[sp] * 1e-4, math.pi * MOLAR_MASS_KG[sp], factor)
                      for sp, factor in zip(species, factors)),
                tuple((layer.pore_diameter_um * 1e-6 / 3.0, layer.area_over_length_um) for layer in layers))

    @staticmethod
    def _path_conductances(terms: tuple, temp_k: float, pressure_kpa: float) -> list[float]:
        """transport.path_conductance(layers, species, temp_k, pressure_kpa, factor) for several
        species at once: the same arithmetic in the same order, with the temperature and pressure
        terms the species share computed once (this runs at every 0.2 K while the element heats)."""
        species, layers = terms
        conc = molar_concentration(temp_k, pressure_kpa)
        t_term = (temp_k / D_REF_T_K) ** 1.75      # molecular D ∝ T^1.75 / p
        p_term = D_REF_P_KPA / pressure_kpa
        eight_rt = 8.0 * R_J_PER_MOL_K * temp_k     # Knudsen D ∝ sqrt(8RT / (pi M))
        if len(layers) == 1:
            (pore_third, area_over_length), = layers
            # one layer: resistance = 0.0 + 1/(c D A/L) is 1/(c D A/L) exactly
            return [factor / (1.0 / (conc * (1.0 / (1.0 / (d_ref * t_term * p_term)
                                                     + 1.0 / (pore_third * math.sqrt(eight_rt / pi_m))))
                                     * area_over_length * 1e-6))
                    for d_ref, pi_m, factor in species]
        out = []
        for d_ref, pi_m, factor in species:
            d_m = d_ref * t_term * p_term
            mean_speed = math.sqrt(eight_rt / pi_m)
            resistance = 0.0
            for pore_third, area_over_length in layers:
                d_eff = 1.0 / (1.0 / d_m + 1.0 / (pore_third * mean_speed))
                resistance += 1.0 / (conc * d_eff * area_over_length * 1e-6)
            out.append(factor / resistance)
        return out

    def _set_heat_loss(self, gas_temp_c: float, flow_mps: float) -> None:
        """Convective conductance and gas temperature terms of the heat loss, for one world."""
        self._loss_gas_c = gas_temp_c
        self._loss_flow_mps = flow_mps
        gas_k = gas_temp_c + ZERO_C_IN_K
        self._gas_k = gas_k
        self._gas_k4 = gas_k * gas_k * gas_k * gas_k
        self._g_conv = self._g_still + self._g_forced * math.sqrt(max(flow_mps, 0.0) / 10.0)

    # --- one time step -------------------------------------------------------------------------

    def step(self, dt_s: float, world: World, pump_current_a: float, ref_current_a: float, heater_v: float) -> None:
        """Advance by dt_s with these currents flowing and this RMS voltage on the heater terminals.

        This is the emulator's innermost loop (once per 2 ms of virtual time), so the common path is
        written out here with locals: one thermal substep (_step_thermal), the node's flux and
        equilibrium (_step_node: _node_flux + equilibrium_po2), the reference (_step_reference) and
        the outputs (_update_outputs). step_by_parts() is the same step composed of those helpers,
        with the same arithmetic in the same order; tests/test_hotpath_element.py checks that the
        two agree to the last bit. The helpers also serve the rare paths (dt > 5 ms, a cold start of
        the solver) and emulator.steady. Written out, the step takes about half the time.
        """
        if world.lambda_value != self._lambda or world.hc_ppm != self._hc_ppm or world.air_h2o != self._air_h2o:
            self._set_exhaust(world)
        self.pump_current_a = pump_current_a
        self.ref_current_a = ref_current_a
        self.heater_v = heater_v
        if not self._surface_settled:
            self._step_surface(dt_s, world.flow_mps)

        # Heat (as _step_thermal with one substep).
        if dt_s <= MAX_THERMAL_STEP_S:
            if world.gas_temp_c != self._loss_gas_c or world.flow_mps != self._loss_flow_mps:
                self._set_heat_loss(world.gas_temp_c, world.flow_mps)
            t_h = self.heater_temp_k
            t_c = self.cell_temp_k
            r_lead = self._r_lead
            r_total = r_lead + self._r_heat_cold * (1.0 + self._alpha * (t_h - ZERO_C_IN_K - 20.0))
            p_heat = heater_v * heater_v * (r_total - r_lead) / (r_total * r_total)
            q_hc = self._g_heater_cell * (t_h - t_c)
            t_c2 = t_c * t_c
            q_loss = self._g_conv * (t_c - self._gas_k) + self._rad * (t_c2 * t_c2 - self._gas_k4)
            self.heater_temp_k = t_h + (p_heat - q_hc) * self._inv_c_heater * dt_s
            self.cell_temp_k = temp_k = t_c + (q_hc - q_loss) * self._inv_c_cell * dt_s
        else:
            self._step_thermal(dt_s, world, heater_v)
            temp_k = self.cell_temp_k

        if abs(temp_k - self._cache_temp_k) > REFRESH_K or world.pressure_kpa != self._pressure_kpa:
            self._refresh(temp_k, world.pressure_kpa)
            self.outer_po2_bar = self._outer_equilibrium()

        # Measuring node: _step_node written out, i.e. _node_flux at the old pO2, the balance update,
        # then equilibrium_po2 (Newton on u = ln sqrt(pO2), warm-started at the old pO2, whose first
        # iterate reuses the flux's terms). Same arithmetic in the same order as those functions.
        node_po2 = self.node_po2_bar
        if not self._node_volume_m3:
            node_po2 = self.node_po2_bar = self.outer_po2_bar
        elif self._mixed:
            node_po2 = self._step_mixed(dt_s, pump_current_a)
        elif node_po2 <= PO2_FLOOR_BAR:
            self._step_node(dt_s, pump_current_a)  # the solver's cold start
            node_po2 = self.node_po2_bar
        else:
            kw = self._kw
            kc = self._kc
            ks = self._storage_k
            p_bar = self._p_bar
            h_pool = self._h_pool
            c_pool = self._c_pool
            storage = self._storage
            g_o2 = self._g_o2
            half_g_h2 = self._half_g_h2
            half_g_co = self._half_g_co
            # _node_flux(node_po2)
            s = math.sqrt(node_po2)
            wh = kw * s
            wc = kc * s
            ws = ks * s
            ah = 1.0 + wh
            ac = 1.0 + wc
            a_s = 1.0 + ws
            ah2 = ah * ah
            ac2 = ac * ac
            as2 = a_s * a_s
            x_o2 = node_po2 / p_bar
            # A node pumped full of O2 would vent; keep the Stefan term finite at the physical limit.
            one_minus = 1.0 - x_o2 if x_o2 < 0.999 else 0.001
            inflow = (g_o2 * math.log(one_minus / self._one_minus_s_o2)
                      - half_g_h2 * (self.s_h2 - h_pool / ah)
                      - half_g_co * (self.s_co - c_pool / ac)
                      - self._hc_demand_g * self.s_hc)
            dxo2 = 2.0 * s / p_bar
            dxh2 = h_pool * kw / ah2
            dxco = c_pool * kc / ac2
            dbds = dxo2 + 0.5 * dxh2 + 0.5 * dxco + storage * ks / as2
            slope = (g_o2 * dxo2 / one_minus + half_g_h2 * dxh2 + half_g_co * dxco) / dbds
            # the balance moves towards its steady value (exact for a linear flux)
            net = inflow - pump_current_a / FOUR_F
            balance = self.node_balance + net / slope * (1.0 - math.exp(-slope * dt_s / self._holdup_mol))
            self.node_balance = balance
            # equilibrium_po2(balance, h_pool, c_pool, p_bar, kw, kc, node_po2, storage, ks)
            half_h = 0.5 * h_pool
            half_c = 0.5 * c_pool
            u = math.log(s)
            for _ in range(60):
                sw = storage * ws
                f = s * s / p_bar - half_h / ah - half_c / ac + sw / a_s - balance
                dfdu = 2.0 * s * s / p_bar + half_h * wh / ah2 + half_c * wc / ac2 + sw / as2
                if dfdu <= 0.0:
                    break
                step = f / dfdu
                if -1e-10 < step < 1e-10:  # converged: this is the last step
                    s = math.exp(u - step)
                    break
                if step > 3.0:
                    step = 3.0
                elif step < -3.0:
                    step = -3.0
                u -= step
                s = math.exp(u)
                wh = kw * s
                wc = kc * s
                ws = ks * s
                ah = 1.0 + wh
                ac = 1.0 + wc
                a_s = 1.0 + ws
                ah2 = ah * ah
                ac2 = ac * ac
                as2 = a_s * a_s
            node_po2 = s * s
            if node_po2 <= PO2_FLOOR_BAR:
                node_po2 = PO2_FLOOR_BAR
            self.node_po2_bar = node_po2

        # Reference: _step_reference (the per-step decay cached per step length), then _reference_po2.
        kind = self._ref_kind
        if kind == "pumped":
            if dt_s != self._ref_keep_dt:
                self._ref_keep_dt = dt_s
                self._ref_keep = math.exp(-self._g_leak * dt_s / (self._ref_volume_m3 * self._conc))
            target = self._s_balance + ref_current_a / self._four_f_g_leak
            fraction = target + (self.ref_fraction - target) * self._ref_keep
            if fraction > 1.0:
                fraction = 1.0
            self.ref_fraction = fraction
            if fraction > 1e-3:
                ref_po2 = self.ref_po2_bar = fraction * self._p_bar
            else:
                ref_po2 = self.ref_po2_bar = self._equilibrium(fraction, self.ref_po2_bar)
        elif kind == "air":
            ref_po2 = self.ref_po2_bar = O2_IN_DRY_AIR * AIR_PRESSURE_BAR
        else:
            ref_po2 = self.ref_po2_bar = self._buffer(temp_k)

        # Outputs (as _update_outputs).
        ri = self.ri_ohm = self._r1 * math.exp(self._e1 / temp_k) + self._r2 * math.exp(self._e2 / temp_k)
        self.nernst_emf_v = R_J_PER_MOL_K * temp_k / FOUR_F * math.log(ref_po2 / node_po2)
        if self._has_pump:
            pump_r = self._pump_r_ohm = self._pump_r_at_ref * ri / self._ri_at_ref
            self._coupling_r_ohm = self._shared_r + self._kappa * pump_r

    def step_by_parts(self, dt_s: float, world: World, pump_current_a: float, ref_current_a: float,
                      heater_v: float) -> None:
        """step() composed of its readable parts, in the same order and with the same arithmetic:
        step() is this with the common path written out for speed. Nothing in the emulator calls
        it; tests/test_hotpath_element.py holds step() to it, bit for bit."""
        if world.lambda_value != self._lambda or world.hc_ppm != self._hc_ppm or world.air_h2o != self._air_h2o:
            self._set_exhaust(world)
        self.pump_current_a = pump_current_a
        self.ref_current_a = ref_current_a
        self.heater_v = heater_v
        self._step_surface(dt_s, world.flow_mps)
        self._step_thermal(dt_s, world, heater_v)
        temp_k = self.cell_temp_k
        if abs(temp_k - self._cache_temp_k) > REFRESH_K or world.pressure_kpa != self._pressure_kpa:
            self._refresh(temp_k, world.pressure_kpa)
            self.outer_po2_bar = self._outer_equilibrium()
        if not self._node_volume_m3:
            self.node_po2_bar = self.outer_po2_bar  # no node: the working electrode sees the surface gas
        elif self._mixed:
            self._step_mixed(dt_s, pump_current_a)
        else:
            self._step_node(dt_s, pump_current_a)
        self._step_reference(dt_s, ref_current_a)
        self._update_outputs()

    def _step_reference(self, dt_s: float, ref_current_a: float) -> None:
        """A pumped reference fills towards the level where the O2 pumped in balances the leak to
        the exhaust: first order, time constant V c / G_leak (~3 s). Air and sealed (metal/oxide
        buffer) references hold their pO2 at the cell temperature."""
        if self._ref_kind == "pumped":
            keep = math.exp(-self._g_leak * dt_s / (self._ref_volume_m3 * self._conc))
            target = self._surface_balance() + ref_current_a / (FOUR_F * self._g_leak)
            self.ref_fraction = min(target + (self.ref_fraction - target) * keep, 1.0)
        self.ref_po2_bar = self._reference_po2()

    def _step_surface(self, dt_s: float, flow_mps: float) -> None:
        if self._surface_settled:
            return
        keep = math.exp(-(self._exchange_still + self._exchange_per_mps * flow_mps) * dt_s)
        ex = self._exhaust
        e_o2, e_h2, e_co, e_hc = ex.o2, ex.h2, ex.co, ex.hc
        o2 = e_o2 + (self.s_o2 - e_o2) * keep
        h2 = e_h2 + (self.s_h2 - e_h2) * keep
        co = e_co + (self.s_co - e_co) * keep
        hc = e_hc + (self.s_hc - e_hc) * keep
        if abs(o2 - e_o2) + abs(h2 - e_h2) + abs(co - e_co) + abs(hc - e_hc) < 1e-12:
            self.s_o2, self.s_h2, self.s_co, self.s_hc = e_o2, e_h2, e_co, e_hc
            self.s_h2o, self.s_co2 = ex.h2o, ex.co2
            self._surface_settled = True
        else:
            self.s_o2, self.s_h2, self.s_co, self.s_hc = o2, h2, co, hc
            self.s_h2o = ex.h2o + (self.s_h2o - ex.h2o) * keep
            self.s_co2 = ex.co2 + (self.s_co2 - ex.co2) * keep
        self._surface_changed()
        self.outer_po2_bar = self._outer_equilibrium()

    def _step_thermal(self, dt_s: float, world: World, heater_v: float) -> None:
        if world.gas_temp_c != self._loss_gas_c or world.flow_mps != self._loss_flow_mps:
            self._set_heat_loss(world.gas_temp_c, world.flow_mps)
        gas_k = self._gas_k
        g_conv = self._g_conv
        rad = self._rad
        gas_k4 = self._gas_k4
        g_hc = self._g_heater_cell
        inv_c_h = self._inv_c_heater
        inv_c_c = self._inv_c_cell
        r_lead = self._r_lead
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

    # --- non-catalytic node (family "hc") -----------------------------------------------------------

    def _step_mixed(self, dt_s: float, pump_current_a: float) -> float:
        """Advance the node's O2, H2, CO and HC by dt_s; returns (and sets) the control electrode's pO2.

        Reducers: dx/dt = r·(x_surface − x) − k·θ·x, with r = G/(V c) the exchange through the layers,
        k the burn rate at the inner pumping electrode and θ = x_O2/(x_O2 + o2_half) (no O2, no burn);
        exact exponential steps for the step's θ. O2: dx/dt = r·ln((1 − x)/(1 − x_surface)) − Ip/(4F V c)
        − Σ demand·k·θ·x̄ (x̄: each reducer's mean over the step, so O2 and reducers burn in exact
        stoichiometry), an exponential step linearised at the present x (stable for any step). Pumping
        out more O2 than there is electrolyses H2O/CO2: the deficit appears as H2 and CO.
        """
        x_o2 = self.n_o2
        theta = x_o2 / (x_o2 + self._o2_half) if x_o2 > 0.0 else 0.0
        # Each reducer: an exact step towards its balance of inflow and burn, and the O2 that burn
        # takes over the step (demand x rate x mean fraction).
        self.n_h2, burn_h2 = _reducer_step(self.n_h2, self.s_h2, self._r_h2, self._k_h2 * theta, dt_s)
        self.n_co, burn_co = _reducer_step(self.n_co, self.s_co, self._r_co, self._k_co * theta, dt_s)
        self.n_hc, burn_hc = _reducer_step(self.n_hc, self.s_hc, self._r_hc, self._k_hc * theta, dt_s)
        burn_o2 = _DEMAND_H2 * burn_h2 + _DEMAND_CO * burn_co + _DEMAND_HC * burn_hc
        one_minus = 1.0 - x_o2 if x_o2 < 0.999 else 0.001
        rate = self._r_o2
        net = (rate * math.log(one_minus / self._one_minus_s_o2) - pump_current_a * self._inv_4f_holdup
               - burn_o2)
        slope = rate / one_minus
        x_o2 += net / slope * (1.0 - math.exp(-slope * dt_s))
        if x_o2 < 0.0:
            # electrolysis of H2O and CO2 in the proportion they are present: 2 H2 or CO per O2
            h2o, co2 = self.s_h2o, self.s_co2
            share_h2 = h2o / (h2o + co2) if h2o + co2 > 0.0 else 1.0
            deficit = -2.0 * x_o2
            self.n_h2 += deficit * share_h2
            self.n_co += deficit * (1.0 - share_h2)
            x_o2 = 0.0
        self.n_o2 = x_o2
        po2 = self.node_po2_bar = self._mixed_control_po2()
        if self._has_sense:
            self._mixed_sense()
        return po2

    def _mixed_control_po2(self) -> float:
        """pO2 (bar) the inner pumping electrode (control cell) responds to: the node's free O2 (the
        electrode is near equilibrium for O2 when lean); when free O2 is nearly gone, not below the
        gas's equilibrium value (a node full of reducers reads rich)."""
        p_bar = self._p_bar
        po2 = self.n_o2 * p_bar
        if po2 < MIXED_EQ_BELOW_BAR:
            balance = (self.n_o2 - _DEMAND_H2 * self.n_h2 - _DEMAND_CO * self.n_co - _DEMAND_HC * self.n_hc)
            guess = self.node_po2_bar if getattr(self, "node_po2_bar", 0.0) else 0.0
            eq = equilibrium_po2(balance, self._h_pool, self._c_pool, p_bar, self._kw, self._kc,
                                 guess if guess < MIXED_EQ_BELOW_BAR else 0.0)
            if eq > po2:
                po2 = eq
        return po2 if po2 > PO2_FLOOR_BAR else PO2_FLOOR_BAR

    def _mixed_sense(self) -> None:
        """Mixed-potential shift of the measuring electrode vs an equilibrium electrode in the same gas:
        ΔV = −S(T)·log10(1 + c_eq/c0) + β·log10(x_O2/x_O2,0), c_eq = Σ w_i·x_i (docs/hc-sensor.md)."""
        c_eq = self._w_hc * self.n_hc + self._w_co * self.n_co + self._w_h2 * self.n_h2
        x_o2 = self.n_o2 if self.n_o2 > SENSE_O2_FLOOR else SENSE_O2_FLOOR
        self.sense_dv_v = (-self._s_v * math.log10(1.0 + c_eq / self._c0)
                           + self._beta_v * math.log10(x_o2 / self._x_o2_ref))

    def _mixed_steady(self, x_o2: float) -> float:
        """Steady node at free O2 x_o2: sets the reducers to their steady values (inflow = burn +
        outflow) and returns the net O2 inflow (mol/s) the pump must remove to hold x_o2."""
        self.n_o2 = x_o2
        theta = x_o2 / (x_o2 + self._o2_half) if x_o2 > 0.0 else 0.0
        holdup = self._holdup_mol
        burn_o2 = 0.0
        for name, rate, k_burn, surface, demand in (("n_h2", self._r_h2, self._k_h2, self.s_h2, _DEMAND_H2),
                                                     ("n_co", self._r_co, self._k_co, self.s_co, _DEMAND_CO),
                                                     ("n_hc", self._r_hc, self._k_hc, self.s_hc, _DEMAND_HC)):
            kb = k_burn * theta
            x = rate * surface / (rate + kb)
            setattr(self, name, x)
            burn_o2 += demand * kb * x
        one_minus = 1.0 - x_o2 if x_o2 < 0.999 else 0.001
        return holdup * (self._r_o2 * math.log(one_minus / (1.0 - self.s_o2)) - burn_o2)

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
        if self._has_sense and self._mixed:
            self._mixed_sense()
        # Per-step values of pump_r_ohm and coupling_r_ohm, for the front end's hot path.
        if self._has_pump:
            self._pump_r_ohm = self.pump_r_ohm
            self._coupling_r_ohm = self.coupling_r_ohm

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
        return self._pump_r_at_ref * self.ri_ohm / self._ri_at_ref if self._has_pump else math.inf

    @property
    def coupling_r_ohm(self) -> float:
        """Resistance through which the pump current shows up in the Nernst reading."""
        if not self._has_pump:
            return self._shared_r
        return self._shared_r + self._kappa * self.pump_r_ohm

    def nernst_terminal_v(self, pump_current_a: float, ref_current_a: float) -> float:
        """DC voltage across the Nernst terminals (no excitation): EMF + reference-pump IR drop +
        pump-current cross-talk."""
        if not self._has_pump:
            pump_current_a = 0.0
        return self.nernst_emf_v + ref_current_a * self.ri_ohm + pump_current_a * self.coupling_r_ohm

    # --- the non-catalytic node and the measuring cell (family "hc") --------------------------------

    @property
    def has_measuring_cell(self) -> bool:
        return self._has_sense

    @property
    def sense_emf_v(self) -> float:
        """Measuring-cell EMF (V), NaN without a measuring cell: the control cell's Nernst term plus the
        mixed-potential shift ΔV (≤ 0 with oxidisable gas: more HC reads lower than the control cell)."""
        return self.nernst_emf_v + self.sense_dv_v

    def sense_terminal_v(self, pump_current_a: float) -> float:
        """DC voltage at the measuring-cell terminals (no excitation, no heater leakage): EMF + the
        share of the pump cell's electrolyte drop the measuring cell sees."""
        if not self._has_pump or not self._sense_kappa:
            return self.sense_emf_v
        return self.sense_emf_v + pump_current_a * self._sense_kappa * self.pump_r_ohm

    @property
    def node_o2_fraction(self) -> float:
        """Free O2 in the measuring node (mole fraction): tracked in a non-catalytic node, the
        equilibrium value in a catalytic one."""
        if self._mixed:
            return self.n_o2
        return self.node_po2_bar / self._p_bar

    @property
    def node_hc_ppm(self) -> float:
        """HC (C3H6) in the measuring node, ppm (0 in a catalytic node: it burns at the electrode)."""
        return 1e6 * self.n_hc if self._mixed else 0.0

    @property
    def node_co_ppm(self) -> float:
        return 1e6 * self.n_co if self._mixed else 0.0

    @property
    def node_h2_ppm(self) -> float:
        return 1e6 * self.n_h2 if self._mixed else 0.0

    def pump_voltage(self, pump_current_a: float) -> float:
        """Voltage the pump cell needs to pass this current now (outer electrode positive):
        Nernst term (outer vs node) + ohmic drop + Butler-Volmer overvoltage (symmetric, asinh)."""
        if not self._has_pump:
            return 0.0
        rt_4f = self._rt_4f
        return (rt_4f * math.log(self.outer_po2_bar / self.node_po2_bar)
                + pump_current_a * self._pump_r_ohm
                + 8.0 * rt_4f * math.asinh(pump_current_a / self._two_i0))

    def pump_slope_ohm(self, pump_current_a: float) -> float:
        """dV/dI of the pump cell at this current (ohmic + overvoltage)."""
        if self.spec.pump_cell is None:
            return math.inf
        two_i0 = self._two_i0
        return self.pump_r_ohm + 8.0 * self._rt_4f / math.sqrt(pump_current_a * pump_current_a + two_i0 * two_i0)

    @property
    def exhaust_o2_pct(self) -> float:
        return 100.0 * self._exhaust.o2
