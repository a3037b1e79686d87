"""Real-time pacing for a simulation (`simulate --realtime`): virtual time kept in step with the
wall clock, so the emulator can be watched (`--live`) and demonstrated like hardware.

`RealtimePacer` is a telemetry sink: at each telemetry tick (100 Hz by default) it sleeps until the
wall clock has caught up with the run's time divided by the factor. It touches neither the
controller nor the front end, so the firmware and the physics run exactly as in a fast run (same
seed, same result); only the wall time changes. Late ticks are a wall-clock notion of real front
ends and stay 0 in virtual time; what the pacer reports instead is how far the simulation fell
behind the wall clock at worst (`max_lag_s`), e.g. on a busy machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

REALTIME_FACTOR_RANGE = (0.01, 100.0)


class RealtimePacer:
    """Sink: the run's time advances at `factor` times the wall clock (1.0: real time)."""

    def __init__(self, factor: float = 1.0, clock: Callable[[], float] = time.perf_counter,
                 sleep: Callable[[float], None] = time.sleep):
        self.factor = factor
        self.clock = clock
        self.sleep = sleep
        self._t0_s: float | None = None
        self._wall0_s = 0.0
        self.max_lag_s = 0.0

    def __call__(self, status: Any, truth: Any = None) -> None:
        if self._t0_s is None:
            self._t0_s, self._wall0_s = status.t_s, self.clock()
            return
        due = self._wall0_s + (status.t_s - self._t0_s) / self.factor
        ahead = due - self.clock()
        if ahead > 0:
            self.sleep(ahead)   # Ctrl-C and the stop signals still interrupt a sleep
        elif -ahead > self.max_lag_s:
            self.max_lag_s = -ahead
