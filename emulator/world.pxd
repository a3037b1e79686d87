# Cython declarations for world.py (scripts/aot.py, setup.py): the world and the faults as dataclasses
# with C fields (in field order), read as C numbers by the built element model and board.
# The Python source stays as it is; without a build this file is not read.

cdef class World:
    cdef public double lambda_value, pressure_kpa, gas_temp_c, flow_mps, supply_v, hc_ppm, ambient_c, air_h2o

cdef class Faults:
    cdef readonly bint heater_open, heater_short, pump_open, nernst_open, supply_drop
    cdef readonly double supply_drop_v
    cdef readonly bint readings_invalid
