"""The pump loop: hold the Nernst cell at its target by regulating the pump current.

PI in continuous-time units (A/V, A/(V·s)) so the loop keeps its behaviour at any rate. A Nernst
voltage above target means the cavity is rich: pump O2 in (less current). Anti-windup: the integral
stops moving in the direction that would push a saturated output further.
"""

from __future__ import annotations


class PumpLoop:
    __slots__ = ("kp", "ki", "target_v", "min_a", "max_a", "integral_a", "output_a", "saturated", "enabled")

    def __init__(self, kp_a_per_v: float, ki_a_per_v_s: float, target_v: float, min_a: float, max_a: float):
        self.kp = kp_a_per_v
        self.ki = ki_a_per_v_s
        self.target_v = target_v
        self.min_a = min_a
        self.max_a = max_a
        self.integral_a = 0.0
        self.output_a = 0.0
        self.saturated = 0      # -1 at the rich limit, +1 at the lean limit
        self.enabled = False

    def reset(self) -> None:
        self.integral_a = 0.0
        self.output_a = 0.0
        self.saturated = 0

    def update(self, nernst_v: float, dt_s: float) -> float:
        error = nernst_v - self.target_v
        integral = self.integral_a - self.ki * error * dt_s
        output = integral - self.kp * error
        if output > self.max_a:
            output = self.max_a
            self.saturated = 1
            if integral > self.integral_a:
                integral = self.integral_a
        elif output < self.min_a:
            output = self.min_a
            self.saturated = -1
            if integral < self.integral_a:
                integral = self.integral_a
        else:
            self.saturated = 0
        if integral > self.max_a:
            integral = self.max_a
        elif integral < self.min_a:
            integral = self.min_a
        self.integral_a = integral
        self.output_a = output
        return output
