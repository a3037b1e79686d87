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
from typing import Any

import numpy as np

from .constants import (
    D_IN_N2_CM2_S,
    D_REF_P_KPA,
    D_REF_T_K,
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

# The physics of a step (functions of floats) and its kernels: element_physics.py.
from .element_physics import (
    _DEMAND_CO,
    _DEMAND_H2,
    _DEMAND_HC,
    _REF_KINDS,
    FOUR_F,
    K_ALPHA,
    K_BETA_V,
    K_C0,
    K_C_POOL,
    K_CONC,
    K_E1,
    K_E2,
    K_G_CO,
    K_G_CONV,
    K_G_H2,
    K_G_HC,
    K_G_HEATER_CELL,
    K_G_LEAK,
    K_G_O2,
    K_GAS_K,
    K_GAS_K4,
    K_H_POOL,
    K_HAS_PUMP,
    K_HAS_SENSE,
    K_HOLDUP,
    K_INV_4F_HOLDUP,
    K_INV_C_CELL,
    K_INV_C_HEATER,
    K_K_CO,
    K_K_H2,
    K_K_HC,
    K_KAPPA,
    K_KC,
    K_KW,
    K_NODE,
    K_O2_HALF,
    K_P_BAR,
    K_PUMP_R_AT_REF,
    K_R1,
    K_R2,
    K_R_CO,
    K_R_H2,
    K_R_HC,
    K_R_HEAT_COLD,
    K_R_LEAD,
    K_R_O2,
    K_RAD,
    K_REF_KIND,
    K_REF_VOLUME,
    K_RI_AT_REF,
    K_S_BALANCE,
    K_S_CO,
    K_S_CO2,
    K_S_H2,
    K_S_H2O,
    K_S_HC,
    K_S_O2,
    K_S_V,
    K_SHARED_R,
    K_SIZE,
    K_STORAGE,
    K_STORAGE_K,
    K_W_CO,
    K_W_H2,
    K_W_HC,
    K_X_O2_REF,
    NODE_CATALYTIC,
    NODE_MIXED,
    NODE_NONE,
    REFRESH_K,
    SENSE_T_RANGE_K,
    _make_mixed_step_kernel,
    _make_step_kernel,
    heat_step,
    heater_resistance,
    mixed_control_po2,
    mixed_node_step,
    mixed_sense_dv,
    nernst_emf,
    node_flux,
    node_step,
    pumped_reference,
    reference_po2,
    ri_at_temperature,
)
from .element_spec import DiffusionLayer, ElementSpec
from .equilibrium import (
    METAL_OXIDE_BUFFERS,
    equilibrium_po2,
    k_co,
    k_water,
)
from .exhaust import exhaust
from .fuels import Fuel
from .jit import compiled, is_compiled
from .transport import molar_concentration, path_conductance
from .world import World


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
        "_g_co", "_g_hc", "_holdup_mol", "_g_leak",
        "_rt_4f", "_two_i0",
        # cached per world (_set_heat_loss)
        "_loss_gas_c", "_loss_flow_mps", "_gas_k", "_gas_k4", "_g_conv",
        # non-catalytic node (family "hc"): state, outputs, constants, per-temperature cache
        "_mixed", "_has_sense", "n_o2", "n_h2", "n_co", "n_hc", "sense_dv_v",
        "_burn_ref", "_burn_e_k", "_inv_burn_ref_k", "_o2_half", "_s_ref_v", "_s_coeff", "_s_ref_k", "_c0",
        "_w_hc", "_w_co", "_w_h2", "_beta_v", "_x_o2_ref", "_sense_kappa",
        "_k_h2", "_k_co", "_k_hc", "_s_v", "_r_o2", "_r_h2", "_r_co", "_r_hc", "_inv_4f_holdup",
        # the step kernel's parameter vector (K_* indexes), and the reference's kind as it sees it
        "_k", "_ref_code",
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
        self._ref_code = _REF_KINDS[ref.kind if ref.kind != "sealed" else ("sealed", ref.buffer)]
        # The step kernel's parameters: a float64 array for the compiled kernel, a list for Python.
        _kernels.load(self._mixed)
        self._k = np.zeros(K_SIZE) if is_compiled() else [0.0] * K_SIZE
        self._load_spec_params()
        self.reset(world)

    @property
    def trim_ohm(self) -> float | None:
        """The unit's trim resistor (pin 5, IA), None when it has none (emulator/production.py)."""
        return self.spec.trim_ohm

    def _load_spec_params(self) -> None:
        """The spec's constants in the kernel's parameter vector."""
        k = self._k
        k[K_R_LEAD], k[K_R_HEAT_COLD], k[K_ALPHA] = self._r_lead, self._r_heat_cold, self._alpha
        k[K_G_HEATER_CELL], k[K_RAD] = self._g_heater_cell, self._rad
        k[K_INV_C_HEATER], k[K_INV_C_CELL] = self._inv_c_heater, self._inv_c_cell
        k[K_NODE] = NODE_MIXED if self._mixed else NODE_CATALYTIC if self._node_volume_m3 else NODE_NONE
        k[K_STORAGE_K] = self._storage_k
        k[K_REF_KIND] = self._ref_code
        k[K_REF_VOLUME] = self._ref_volume_m3
        k[K_R1], k[K_E1], k[K_R2], k[K_E2] = self._r1, self._e1, self._r2, self._e2
        k[K_HAS_PUMP] = 1.0 if self._has_pump else 0.0
        k[K_PUMP_R_AT_REF], k[K_RI_AT_REF] = self._pump_r_at_ref, self._ri_at_ref
        k[K_SHARED_R], k[K_KAPPA] = self._shared_r, self._kappa
        k[K_O2_HALF], k[K_HAS_SENSE] = self._o2_half, 1.0 if self._has_sense else 0.0
        k[K_C0], k[K_W_HC], k[K_W_CO], k[K_W_H2] = self._c0, self._w_hc, self._w_co, self._w_h2
        k[K_BETA_V], k[K_X_O2_REF] = self._beta_v, self._x_o2_ref

    def __copy__(self) -> ElementModel:
        """A twin with its own kernel parameters (the rest shared, as copy.copy shares it)."""
        twin = type(self).__new__(type(self))
        for name in ElementModel.__slots__:
            if hasattr(self, name):
                setattr(twin, name, getattr(self, name))
        twin._k = self._k.copy()
        return twin

    def __setstate__(self, state: Any) -> None:
        """Unpickled (or deep-copied): the kernel's parameters in the form this process's kernel takes
        (a model pickled where numba was off may be loaded where it is on, and the other way)."""
        dict_state, slot_state = state if isinstance(state, tuple) else (state, None)
        for mapping in (dict_state, slot_state):
            for name, value in (mapping or {}).items():
                setattr(self, name, value)
        _kernels.load(self._mixed)
        self._k = np.array(self._k, dtype=np.float64) if is_compiled() else [float(x) for x in self._k]

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
        return ri_at_temperature(temp_k, self._r1, self._e1, self._r2, self._e2)

    def arc(self, temp_k: float) -> tuple[float, float]:
        """Electrode arc (R_ct, C_dl) of the Nernst cell at temp_k."""
        nernst = self.spec.nernst_cell
        r_ct = nernst.arc_r_ohm_at_ref * math.exp(self._arc_e_k * (1.0 / temp_k - self._inv_ref_k))
        return r_ct, nernst.arc_c_f

    def heater_resistance_at(self, heater_temp_k: float) -> float:
        return heater_resistance(heater_temp_k, self._r_lead, self._r_heat_cold, self._alpha)

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
        """Cache what step() needs of the surface gas (s_*), here and in the kernel's parameters; call
        whenever the s_* change."""
        self._s_balance = self._surface_balance()
        self._h_pool, self._c_pool = self._pools()
        self._one_minus_s_o2 = 1.0 - self.s_o2
        k = self._k
        k[K_S_O2], k[K_S_H2], k[K_S_CO], k[K_S_HC] = self.s_o2, self.s_h2, self.s_co, self.s_hc
        k[K_H_POOL], k[K_C_POOL], k[K_S_BALANCE] = self._h_pool, self._c_pool, self._s_balance
        k[K_S_H2O], k[K_S_CO2] = self.s_h2o, self.s_co2

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
        self._holdup_mol = self._node_volume_m3 * self._conc
        if self._ref_leak_layer is not None:
            self._g_leak, = self._path_conductances(self._leak_terms, temp_k, pressure_kpa)
        self.arc_r_ohm, self.arc_c_f = self.arc(temp_k)
        self._rt_4f = R_J_PER_MOL_K * temp_k / FOUR_F
        if self._has_pump:
            self._two_i0 = self._two_i0_at_ref * math.exp(self._minus_exchange_e_k * (1.0 / temp_k - self._inv_ref_k))
        if self._mixed or self._has_sense:
            self._refresh_mixed(temp_k)
        k = self._k
        k[K_P_BAR], k[K_KW], k[K_KC], k[K_CONC] = self._p_bar, self._kw, self._kc, self._conc
        k[K_STORAGE], k[K_HOLDUP] = self._storage, self._holdup_mol
        if self.spec.diffusion_layers:
            k[K_G_O2], k[K_G_H2], k[K_G_CO], k[K_G_HC] = self._g_o2, self._g_h2, self._g_co, self._g_hc
        if self._ref_leak_layer is not None:
            k[K_G_LEAK] = self._g_leak
        if self._mixed:
            k[K_R_O2], k[K_R_H2], k[K_R_CO], k[K_R_HC] = self._r_o2, self._r_h2, self._r_co, self._r_hc
            k[K_K_H2], k[K_K_CO], k[K_K_HC] = self._k_h2, self._k_co, self._k_hc
            k[K_INV_4F_HOLDUP] = self._inv_4f_holdup
        if self._has_sense:
            k[K_S_V] = self._s_v

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
        k = self._k
        k[K_GAS_K], k[K_GAS_K4], k[K_G_CONV] = gas_k, self._gas_k4, self._g_conv

    # --- one time step -------------------------------------------------------------------------

    def step(self, dt_s: float, world: World, pump_current_a: float, ref_current_a: float, heater_v: float) -> None:
        """Advance by dt_s with these currents flowing and this RMS voltage on the heater terminals.

        This is the emulator's innermost loop (once per 2 ms of virtual time): step_by_parts() with
        the thermal step, the node, the reference and the outputs in one call of the step kernel
        (compiled when numba is there, emulator.jit), which composes the same physics functions
        (heat_step, node_step, pumped_reference, reference_po2, ri_at_temperature, nernst_emf).
        tests/test_hotpath_element.py holds the two to the same numbers, bit for bit. A
        non-catalytic node (family "hc") has its own kernel (mixed_step_kernel: mixed_node_step,
        mixed_control_po2, mixed_sense_dv, then the same heat, reference and outputs).
        """
        if world.lambda_value != self._lambda or world.hc_ppm != self._hc_ppm or world.air_h2o != self._air_h2o:
            self._set_exhaust(world)
        self.pump_current_a = pump_current_a
        self.ref_current_a = ref_current_a
        self.heater_v = heater_v
        # The surface gas moves (until it has settled after a change of the exhaust): the kernel then
        # equilibrates the outer electrode in it (outer_stale), as _step_surface would.
        surface_moved = not self._surface_settled
        if surface_moved:
            self._step_surface(dt_s, world.flow_mps, equilibrate=False)
        if world.gas_temp_c != self._loss_gas_c or world.flow_mps != self._loss_flow_mps:
            self._set_heat_loss(world.gas_temp_c, world.flow_mps)
        # A new pressure refreshes the cache whatever the temperature: a cache temperature of -inf.
        pressure_kpa = world.pressure_kpa
        cache_temp_k = self._cache_temp_k if pressure_kpa == self._pressure_kpa else -math.inf
        if self._mixed:
            self._step_mixed_node_compiled(dt_s, pump_current_a, ref_current_a, heater_v, cache_temp_k, pressure_kpa,
                                           surface_moved)
            return
        (done, self.outer_po2_bar, self.heater_temp_k, temp_k, balance, node_po2, ref_fraction, ref_po2, ri, emf,
         pump_r, coupling_r) = _kernels.step(
            self._k, dt_s, pump_current_a, ref_current_a, heater_v, self.heater_temp_k, self.cell_temp_k,
            cache_temp_k, self.node_balance, self.node_po2_bar, self.outer_po2_bar, self.ref_fraction,
            self.ref_po2_bar, True, surface_moved)
        self.cell_temp_k = temp_k
        if not done:
            # The cache refreshed at the new temperature (and pressure), then the rest of the step
            # with the outer electrode equilibrated afresh.
            self._refresh(temp_k, pressure_kpa)
            (_, self.outer_po2_bar, _, _, balance, node_po2, ref_fraction, ref_po2, ri, emf, pump_r,
             coupling_r) = _kernels.step(
                self._k, dt_s, pump_current_a, ref_current_a, heater_v, self.heater_temp_k, temp_k, temp_k,
                self.node_balance, self.node_po2_bar, self.outer_po2_bar, self.ref_fraction, self.ref_po2_bar,
                False, True)
        self.node_balance = balance
        self.node_po2_bar = node_po2
        self.ref_fraction = ref_fraction
        self.ref_po2_bar = ref_po2
        self.ri_ohm = ri
        self.nernst_emf_v = emf
        if self._has_pump:
            self._pump_r_ohm = pump_r
            self._coupling_r_ohm = coupling_r

    def _step_mixed_node_compiled(self, dt_s: float, pump_current_a: float, ref_current_a: float, heater_v: float,
                                  cache_temp_k: float, pressure_kpa: float, surface_moved: bool) -> None:
        """step() from the heat on, for a non-catalytic node: mixed_step_kernel (twice when the cache
        refreshes, as for a catalytic node)."""
        args = (self.ref_fraction, self.ref_po2_bar, self.n_o2, self.n_h2, self.n_co, self.n_hc)
        (done, self.outer_po2_bar, self.heater_temp_k, temp_k, ref_fraction, ref_po2, ri, emf, pump_r, coupling_r,
         n_o2, n_h2, n_co, n_hc, node_po2, sense_dv) = _kernels.mixed_step(
            self._k, dt_s, pump_current_a, ref_current_a, heater_v, self.heater_temp_k, self.cell_temp_k,
            cache_temp_k, self.node_po2_bar, self.outer_po2_bar, *args, True, surface_moved)
        self.cell_temp_k = temp_k
        if not done:
            self._refresh(temp_k, pressure_kpa)
            (_, self.outer_po2_bar, _, _, ref_fraction, ref_po2, ri, emf, pump_r, coupling_r, n_o2, n_h2, n_co, n_hc,
             node_po2, sense_dv) = _kernels.mixed_step(
                self._k, dt_s, pump_current_a, ref_current_a, heater_v, self.heater_temp_k, temp_k, temp_k,
                self.node_po2_bar, self.outer_po2_bar, *args, False, True)
        self.n_o2, self.n_h2, self.n_co, self.n_hc = n_o2, n_h2, n_co, n_hc
        self.node_po2_bar = node_po2
        if self._has_sense:
            self.sense_dv_v = sense_dv
        self.ref_fraction = ref_fraction
        self.ref_po2_bar = ref_po2
        self.ri_ohm = ri
        self.nernst_emf_v = emf
        if self._has_pump:
            self._pump_r_ohm = pump_r
            self._coupling_r_ohm = coupling_r

    def step_by_parts(self, dt_s: float, world: World, pump_current_a: float, ref_current_a: float,
                      heater_v: float) -> None:
        """The step composed of the model's readable parts (methods over the physics functions above),
        always run as Python: the reference that step() (the kernel, compiled or not) is held to, bit for
        bit, by tests/test_hotpath_element.py. step() takes it for a non-catalytic node."""
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
        the exhaust (pumped_reference). Air and sealed (metal/oxide buffer) references hold their pO2
        at the cell temperature."""
        if self._ref_kind == "pumped":
            self.ref_fraction = pumped_reference(self.ref_fraction, ref_current_a, dt_s, self._surface_balance(),
                                                 self._g_leak, self._ref_volume_m3, self._conc)
        self.ref_po2_bar = self._reference_po2()

    def _step_surface(self, dt_s: float, flow_mps: float, equilibrate: bool = True) -> None:
        """The surface gas after dt_s (first-order exchange with the exhaust), and, unless told not to
        (step() has its kernel do it), the outer electrode's equilibrium pO2 in it."""
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
        if equilibrate:
            self.outer_po2_bar = self._outer_equilibrium()

    def _step_thermal(self, dt_s: float, world: World, heater_v: float) -> None:
        if world.gas_temp_c != self._loss_gas_c or world.flow_mps != self._loss_flow_mps:
            self._set_heat_loss(world.gas_temp_c, world.flow_mps)
        self.heater_temp_k, self.cell_temp_k = heat_step(
            self.heater_temp_k, self.cell_temp_k, heater_v, dt_s, self._r_lead, self._r_heat_cold, self._alpha,
            self._g_heater_cell, self._g_conv, self._gas_k, self._rad, self._gas_k4, self._inv_c_heater,
            self._inv_c_cell)

    def _node_flux(self, po2_bar: float) -> tuple[float, float]:
        """Net O2-equivalent inflow to the node (mol/s) at node pO2, and its slope vs the node's
        oxygen balance (node_flux with this model's surface gas and conductances)."""
        h_pool, c_pool = self._pools()
        return node_flux(po2_bar, self._p_bar, self._kw, self._kc, self._storage, self._storage_k, h_pool, c_pool,
                         self.s_o2, self.s_h2, self.s_co, self.s_hc, self._g_o2, self._g_h2, self._g_co, self._g_hc)

    def _step_node(self, dt_s: float, pump_current_a: float) -> None:
        h_pool, c_pool = self._pools()
        holdup = self._node_volume_m3 * self._conc
        self.node_balance, self.node_po2_bar = node_step(
            self.node_balance, self.node_po2_bar, pump_current_a, dt_s, holdup, self._p_bar, self._kw, self._kc,
            self._storage, self._storage_k, h_pool, c_pool, self.s_o2, self.s_h2, self.s_co, self.s_hc, self._g_o2,
            self._g_h2, self._g_co, self._g_hc)

    # --- non-catalytic node (family "hc") -----------------------------------------------------------

    def _step_mixed(self, dt_s: float, pump_current_a: float) -> float:
        """Advance the node's O2, H2, CO and HC by dt_s (mixed_node_step); returns (and sets) the
        control electrode's pO2."""
        self.n_o2, self.n_h2, self.n_co, self.n_hc = mixed_node_step(
            self.n_o2, self.n_h2, self.n_co, self.n_hc, self.s_o2, self.s_h2, self.s_co, self.s_hc, self.s_h2o,
            self.s_co2, self._r_o2, self._r_h2, self._r_co, self._r_hc, self._k_h2, self._k_co, self._k_hc,
            self._o2_half, self._inv_4f_holdup, pump_current_a, dt_s)
        po2 = self.node_po2_bar = self._mixed_control_po2()
        if self._has_sense:
            self._mixed_sense()
        return po2

    def _mixed_control_po2(self) -> float:
        """pO2 (bar) the inner pumping electrode (control cell) responds to (mixed_control_po2)."""
        guess = self.node_po2_bar if getattr(self, "node_po2_bar", 0.0) else 0.0
        return mixed_control_po2(self.n_o2, self.n_h2, self.n_co, self.n_hc, self._p_bar, self._h_pool,
                                 self._c_pool, self._kw, self._kc, guess)

    def _mixed_sense(self) -> None:
        """The measuring electrode's mixed-potential shift (mixed_sense_dv)."""
        self.sense_dv_v = mixed_sense_dv(self.n_o2, self.n_h2, self.n_co, self.n_hc, self._s_v, self._c0,
                                         self._w_hc, self._w_co, self._w_h2, self._beta_v, self._x_o2_ref)

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
        h_pool, c_pool = self._pools()
        return reference_po2(self._ref_code, self.ref_fraction, self.cell_temp_k, self._p_bar, h_pool, c_pool,
                             self._kw, self._kc, getattr(self, "ref_po2_bar", 0.0))

    def _update_outputs(self) -> None:
        temp_k = self.cell_temp_k
        self.ri_ohm = self.ri_at(temp_k)
        self.nernst_emf_v = nernst_emf(temp_k, self.ref_po2_bar, self.node_po2_bar)
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
        return self.nernst_emf_v + ref_current_a * self.ri_ohm + pump_current_a * self._coupling_r_ohm

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


class _Kernels:
    """The step kernel, compiled on first use (emulator.jit): numba's import and the loading of the
    kernel from the on-disk cache happen when the first element model is built, not on import. (An
    instance, not the class: a compiled kernel is a descriptor, and looking it up on a class would
    bind it anew on every call.)"""

    def __init__(self) -> None:
        self.step: Any = None
        self.mixed_step: Any = None

    def load(self, mixed: bool = False) -> None:
        """The step kernel, and with mixed the non-catalytic node's (built only when such an element is)."""
        if self.step is None:
            self.step = compiled(_make_step_kernel, "float64[::1]" + ", float64" * 12 + ", boolean, boolean")
        if mixed and self.mixed_step is None:
            self.mixed_step = compiled(_make_mixed_step_kernel,
                                       "float64[::1]" + ", float64" * 15 + ", boolean, boolean")


_kernels = _Kernels()
