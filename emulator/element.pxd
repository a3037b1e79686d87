# Cython declarations for element.py (scripts/aot.py, setup.py): the element model as an extension type
# whose state is C doubles, so that the built module's step() and the board reading it work on C numbers.
# Every attribute of ElementModel.__slots__ is declared here (an extension type has no __dict__).
# The Python source stays as it is; without a build this file is not read.

from lambdarig.emulator.world cimport World

cdef class ElementModel:
    cdef public object spec, fuel, _factors, _ref_kind, _ref_leak_layer, _buffer, _layer_terms, _leak_terms
    cdef public object _exhaust, _loss_gas_c, _loss_flow_mps, _burn_ref, _burn_e_k, _k, _ref_code
    cdef public bint _has_pump, _surface_settled, _mixed, _has_sense
    cdef public double cell_temp_k, heater_temp_k, s_o2, s_h2, s_co, s_hc, s_h2o, s_co2, node_balance
    cdef public double node_po2_bar, outer_po2_bar, ref_fraction, ref_po2_bar, pump_current_a, ref_current_a
    cdef public double heater_v, ri_ohm, nernst_emf_v, arc_r_ohm, arc_c_f, _pump_r_ohm, _coupling_r_ohm, _r1
    cdef public double _e1, _r2, _e2, _ri_at_ref, _r_heat_cold, _node_volume_m3, _storage_mol, _storage_k
    cdef public double _ref_volume_m3, _arc_e_k, _inv_ref_k, _two_i0_at_ref, _minus_exchange_e_k
    cdef public double _exchange_still, _exchange_per_mps, _g_still, _g_forced, _rad, _g_heater_cell
    cdef public double _inv_c_heater, _inv_c_cell, _r_lead, _alpha, _pump_r_at_ref, _shared_r, _kappa
    cdef public double _lambda, _hc_ppm, _air_h2o, _s_balance, _h_pool, _c_pool, _one_minus_s_o2
    cdef public double _cache_temp_k, _pressure_kpa, _p_bar, _kw, _kc, _conc, _storage, _g_o2, _g_h2, _g_co
    cdef public double _g_hc, _holdup_mol, _g_leak, _rt_4f, _two_i0, _gas_k, _gas_k4, _g_conv, n_o2, n_h2
    cdef public double n_co, n_hc, sense_dv_v, _inv_burn_ref_k, _o2_half, _s_ref_v, _s_coeff, _s_ref_k, _c0
    cdef public double _w_hc, _w_co, _w_h2, _beta_v, _x_o2_ref, _sense_kappa, _k_h2, _k_co, _k_hc, _s_v
    cdef public double _r_o2, _r_h2, _r_co, _r_hc, _inv_4f_holdup

    # What the board calls once per step or per reading: C calls from the built board.
    cpdef step(self, double dt_s, World world, double pump_current_a, double ref_current_a, double heater_v)
    cpdef double heater_resistance_at(self, double heater_temp_k)
    cpdef double nernst_terminal_v(self, double pump_current_a, double ref_current_a)
    cpdef double pump_voltage(self, double pump_current_a)
    cpdef double pump_slope_ohm(self, double pump_current_a)
