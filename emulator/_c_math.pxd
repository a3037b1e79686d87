# C's <math.h> under the names element_physics.py uses from Python's math module, for the Cython build
# (element_physics.pxd cimports it as `math`). The same C library functions Python's math calls.
cdef extern from "<math.h>" nogil:
    double exp(double x)
    double log(double x)
    double log10(double x)
    double sqrt(double x)
    double asinh(double x)
    double tanh(double x)
    Py_ssize_t ceil "(Py_ssize_t)ceil" (double x)   # an integer, as Python's math.ceil returns
    const double inf "INFINITY"
    const double nan "NAN"
