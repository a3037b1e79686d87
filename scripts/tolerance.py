"""The Bosch accuracy band of a wideband lambda reading, as a function of the true lambda.

Source: the Bosch LSU 4.9 data sheet's lambda accuracy points, ±0.007 at λ 1.016, ±0.01 at λ 0.8,
±0.05 at λ 1.7. Between the points the band is interpolated linearly (an assumption: the data sheet
gives points, not a curve). Below λ 0.8 the band is held at ±0.01 (assumption). Past λ 1.7 it is
±1 % of the reading (assumption, as the sweep's brief states it): note the step there, from ±0.05 to
±0.017, which is the stated rule and not smoothed over.

Kept on its own (outside lambdarig.sweep, so `simulate` loads no sweep module) so every tool uses
the same band: the sweep's metrics, the run summary's step response (lambdarig.lambda_accuracy), a
population benchmark.
"""

from __future__ import annotations

import math

# (true lambda, ± band in lambda units), ascending; source: Bosch LSU 4.9 data sheet.
BOSCH_POINTS = ((0.8, 0.01), (1.016, 0.007), (1.7, 0.05))
LEAN_RELATIVE = 0.01   # past the last point: ±1 % of the reading (assumption)


def bosch_tolerance(lambda_true: float) -> float:
    """The ± band (lambda units) at a true lambda; NaN for a lambda that is not finite (free air)."""
    if not math.isfinite(lambda_true) or lambda_true <= 0.0:
        return math.nan
    first_lambda, first_band = BOSCH_POINTS[0]
    if lambda_true <= first_lambda:
        return first_band
    last_lambda = BOSCH_POINTS[-1][0]
    if lambda_true > last_lambda:
        return LEAN_RELATIVE * lambda_true
    for (l0, b0), (l1, b1) in zip(BOSCH_POINTS, BOSCH_POINTS[1:]):
        if lambda_true <= l1:
            return b0 + (b1 - b0) * (lambda_true - l0) / (l1 - l0)
    return BOSCH_POINTS[-1][1]   # not reached: lambda_true <= last_lambda is inside the last span
