# Cython declarations for element_physics.py (lambdarig/aot.py, setup.py): the types of the physics functions
# that the step kernel composes, so that the built module calls them as C functions on C doubles.
# The Python source stays as it is; without a build this file is not read.
cimport cython

cimport _c_math as math

cpdef double heater_resistance(double heater_temp_k, double r_lead, double r_heat_cold, double alpha)

@cython.locals(v2=double, steps=Py_ssize_t, h=double, r_total=double, p_heat=double, q_hc=double, t_c2=double,
               q_loss=double)
cpdef (double, double) heat_step(double t_h, double t_c, double heater_v, double dt_s, double r_lead, double r_heat_cold,
                      double alpha, double g_heater_cell, double g_conv, double gas_k, double rad, double gas_k4,
                      double inv_c_heater, double inv_c_cell)

@cython.locals(s=double, ah=double, ac=double, x_o2=double, x_h2=double, x_co=double, one_minus=double,
               inflow=double, dxo2=double, dxh2=double, dxco=double, a_s=double, dbds=double, slope=double)
cpdef (double, double) node_flux(double po2_bar, double p_bar, double kw, double kc, double storage, double storage_k,
                      double h_pool, double c_pool, double s_o2, double s_h2, double s_co, double s_hc,
                      double g_o2, double g_h2, double g_co, double g_hc)

@cython.locals(inflow=double, slope=double, net=double)
cpdef (double, double) node_step(double balance, double po2_bar, double pump_current_a, double dt_s, double holdup_mol,
                      double p_bar, double kw, double kc, double storage, double storage_k, double h_pool,
                      double c_pool, double s_o2, double s_h2, double s_co, double s_hc, double g_o2, double g_h2,
                      double g_co, double g_hc)

@cython.locals(keep=double, target=double)
cpdef double pumped_reference(double fraction, double ref_current_a, double dt_s, double surface_balance,
                              double g_leak, double ref_volume_m3, double conc)

cpdef double ri_at_temperature(double temp_k, double r1, double e1_k, double r2, double e2_k)

cpdef double nernst_emf(double temp_k, double ref_po2_bar, double node_po2_bar)

@cython.locals(ri=double, emf=double, pump_r=double, coupling_r=double)
cpdef (double, double, double, double, double, double, double, double) step_after_heat(
    list k, double dt_s, double pump_current_a, double ref_current_a, double temp_k, double balance,
    double node_po2_bar, double outer_po2_bar, double ref_fraction, double ref_po2_bar)

@cython.locals(t_h=double, t_c=double)
cpdef (bint, double, double, double) outer_and_heat(list k, double dt_s, double heater_v, double heater_temp_k,
                                                    double cell_temp_k, double cache_temp_k, double outer_po2_bar,
                                                    bint heat, bint outer_stale)

@cython.locals(done=bint, t_h=double, t_c=double, ri=double, emf=double, pump_r=double, coupling_r=double)
cpdef tuple step_kernel(list k, double dt_s, double pump_current_a, double ref_current_a, double heater_v,
                        double heater_temp_k, double cell_temp_k, double cache_temp_k, double balance,
                        double node_po2_bar, double outer_po2_bar, double ref_fraction, double ref_po2_bar,
                        bint heat, bint outer_stale)
