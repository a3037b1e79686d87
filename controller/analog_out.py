"""The two 0-5 V analog outputs (as the rusEFI and AEM wideband boards have): each a curve of up to
eight points mapping lambda or AFR to volts, linear between points and flat beyond the ends, and a
safe value while the reading is not valid. Pure: numbers in, volts out."""

from __future__ import annotations

from dataclasses import dataclass

from .settings import ANALOG_OUTPUTS, Settings


@dataclass(frozen=True, slots=True)
class AnalogCurve:
    quantity: str                 # "lambda" or "afr"
    xs: tuple[float, ...]         # increasing
    vs: tuple[float, ...]
    invalid_v: float

    def volts(self, x: float) -> float:
        """Volts for reading x (NaN: the invalid value)."""
        xs, vs = self.xs, self.vs
        if x != x:
            return self.invalid_v
        if x <= xs[0]:
            return vs[0]
        for i in range(1, len(xs)):
            if x <= xs[i]:
                x0, x1 = xs[i - 1], xs[i]
                return vs[i - 1] + (vs[i] - vs[i - 1]) * (x - x0) / (x1 - x0)
        return vs[-1]


def analog_curves(settings: Settings) -> tuple[AnalogCurve, ...]:
    a = settings.analog
    curves = []
    for out in range(1, ANALOG_OUTPUTS + 1):
        n = getattr(a, f"out{out}_points")
        curves.append(AnalogCurve(getattr(a, f"out{out}_input"),
                                  tuple(getattr(a, f"out{out}_x{i}") for i in range(1, n + 1)),
                                  tuple(getattr(a, f"out{out}_v{i}") for i in range(1, n + 1)),
                                  getattr(a, f"out{out}_invalid_v")))
    return tuple(curves)
