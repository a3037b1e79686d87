# Cython declarations for board.py (scripts/aot.py, setup.py): the converters and the board as
# extension types whose state is C doubles, so that the built module's per-step and per-sample paths
# run on C numbers and call each other (and the element, element.pxd) as C functions.
# The Python source stays as it is; without a build this file is not read.
cimport _c_math as math
from lambdarig.emulator.element cimport ElementModel
from lambdarig.emulator.world cimport Faults, World

cdef extern from "<math.h>" nogil:
    # Python's round() of a float rounds half to even; so does C's rint() in the default rounding
    # mode. (board.py only ever rounds doubles.)
    double round "rint" (double x)

cdef class BoardSpec:
    # (a frozen dataclass in board.py: Cython builds it as one, with these C fields, in field order)
    cdef readonly double pump_dac_min_a
    cdef readonly double pump_dac_max_a
    cdef readonly long pump_dac_bits
    cdef readonly double pump_compliance_v
    cdef readonly double pump_adc_range_a
    cdef readonly long pump_adc_bits
    cdef readonly double pump_noise_a
    cdef readonly double nernst_adc_min_v
    cdef readonly double nernst_adc_max_v
    cdef readonly long nernst_adc_bits
    cdef readonly double nernst_noise_v
    cdef readonly double nernst_bias_ohm
    cdef readonly double nernst_bias_v
    cdef readonly double ref_current_a
    cdef readonly double ref_compliance_v
    cdef readonly double esr_inject_ohm
    cdef readonly double esr_inject_v
    cdef readonly double esr_frequency_hz
    cdef readonly double esr_adc_noise_v
    cdef readonly double esr_samples_per_s
    cdef readonly double heater_pwm_hz
    cdef readonly long heater_duty_bits
    cdef readonly double heater_current_limit_a
    cdef readonly double heater_short_ohm
    cdef readonly double heater_current_noise_a
    cdef readonly double heater_voltage_noise_v
    cdef readonly double supply_noise_v
    cdef readonly double sense_noise_v

cdef class Converter:
    cdef readonly double lo, hi, offset, lsb
    cpdef double code(self, double value)

cdef class AnalogBoard:
    cdef public ElementModel element
    cdef public BoardSpec spec
    cdef public Faults faults
    cdef public object reading_type
    cdef public double pump_command_a, heater_duty, supply_v, pump_actual_a, pump_drive_v, ref_actual_a
    cdef public double heater_element_v, heater_terminal_v, heater_current_a
    cdef public bint excitation_on
    cdef public object _noise_a, _noise_b
    cdef public Py_ssize_t _noise_i, _noise_j, _deviate_pos, _draws_per_sample
    cdef public list _deviates
    cdef public bint _ref_pumped, _has_pump, _has_sense
    cdef public double _heater_leak_ohm
    cdef readonly Converter _pump_dac, _duty_dac, _nernst_adc, _pump_adc, _esr_adc

    cpdef double set_pump_current(self, double amps)
    cpdef double set_heater_duty(self, double duty)
    cpdef advance(self, double dt_s, World world, double supply_v, Faults faults=*)
    cpdef _settle_pump(self, Faults faults)
    cpdef _saturate_pump(self, double command, double needed_v, double compliance)
    cpdef _settle_reference(self, Faults faults)
    cpdef _settle_heater(self, double supply_v, Faults faults)
    cpdef double _gauss(self)
    cpdef sample(self, double t_s, double interval_s=*)
    cpdef double _heater_leak_a(self)
    cpdef double _nernst_terminal_v(self)
    cpdef double _sense_terminal_v(self)
    cpdef double _cell_input(self, double terminal_v)
    cpdef double _esr_reading(self, double interval_s)
