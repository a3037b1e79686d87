# Cython declarations for rig.py (scripts/aot.py, setup.py): the rig as an extension type, so that its
# step loop calls the built board (board.pxd) as a C function with C numbers.
# The Python source stays as it is; without a build this file is not read.
cimport cython

cimport _c_math as math
from lambdarig.emulator.board cimport AnalogBoard
from lambdarig.emulator.element cimport ElementModel
from lambdarig.emulator.world cimport Faults, World

cdef class EmulatedRig:
    cdef public object spec, scenario
    cdef public ElementModel element
    cdef public AnalogBoard board
    cdef public World world
    cdef public double t_s, max_step_s, _last_step_s

    @cython.locals(remaining=double, t=double, dt=double, steps=Py_ssize_t, world=World, faults=Faults,
                   supply_v=double)
    cpdef advance_to(self, double t_s)
