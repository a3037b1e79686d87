"""The firmware's HC curve: HC concentration from a mixed-potential cell's voltage.

Form: the log-linear response that the mixed-potential sensor literature reports, the cell's EMF
linear in the logarithm of the oxidisable gas's concentration at a fixed O2:

    dV = E100(T) + b(T) * log10(c / 100 ppm)

(Mori, Nishimura, Itagaki, Sadaoka & Traversa, "Detection of sub-ppm level of VOCs based on a
Pt/YSZ/Pt potentiometric oxygen sensor with reference air", Sens. Actuators B 143 (2009) 56-61: "the
EMF ... linearly changed with logarithm of VOC concentration"; the mixed-potential theory of Miura et
al. gives the same form, EMF = const + n ln C. Reviews note the line bends away below ~50 ppm and
at high concentration: the curve is trusted only over the range it was calibrated on.) Here dV is
the measuring cell minus the control cell (sense_v - nernst_v); E100 is dV at 100 ppm and b the
slope per decade (negative: more HC, lower dV), each linear in the cell temperature around the
calibration temperature. The form and its inversion are written here for the firmware; nothing
comes from the emulator's code or numbers.

Coefficients: only from a gas-bench calibration of the sensor (`lambdarig calibrate hc-mixed --out
PROFILE.toml` writes hc.* settings, with hc.calibrated = true). There is no default curve: without
a calibration the firmware reports no HC (NaN) and says why (UNCALIBRATED). Outside the calibrated
range the line is extrapolated, down to half the lowest calibrated level; below that it reports 0.
"""

from __future__ import annotations

import math

REFERENCE_PPM = 100.0
# Readings below this share of the lowest calibrated level report 0 (assumption: there the line, which
# bends away from the sensor below its calibrated range, cannot tell a little HC from none).
DETECTION_SHARE = 0.5
UNCALIBRATED = ("no HC calibration: the HC curve has no default; run `lambdarig calibrate hc-mixed --out "
                "PROFILE.toml` on a gas bench and point sensor.profile_file at it")


def slope_mv_per_decade(hc, temp_c: float) -> float:
    """b(T) of the settings' hc section (mV per decade; negative)."""
    return hc.slope_mv_per_decade + hc.slope_temp_mv_per_decade_k * (temp_c - hc.ref_temp_c)


def e100_mv(hc, temp_c: float) -> float:
    """E100(T): dV at 100 ppm (mV)."""
    return hc.e100_mv + hc.e100_temp_mv_per_k * (temp_c - hc.ref_temp_c)


def hc_ppm(hc, delta_v: float, temp_c: float) -> float:
    """HC (ppm) from dV (V) at the cell temperature through the calibrated curve in `hc` (the
    settings' hc section); NaN without a calibration or a usable slope, 0 below the calibrated range."""
    if not hc.calibrated or not delta_v == delta_v:
        return math.nan
    slope = slope_mv_per_decade(hc, temp_c)
    if not slope < 0.0:
        return math.nan
    ppm = REFERENCE_PPM * 10.0 ** ((delta_v * 1000.0 - e100_mv(hc, temp_c)) / slope)
    return ppm if ppm >= DETECTION_SHARE * hc.min_ppm else 0.0


def fit_line(levels_ppm, delta_mv) -> tuple[float, float]:
    """(E100 mV, b mV/decade): least squares of dV on log10(c/100 ppm) over the given levels."""
    xs = [math.log10(c / REFERENCE_PPM) for c in levels_ppm]
    n = len(xs)
    if n < 2:
        raise ValueError("the log-linear HC curve needs at least two HC levels")
    mx, my = sum(xs) / n, sum(delta_mv) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, delta_mv)) / sxx
    return my - slope * mx, slope
