"""What a reading of the firmware means once it leaves the firmware (a log, a page, a line).

Inside the firmware two readings sit at a placeholder: the temperature estimate at its floor
(TEMP_FLOOR_C) before the cell is warm enough for the ESR table, and lambda at the conversion's
lean ceiling (LAMBDA_MAX) in free air, where O2 carries the information. Shown as numbers they look
like measurements ("-40 °C", "lambda 50"); outside the firmware they are "cold" (no temperature:
NaN) and "air" (lambda infinite, and the AFR with it).

Below the coldest point of the profile's ESR table (500 °C for the LSU 4.9) the estimate is the
table's last segment extrapolated: the firmware needs a number that reads cold, but as a reading it
is made up (-38 °C at a true 300 °C early in the ramp). Shown, it is "cold" too (table_floor_c).
"""

from __future__ import annotations

import math

from .conversion import LAMBDA_MAX
from .profiles import TEMP_FLOOR_C, SensorProfile


def table_floor_c(profile: SensorProfile) -> float:
    """The coldest temperature of a profile's ESR table: the estimate is shown from here up."""
    return min(profile.esr_temp_c)


def shown_temp_c(temp_c: float, floor_c: float = TEMP_FLOOR_C) -> float:
    """The cell temperature estimate, NaN while the cell is too cold for it: at the estimate's floor,
    or below floor_c (table_floor_c of the firmware's profile)."""
    return math.nan if temp_c <= TEMP_FLOOR_C or temp_c < floor_c else temp_c


def shown_lambda(lambda_value: float) -> float:
    """Lambda, infinite (free air) at the conversion's lean ceiling."""
    return math.inf if lambda_value >= LAMBDA_MAX else lambda_value


def shown_afr(afr: float, lambda_value: float) -> float:
    """The air-fuel ratio, infinite where lambda is shown infinite (free air): the firmware's AFR is
    its lambda times the fuel's stoichiometric ratio, so at the lean ceiling it is a made-up number
    too (728 for gasoline)."""
    return math.inf if lambda_value >= LAMBDA_MAX else afr
