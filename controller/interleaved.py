"""Several sensors in one run: one Runtime per channel (its own front end, firmware instance and
sinks), driven tick by tick on one schedule, as a dual or four-channel controller board runs one
firmware loop per sensor. Within a tick the channels go in index order: channel 0 waits until the
tick's time, samples, ticks its firmware and applies its command, then channel 1 does the same.

On virtual-time front ends (sim) every channel integrates its own physics up to the same time, so
the channels stay in step exactly; on real front ends each waits on its own clock. The run ends for
all channels when one channel's front end is lost or fails (every front end is made safe); a
channel's events say which. Ctrl-C and the other stop signals end every channel, outputs safe.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from lambdarig.hal.types import FrontEndError, LinkLost

from .runtime import RunResult, Runtime, interrupt_text, signal_of, stop_if_running

# A sink of the whole run: called once per telemetry tick with every channel's status and truth.
ChannelsSink = Callable[[Sequence[Any], Sequence[Any]], None]


class InterleavedRuntime:
    """Runs `runtimes` (same rates: the first channel's settings set the schedule) together."""

    def __init__(self, runtimes: Sequence[Runtime], sinks: Sequence[ChannelsSink] = (),
                 wall_clock: Callable[[], float] = time.perf_counter):
        if not runtimes:
            raise ValueError("InterleavedRuntime needs at least one channel")
        rates = [(r.controller.settings.rates.pump_hz, r.controller.settings.rates.telemetry_hz) for r in runtimes]
        if len(set(rates)) > 1:
            raise ValueError(f"the channels must run at the same rates (pump_hz, telemetry_hz), got {rates}")
        self.runtimes = list(runtimes)
        self.sinks = list(sinks)
        self.wall_clock = wall_clock

    def run(self, duration_s: float, should_stop: Callable[[], bool] | None = None) -> list[RunResult]:
        """Run every channel for duration_s; one RunResult per channel, in channel order."""
        runtimes = self.runtimes
        rates = runtimes[0].controller.settings.rates
        period_s = 1.0 / rates.pump_hz
        telemetry_every = max(1, round(rates.pump_hz / rates.telemetry_hz))
        starts = [r.frontend.now() for r in runtimes]
        ticks = round(duration_s / period_s) if math.isfinite(duration_s) else None
        late = [0] * len(runtimes)
        message = ""
        interrupted = False
        interrupted_by = ""
        lost = -1            # the channel whose front end was lost or failed
        lost_is_link = False
        detail = ""
        wall_start = self.wall_clock()
        n = 0
        # Bound methods looked up once: this loop runs pump_hz times per second per channel.
        steps = [(i, starts[i], r.frontend.wait_until, r.frontend.sample, r.frontend.apply, r.controller.tick)
                 for i, r in enumerate(runtimes)]
        current = 0
        try:
            for n in (range(ticks + 1) if ticks is not None else itertools.count()):
                offset = n * period_s
                for current, start, wait_until, sample, apply, tick in steps:
                    if not wait_until(start + offset):
                        late[current] += 1
                    apply(tick(sample()))
                if n % telemetry_every == 0:
                    self._emit()
                    if should_stop is not None and should_stop():
                        message = "stopped on request"
                        break
        except LinkLost as exc:
            lost, lost_is_link, detail = current, True, str(exc)
            message = f"channel {current}: link lost: {exc}; outputs made safe"
        except FrontEndError as exc:
            lost, detail = current, str(exc)
            message = f"channel {current}: front end error: {exc}; outputs made safe"
        except KeyboardInterrupt as exc:
            interrupted = True
            interrupted_by = signal_of(exc)
            message = f"interrupted ({interrupt_text(interrupted_by)}); outputs made safe"
        finally:
            for r in runtimes:
                r.frontend.safe()
        t_end = n * period_s
        if lost >= 0:
            runtimes[lost].controller.link_lost(starts[lost] + t_end, detail)
        for i, r in enumerate(runtimes):
            if i != lost:
                stop_if_running(r.controller)
        self._emit()
        wall_s = self.wall_clock() - wall_start
        return [RunResult.of(r.controller, starts[i], sim_s=t_end, wall_s=wall_s, ticks=n + 1, late_ticks=late[i],
                             message=message, interrupted=interrupted, interrupted_by=interrupted_by,
                             link_lost=lost_is_link and i == lost)
                for i, r in enumerate(runtimes)]

    def _emit(self) -> None:
        statuses: list[Any] = []
        truths: list[Any] = []
        for r in self.runtimes:
            status = r.controller.status()
            truth = r.frontend.truth() if r.has_truth else None
            for channel_sink in r.sinks:
                channel_sink(status, truth)
            statuses.append(status)
            truths.append(truth)
        for sink in self.sinks:
            sink(statuses, truths)
