"""What a reading of the firmware means once it leaves the firmware (a log, a page, a line).

Inside the firmware two readings sit at a placeholder: the temperature estimate at its floor
(TEMP_FLOOR_C) before the cell is warm enough for the ESR table, and lambda at the conversion's
lean ceiling (LAMBDA_MAX) in free air, where O2 carries the information. Shown as numbers they look
like measurements ("-40 °C", "lambda 50"); outside the firmware they are "cold" (no temperature:
NaN) and "air" (lambda infinite).
"""

from __future__ import annotations

import math

from .conversion import LAMBDA_MAX
from .profiles import TEMP_FLOOR_C


def shown_temp_c(temp_c: float) -> float:
    """The cell temperature estimate, NaN while the cell is too cold for it."""
    return math.nan if temp_c <= TEMP_FLOOR_C else temp_c


def shown_lambda(lambda_value: float) -> float:
    """Lambda, infinite (free air) at the conversion's lean ceiling."""
    return math.inf if lambda_value >= LAMBDA_MAX else lambda_value
