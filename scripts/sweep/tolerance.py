"""The Bosch accuracy band the sweep judges against: lambdarig.tolerance (one band for every tool)."""

from lambdarig.tolerance import BOSCH_POINTS, LEAN_RELATIVE, bosch_tolerance

__all__ = ["BOSCH_POINTS", "LEAN_RELATIVE", "bosch_tolerance"]
