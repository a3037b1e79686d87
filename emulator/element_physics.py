"""The physics of one element step, as plain functions of floats, and the step kernels that compose
them (ElementModel.step calls a kernel once per step; emulator/element.py has the model).

Written once and readable. Python runs them as they stand; numba compiles the kernels when it is
there (emulator/jit.py); and an install with a C compiler builds this module ahead of time with
Cython (lambdarig/aot.py, setup.py; element_physics.pxd gives the functions' C types), so that the
kernels run compiled without numba's start-up. Same numbers every way, to the last bit
(tests/test_hotpath_element.py, tests/test_jit_fallback.py).
"""

from __future__ import annotations

import math

from .constants import F_C_PER_MOL, O2_DEMAND, O2_IN_DRY_AIR, R_J_PER_MOL_K, ZERO_C_IN_K
from .equilibrium import PO2_FLOOR_BAR, equilibrium_po2, po2_ni_nio, po2_pd_pdo
from .jit import jitable

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


# --- the physics of one step, as functions of floats ---------------------------------------------
#
# Written once and readable: the model's methods (the readable step, step_by_parts, and the rare
# paths) call these in Python, and the step kernel below calls the same functions, compiled when
# numba is there (emulator.jit). The kernel and step_by_parts agree to the last bit
# (tests/test_hotpath_element.py).

@jitable
def heater_resistance(heater_temp_k: float, r_lead: float, r_heat_cold: float, alpha: float) -> float:
    """Heater track + leads, ohm: the track's resistance rises linearly from its value at 20 °C."""
    return r_lead + r_heat_cold * (1.0 + alpha * (heater_temp_k - ZERO_C_IN_K - 20.0))


@jitable
def heat_step(t_h: float, t_c: float, heater_v: float, dt_s: float, r_lead: float, r_heat_cold: float,
              alpha: float, g_heater_cell: float, g_conv: float, gas_k: float, rad: float, gas_k4: float,
              inv_c_heater: float, inv_c_cell: float) -> tuple[float, float]:
    """Heater track and electrolyte temperatures (K) after dt_s: Joule heat in the track (the leads
    take their share of the voltage), conduction track -> cell, convection and radiation from the cell
    to the gas. Explicit Euler in substeps of at most MAX_THERMAL_STEP_S."""
    v2 = heater_v * heater_v
    steps = max(1, math.ceil(dt_s / MAX_THERMAL_STEP_S))
    h = dt_s / steps
    for _ in range(steps):
        r_total = heater_resistance(t_h, r_lead, r_heat_cold, alpha)
        p_heat = v2 * (r_total - r_lead) / (r_total * r_total)
        q_hc = g_heater_cell * (t_h - t_c)
        t_c2 = t_c * t_c
        q_loss = g_conv * (t_c - gas_k) + rad * (t_c2 * t_c2 - gas_k4)
        t_h += (p_heat - q_hc) * inv_c_heater * h
        t_c += (q_hc - q_loss) * inv_c_cell * h
    return t_h, t_c


@jitable
def node_flux(po2_bar: float, p_bar: float, kw: float, kc: float, storage: float, storage_k: float,
              h_pool: float, c_pool: float, s_o2: float, s_h2: float, s_co: float, s_hc: float,
              g_o2: float, g_h2: float, g_co: float, g_hc: float) -> tuple[float, float]:
    """Net O2-equivalent inflow to a catalytic node (mol/s) at node pO2 po2_bar, and its slope vs the
    node's oxygen balance (mol/s per unit balance, > 0). Through the diffusion layers: O2 with the
    Stefan term, H2 and CO at their equilibrium fractions in the node (each takes 1/2 O2), HC burnt
    at the electrode. s_* are the surface gas's fractions, g_* the layers' conductances (mol/s)."""
    s = math.sqrt(po2_bar)
    ah = 1.0 + kw * s
    ac = 1.0 + kc * s
    x_o2 = po2_bar / p_bar
    x_h2 = h_pool / ah
    x_co = c_pool / ac
    # A node pumped full of O2 would vent; keep the Stefan term finite at the physical limit.
    one_minus = 1.0 - x_o2 if x_o2 < 0.999 else 0.001
    inflow = (g_o2 * math.log(one_minus / (1.0 - s_o2))
              - 0.5 * g_h2 * (s_h2 - x_h2)
              - 0.5 * g_co * (s_co - x_co)
              - _DEMAND_HC * g_hc * s_hc)
    dxo2 = 2.0 * s / p_bar
    dxh2 = h_pool * kw / (ah * ah)   # magnitude; x_H2 falls as s rises
    dxco = c_pool * kc / (ac * ac)
    a_s = 1.0 + storage_k * s
    dbds = dxo2 + 0.5 * dxh2 + 0.5 * dxco + storage * storage_k / (a_s * a_s)
    slope = (g_o2 * dxo2 / one_minus + 0.5 * g_h2 * dxh2 + 0.5 * g_co * dxco) / dbds
    return inflow, slope


@jitable
def node_step(balance: float, po2_bar: float, pump_current_a: float, dt_s: float, holdup_mol: float,
              p_bar: float, kw: float, kc: float, storage: float, storage_k: float, h_pool: float, c_pool: float,
              s_o2: float, s_h2: float, s_co: float, s_hc: float, g_o2: float, g_h2: float, g_co: float,
              g_hc: float) -> tuple[float, float]:
    """A catalytic node's oxygen balance and pO2 (bar) after dt_s with the pump removing
    pump_current_a / 4F of O2: the balance moves towards its steady value (exact for a flux linear
    in the balance), the gas (and the electrode's oxygen store) stays in equilibrium with it."""
    inflow, slope = node_flux(po2_bar, p_bar, kw, kc, storage, storage_k, h_pool, c_pool, s_o2, s_h2, s_co, s_hc,
                              g_o2, g_h2, g_co, g_hc)
    net = inflow - pump_current_a / FOUR_F
    balance += net / slope * (1.0 - math.exp(-slope * dt_s / holdup_mol))
    return balance, equilibrium_po2(balance, h_pool, c_pool, p_bar, kw, kc, po2_bar, storage, storage_k)


@jitable
def pumped_reference(fraction: float, ref_current_a: float, dt_s: float, surface_balance: float, g_leak: float,
                     ref_volume_m3: float, conc: float) -> float:
    """A pumped reference's O2 fraction after dt_s: first order towards the level where the O2
    pumped in balances the leak to the exhaust (time constant V c / G_leak, ~3 s), at most pure O2."""
    keep = math.exp(-g_leak * dt_s / (ref_volume_m3 * conc))
    target = surface_balance + ref_current_a / (FOUR_F * g_leak)
    fraction = target + (fraction - target) * keep
    if fraction > 1.0:
        fraction = 1.0
    return fraction


# Reference kinds as the kernel sees them.
REF_AIR, REF_PUMPED, REF_NI_NIO, REF_PD_PDO = 0, 1, 2, 3
_REF_KINDS = {"air": REF_AIR, "pumped": REF_PUMPED, ("sealed", "Ni/NiO"): REF_NI_NIO, ("sealed", "Pd/PdO"): REF_PD_PDO}


@jitable
def reference_po2(kind: int, fraction: float, cell_temp_k: float, p_bar: float, h_pool: float, c_pool: float,
                  kw: float, kc: float, guess_bar: float) -> float:
    """pO2 (bar) at the reference electrode: dry air at 1 atm; a metal/metal-oxide buffer at the
    cell temperature; a pumped reference's O2 (or, emptied below 0.1 %, the equilibrium of its gas)."""
    if kind == REF_AIR:
        return O2_IN_DRY_AIR * AIR_PRESSURE_BAR
    if kind == REF_NI_NIO:
        return po2_ni_nio(cell_temp_k)
    if kind == REF_PD_PDO:
        return po2_pd_pdo(cell_temp_k)
    if fraction > 1e-3:
        return fraction * p_bar
    return equilibrium_po2(fraction, h_pool, c_pool, p_bar, kw, kc, guess_bar)


@jitable
def ri_at_temperature(temp_k: float, r1: float, e1_k: float, r2: float, e2_k: float) -> float:
    """Nernst-cell ESR (ohm): bulk + grain boundary, each Arrhenius (activation energies in K)."""
    return r1 * math.exp(e1_k / temp_k) + r2 * math.exp(e2_k / temp_k)


@jitable
def nernst_emf(temp_k: float, ref_po2_bar: float, node_po2_bar: float) -> float:
    """EMF (V) of a cell between the reference and the node: RT/4F ln(pO2_ref / pO2_node)."""
    return R_J_PER_MOL_K * temp_k / FOUR_F * math.log(ref_po2_bar / node_po2_bar)


# The kernel's parameters: one float vector (a numpy array when compiled, a list in Python) holding
# the spec's constants and the values the model caches per temperature and pressure (_refresh), per
# surface gas (_surface_changed) and per world (_set_heat_loss); the model keeps it current.
(K_R_LEAD, K_R_HEAT_COLD, K_ALPHA, K_G_HEATER_CELL, K_G_CONV, K_GAS_K, K_RAD, K_GAS_K4, K_INV_C_HEATER,
 K_INV_C_CELL, K_NODE, K_P_BAR, K_KW, K_KC, K_STORAGE, K_STORAGE_K, K_H_POOL, K_C_POOL, K_S_O2, K_S_H2, K_S_CO,
 K_S_HC, K_G_O2, K_G_H2, K_G_CO, K_G_HC, K_HOLDUP, K_REF_KIND, K_S_BALANCE, K_G_LEAK, K_REF_VOLUME, K_CONC,
 K_R1, K_E1, K_R2, K_E2, K_HAS_PUMP, K_PUMP_R_AT_REF, K_RI_AT_REF, K_SHARED_R, K_KAPPA,
 # the non-catalytic node and its measuring cell
 K_S_H2O, K_S_CO2, K_R_O2, K_R_H2, K_R_CO, K_R_HC, K_K_H2, K_K_CO, K_K_HC, K_O2_HALF, K_INV_4F_HOLDUP,
 K_HAS_SENSE, K_S_V, K_C0, K_W_HC, K_W_CO, K_W_H2, K_BETA_V, K_X_O2_REF, K_SIZE) = range(61)
# The measuring node as the kernel sees it: none, catalytic (stepped by the kernel), non-catalytic
# (stepped by the model's _step_mixed between the kernel's thermal step and the rest).
NODE_NONE, NODE_CATALYTIC, NODE_MIXED = 0, 1, 2


@jitable
def step_after_heat(k, dt_s: float, pump_current_a: float, ref_current_a: float, temp_k: float, balance: float,
                    node_po2_bar: float, outer_po2_bar: float, ref_fraction: float,
                    ref_po2_bar: float) -> tuple[float, float, float, float, float, float, float, float]:
    """The node, the reference and the outputs, once the temperatures have moved (what step_by_parts
    does after _step_thermal and _refresh; a non-catalytic node's pO2 is taken as it is, the model
    has stepped it): (balance, node pO2, reference fraction, reference pO2, Ri, Nernst EMF, pump-cell
    R, coupling R)."""
    if k[K_NODE] == NODE_CATALYTIC:
        balance, node_po2_bar = node_step(balance, node_po2_bar, pump_current_a, dt_s, k[K_HOLDUP], k[K_P_BAR],
                                          k[K_KW], k[K_KC], k[K_STORAGE], k[K_STORAGE_K], k[K_H_POOL], k[K_C_POOL],
                                          k[K_S_O2], k[K_S_H2], k[K_S_CO], k[K_S_HC], k[K_G_O2], k[K_G_H2],
                                          k[K_G_CO], k[K_G_HC])
    elif k[K_NODE] == NODE_NONE:
        node_po2_bar = outer_po2_bar  # no node: the working electrode sees the surface gas
    ref_kind = int(k[K_REF_KIND])
    if ref_kind == REF_PUMPED:
        ref_fraction = pumped_reference(ref_fraction, ref_current_a, dt_s, k[K_S_BALANCE], k[K_G_LEAK],
                                        k[K_REF_VOLUME], k[K_CONC])
    ref_po2_bar = reference_po2(ref_kind, ref_fraction, temp_k, k[K_P_BAR], k[K_H_POOL], k[K_C_POOL], k[K_KW],
                                k[K_KC], ref_po2_bar)
    ri = ri_at_temperature(temp_k, k[K_R1], k[K_E1], k[K_R2], k[K_E2])
    emf = nernst_emf(temp_k, ref_po2_bar, node_po2_bar)
    pump_r, coupling_r = math.inf, 0.0
    if k[K_HAS_PUMP]:
        pump_r = k[K_PUMP_R_AT_REF] * ri / k[K_RI_AT_REF]
        coupling_r = k[K_SHARED_R] + k[K_KAPPA] * pump_r
    return balance, node_po2_bar, ref_fraction, ref_po2_bar, ri, emf, pump_r, coupling_r


@jitable
def outer_and_heat(k, dt_s: float, heater_v: float, heater_temp_k: float, cell_temp_k: float,
                   cache_temp_k: float, outer_po2_bar: float, heat: bool,
                   outer_stale: bool) -> tuple[bool, float, float, float]:
    """How every step kernel opens. When outer_stale (the surface gas or the cache has changed): the
    outer electrode's equilibrium (_outer_equilibrium). With heat: the thermal step, and whether the
    cell stayed within REFRESH_K of cache_temp_k (else the model refreshes its cache and calls the
    kernel again without heat, outer_stale). (go on?, outer pO2, heater K, cell K)."""
    if outer_stale:
        outer_po2_bar = equilibrium_po2(k[K_S_BALANCE], k[K_H_POOL], k[K_C_POOL], k[K_P_BAR], k[K_KW], k[K_KC],
                                        outer_po2_bar)
    t_h, t_c = heater_temp_k, cell_temp_k
    if heat:
        t_h, t_c = heat_step(t_h, t_c, heater_v, dt_s, k[K_R_LEAD], k[K_R_HEAT_COLD], k[K_ALPHA],
                             k[K_G_HEATER_CELL], k[K_G_CONV], k[K_GAS_K], k[K_RAD], k[K_GAS_K4],
                             k[K_INV_C_HEATER], k[K_INV_C_CELL])
        if abs(t_c - cache_temp_k) > REFRESH_K:
            return False, outer_po2_bar, t_h, t_c
    return True, outer_po2_bar, t_h, t_c


@jitable
def step_kernel(k, dt_s: float, pump_current_a: float, ref_current_a: float, heater_v: float, heater_temp_k: float,
                cell_temp_k: float, cache_temp_k: float, balance: float, node_po2_bar: float,
                outer_po2_bar: float, ref_fraction: float, ref_po2_bar: float, heat: bool, outer_stale: bool):
    """One step of a catalytic node (or none): outer_and_heat, then (unless the cache must be
    refreshed first) step_after_heat. (done?, outer pO2, heater K, cell K, and step_after_heat's
    eight values; NaN when not done)."""
    done, outer_po2_bar, t_h, t_c = outer_and_heat(k, dt_s, heater_v, heater_temp_k, cell_temp_k, cache_temp_k,
                                                   outer_po2_bar, heat, outer_stale)
    if not done:
        nan = math.nan
        return (False, outer_po2_bar, t_h, t_c, balance, node_po2_bar, ref_fraction, ref_po2_bar, nan, nan, nan,
                nan)
    balance, node_po2_bar, ref_fraction, ref_po2_bar, ri, emf, pump_r, coupling_r = step_after_heat(
        k, dt_s, pump_current_a, ref_current_a, t_c, balance, node_po2_bar, outer_po2_bar, ref_fraction,
        ref_po2_bar)
    return (True, outer_po2_bar, t_h, t_c, balance, node_po2_bar, ref_fraction, ref_po2_bar, ri, emf, pump_r,
            coupling_r)


@jitable
def mixed_step_kernel(k, dt_s: float, pump_current_a: float, ref_current_a: float, heater_v: float,
                      heater_temp_k: float, cell_temp_k: float, cache_temp_k: float, node_po2_bar: float,
                      outer_po2_bar: float, ref_fraction: float, ref_po2_bar: float, n_o2: float, n_h2: float,
                      n_co: float, n_hc: float, heat: bool, outer_stale: bool):
    """step_kernel for a non-catalytic node: outer_and_heat, the node's fractions by mixed_node_step, its control pO2
    (mixed_control_po2) and the measuring cell's shift (mixed_sense_dv, NaN without one), then
    step_after_heat. (done?, outer pO2, heater K, cell K, reference fraction, reference pO2, Ri,
    EMF, pump-cell R, coupling R, n_o2, n_h2, n_co, n_hc, node pO2, sense shift)."""
    nan = math.nan
    done, outer_po2_bar, t_h, t_c = outer_and_heat(k, dt_s, heater_v, heater_temp_k, cell_temp_k, cache_temp_k,
                                                   outer_po2_bar, heat, outer_stale)
    if not done:
        return (False, outer_po2_bar, t_h, t_c, ref_fraction, ref_po2_bar, nan, nan, nan, nan, n_o2, n_h2, n_co,
                n_hc, node_po2_bar, nan)
    n_o2, n_h2, n_co, n_hc = mixed_node_step(
        n_o2, n_h2, n_co, n_hc, k[K_S_O2], k[K_S_H2], k[K_S_CO], k[K_S_HC], k[K_S_H2O], k[K_S_CO2], k[K_R_O2],
        k[K_R_H2], k[K_R_CO], k[K_R_HC], k[K_K_H2], k[K_K_CO], k[K_K_HC], k[K_O2_HALF], k[K_INV_4F_HOLDUP],
        pump_current_a, dt_s)
    node_po2_bar = mixed_control_po2(n_o2, n_h2, n_co, n_hc, k[K_P_BAR], k[K_H_POOL], k[K_C_POOL], k[K_KW],
                                     k[K_KC], node_po2_bar)
    sense_dv = nan
    if k[K_HAS_SENSE]:
        sense_dv = mixed_sense_dv(n_o2, n_h2, n_co, n_hc, k[K_S_V], k[K_C0], k[K_W_HC], k[K_W_CO], k[K_W_H2],
                                  k[K_BETA_V], k[K_X_O2_REF])
    _, node_po2_bar, ref_fraction, ref_po2_bar, ri, emf, pump_r, coupling_r = step_after_heat(
        k, dt_s, pump_current_a, ref_current_a, t_c, 0.0, node_po2_bar, outer_po2_bar, ref_fraction, ref_po2_bar)
    return (True, outer_po2_bar, t_h, t_c, ref_fraction, ref_po2_bar, ri, emf, pump_r, coupling_r, n_o2, n_h2,
            n_co, n_hc, node_po2_bar, sense_dv)


@jitable
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


@jitable
def mixed_node_step(n_o2: float, n_h2: float, n_co: float, n_hc: float, s_o2: float, s_h2: float, s_co: float,
                    s_hc: float, s_h2o: float, s_co2: float, r_o2: float, r_h2: float, r_co: float, r_hc: float,
                    k_h2: float, k_co: float, k_hc: float, o2_half: float, inv_4f_holdup: float,
                    pump_current_a: float, dt_s: float) -> tuple[float, float, float, float]:
    """A non-catalytic node's O2, H2, CO and HC fractions after dt_s.

    Reducers: dx/dt = r·(x_surface − x) − k·θ·x, with r = G/(V c) the exchange through the layers,
    k the burn rate at the inner pumping electrode and θ = x_O2/(x_O2 + o2_half) (no O2, no burn);
    exact exponential steps for the step's θ. O2: dx/dt = r·ln((1 − x)/(1 − x_surface)) − Ip/(4F V c)
    − Σ demand·k·θ·x̄ (x̄: each reducer's mean over the step, so O2 and reducers burn in exact
    stoichiometry), an exponential step linearised at the present x (stable for any step). Pumping
    out more O2 than there is electrolyses H2O/CO2: the deficit appears as H2 and CO.
    """
    x_o2 = n_o2
    theta = x_o2 / (x_o2 + o2_half) if x_o2 > 0.0 else 0.0
    # Each reducer: an exact step towards its balance of inflow and burn, and the O2 that burn
    # takes over the step (demand x rate x mean fraction).
    n_h2, burn_h2 = _reducer_step(n_h2, s_h2, r_h2, k_h2 * theta, dt_s)
    n_co, burn_co = _reducer_step(n_co, s_co, r_co, k_co * theta, dt_s)
    n_hc, burn_hc = _reducer_step(n_hc, s_hc, r_hc, k_hc * theta, dt_s)
    burn_o2 = _DEMAND_H2 * burn_h2 + _DEMAND_CO * burn_co + _DEMAND_HC * burn_hc
    one_minus = 1.0 - x_o2 if x_o2 < 0.999 else 0.001
    net = r_o2 * math.log(one_minus / (1.0 - s_o2)) - pump_current_a * inv_4f_holdup - burn_o2
    slope = r_o2 / one_minus
    x_o2 += net / slope * (1.0 - math.exp(-slope * dt_s))
    if x_o2 < 0.0:
        # electrolysis of H2O and CO2 in the proportion they are present: 2 H2 or CO per O2
        share_h2 = s_h2o / (s_h2o + s_co2) if s_h2o + s_co2 > 0.0 else 1.0
        deficit = -2.0 * x_o2
        n_h2 += deficit * share_h2
        n_co += deficit * (1.0 - share_h2)
        x_o2 = 0.0
    return x_o2, n_h2, n_co, n_hc


@jitable
def mixed_control_po2(n_o2: float, n_h2: float, n_co: float, n_hc: float, p_bar: float, h_pool: float,
                      c_pool: float, kw: float, kc: float, guess_bar: float) -> float:
    """pO2 (bar) the inner pumping electrode (control cell) responds to: the node's free O2 (the
    electrode is near equilibrium for O2 when lean); when free O2 is nearly gone, not below the
    gas's equilibrium value (a node full of reducers reads rich), solved from guess_bar when that is
    itself that low."""
    po2 = n_o2 * p_bar
    if po2 < MIXED_EQ_BELOW_BAR:
        balance = n_o2 - _DEMAND_H2 * n_h2 - _DEMAND_CO * n_co - _DEMAND_HC * n_hc
        eq = equilibrium_po2(balance, h_pool, c_pool, p_bar, kw, kc,
                             guess_bar if guess_bar < MIXED_EQ_BELOW_BAR else 0.0)
        if eq > po2:
            po2 = eq
    return po2 if po2 > PO2_FLOOR_BAR else PO2_FLOOR_BAR


@jitable
def mixed_sense_dv(n_o2: float, n_h2: float, n_co: float, n_hc: float, s_v: float, c0: float, w_hc: float,
                   w_co: float, w_h2: float, beta_v: float, x_o2_ref: float) -> float:
    """Mixed-potential shift (V) of the measuring electrode vs an equilibrium electrode in the same gas:
    ΔV = −S(T)·log10(1 + c_eq/c0) + β·log10(x_O2/x_O2,0), c_eq = Σ w_i·x_i (docs/hc-sensor.md)."""
    c_eq = w_hc * n_hc + w_co * n_co + w_h2 * n_h2
    x_o2 = n_o2 if n_o2 > SENSE_O2_FLOOR else SENSE_O2_FLOOR
    return -s_v * math.log10(1.0 + c_eq / c0) + beta_v * math.log10(x_o2 / x_o2_ref)


# The kernels as emulator.jit.compiled() takes them: numba keys its on-disk cache on a kernel's
# bytecode and closure values, so the kernel it compiles is a closure over the sources' digest that
# calls the kernel above; Python (and a module built ahead of time) takes the kernel itself.

def _make_step_kernel(digest: str):
    if not digest:
        return step_kernel

    def digest_step_kernel(k, dt_s, pump_current_a, ref_current_a, heater_v, heater_temp_k, cell_temp_k,
                           cache_temp_k, balance, node_po2_bar, outer_po2_bar, ref_fraction, ref_po2_bar, heat,
                           outer_stale):
        _ = digest
        return step_kernel(k, dt_s, pump_current_a, ref_current_a, heater_v, heater_temp_k, cell_temp_k,
                           cache_temp_k, balance, node_po2_bar, outer_po2_bar, ref_fraction, ref_po2_bar, heat,
                           outer_stale)
    return digest_step_kernel


def _make_mixed_step_kernel(digest: str):
    if not digest:
        return mixed_step_kernel

    def digest_mixed_step_kernel(k, dt_s, pump_current_a, ref_current_a, heater_v, heater_temp_k, cell_temp_k,
                                 cache_temp_k, node_po2_bar, outer_po2_bar, ref_fraction, ref_po2_bar, n_o2, n_h2,
                                 n_co, n_hc, heat, outer_stale):
        _ = digest
        return mixed_step_kernel(k, dt_s, pump_current_a, ref_current_a, heater_v, heater_temp_k, cell_temp_k,
                                 cache_temp_k, node_po2_bar, outer_po2_bar, ref_fraction, ref_po2_bar, n_o2, n_h2,
                                 n_co, n_hc, heat, outer_stale)
    return digest_mixed_step_kernel
