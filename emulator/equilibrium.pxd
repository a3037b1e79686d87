# Cython declarations for equilibrium.py (lambdarig/aot.py, setup.py): the Newton solve on C doubles
# with C's exp, log and sqrt. The Python source stays as it is; without a build this file is not read.
cimport _c_math as math

cpdef double equilibrium_po2(double balance, double h_pool, double c_pool, double p_bar, double kw, double kc,
                             double guess_bar=*, double storage=*, double storage_k=*)
