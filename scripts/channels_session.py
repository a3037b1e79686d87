"""A session of several sensors in one run (`simulate --element A --element B`, `run --hal U1 --hal
U2`): each sensor is a channel with its own front end, firmware instance (Controller), Runtime and
sinks, driven tick by tick on one schedule (lambdarig.controller.interleaved), with one log whose
columns are prefixed ch0_, ch1_, ... (time once, `t_s`) and one summary block per channel.

`ChannelSession.channel_index` (0, 1, ...) is the sensor's index everywhere: the log prefix, the
summary's `channel_index`, and the CAN index a CAN sink sends the channel's frames with.

The plot draws every channel in one figure (a line per channel). There is no resuming after a lost
link: a lost channel ends the run for all, every output safe.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lambdarig.controller.core import Controller
from lambdarig.controller.interleaved import ChannelsSink, InterleavedRuntime
from lambdarig.controller.readings import table_floor_c
from lambdarig.controller.runtime import (
    RunResult,
    Runtime,
    TelemetrySink,
    signal_of,
)
from lambdarig.hal.frontend import FrontEnd
from lambdarig.hal.types import FrontEndInfo

from .logs import LogWriter, channel_prefix, channels_for, channels_taker, open_log, run_metadata
from .result import SessionResult
from .session import build_summary, interrupted_result, log_limits, log_progress, warn_user
from .session_sinks import (
    PlotOutcome,
    SensorSinks,
    attach_sinks,
    close_outputs,
    forced_element_text,
    write_plot,
)
from .signals import stop_signals

MAX_CHANNELS = 4   # the AEM 4-channel box; a dual board (rusEFI) has 2


@dataclass
class ChannelSession:
    """One sensor of a run of several."""

    channel_index: int           # 0, 1, ...: log prefix ch{index}_, summary's channel_index, CAN index
    frontend: FrontEnd
    controller: Controller
    label: dict[str, Any]        # what the summary says about this channel (element, scenario, seed, ...)
    info: FrontEndInfo | None = None
    runtime: Runtime | None = None
    made: SensorSinks = field(default_factory=SensorSinks)   # the session's own sinks on this channel
    t0_s: float = 0.0
    sinks: list[TelemetrySink] = field(default_factory=list)   # extra per-channel sinks

    @property
    def prefix(self) -> str:
        return channel_prefix(self.channel_index)

    @property
    def plot_label(self) -> str:
        """The channel in the plot's legend: `ch0 lsu49`, or its front end on a real one."""
        return f"ch{self.channel_index} {self.label.get('element') or self.label.get('frontend') or ''}".rstrip()


def run_channels(channels: Sequence[ChannelSession], duration_s: float, *, log_path: Path | None = None,
                 plot_path: Path | None = None, title: str = "lambdarig", keep_samples: bool = True,
                 sinks: Sequence[ChannelsSink] = (), force_element: bool = False,
                 should_stop: Callable[[], bool] | None = None, progress: Callable[[str], None] = log_progress,
                 warn: Callable[[str], None] = warn_user) -> SessionResult:
    """Run every channel for duration_s; every front end is made safe and closed on every way out.
    `sinks` are sinks of the whole run, called as sink(statuses, truths) once per telemetry tick;
    per-channel sinks go in ChannelSession.sinks. `plot_path`: one PNG with every channel, titled
    `title`. The result's summary has one block per channel
    (`channels`), and `result.channels` one SessionResult per channel."""
    with stop_signals():
        return _run_channels(list(channels), duration_s, log_path=log_path, plot_path=plot_path, title=title,
                             keep_samples=keep_samples, sinks=sinks,
                             force_element=force_element, should_stop=should_stop, progress=progress, warn=warn)


def _run_channels(channels: list[ChannelSession], duration_s: float, *, log_path: Path | None,
                  plot_path: Path | None, title: str, keep_samples: bool,
                  sinks: Sequence[ChannelsSink], force_element: bool, should_stop: Callable[[], bool] | None,
                  progress: Callable[[str], None], warn: Callable[[str], None]) -> SessionResult:
    forced: list[str] = []
    try:
        for ch in channels:
            ch.info = info = ch.frontend.info()
            text = forced_element_text(info, ch.controller, force_element)
            if text:
                forced.append(f"channel {ch.channel_index}: {text}")
            ch.runtime = Runtime(ch.frontend, ch.controller, force_element=force_element)
        interleaved = InterleavedRuntime([ch.runtime for ch in channels if ch.runtime is not None], sinks)
    except BaseException:
        close_outputs(None, [ch.frontend for ch in channels])
        raise
    started = datetime.now(UTC)
    log: LogWriter | None = None
    results = None
    escaped_by = ""
    try:
        for text in forced:
            warn(text)
        for ch in channels:
            assert ch.info is not None and ch.runtime is not None
            ch.t0_s = ch.frontend.now()
            ch.made = attach_sinks(ch.runtime, ch.controller, ch.info, t0_s=ch.t0_s, duration_s=duration_s,
                                   keep_samples=keep_samples, plot=plot_path is not None, extra=ch.sinks)
        if log_path is not None:
            log = open_channels_log(log_path, channels, started)
            interleaved.sinks.append(log)
        results = interleaved.run(duration_s, should_stop)
    except KeyboardInterrupt as exc:   # Ctrl-C outside the loop's own handler
        for ch in channels:
            ch.frontend.safe()
        escaped_by = signal_of(exc)
    finally:
        close_outputs(log, [ch.frontend for ch in channels])
    sim_s = results[0].sim_s if results else 0.0
    plot = write_plot([(ch.plot_label, ch.made.plot) for ch in channels], plot_path, f"{title}, {sim_s:g} s")
    if plot.error:
        warn(plot.error)
    return _result(channels, results, escaped_by or plot.interrupted_by, forced, log_path, plot)


def open_channels_log(path: Path, channels: Sequence[ChannelSession], started: datetime) -> LogWriter:
    """One log for every channel: t_s, then ch0_..., ch1_...; the metadata has one entry per channel."""
    per_channel, limits, sensors = [], [], []
    for ch in channels:
        assert ch.info is not None
        settings = ch.controller.settings
        per_channel.append(channels_for(with_truth=ch.info.has_truth, with_hc=ch.controller.mode == "hc"))
        limits.append(log_limits(ch.controller))
        meta = run_metadata(info=ch.info, settings=settings, started=started,
                            header_lines=ch.frontend.log_header_lines(), extra={"run": ch.label})
        for key in ("unit", "age_h"):
            if meta.get(key) is None and ch.label.get(key) is not None:
                meta[key] = ch.label[key]
        sensors.append({"channel_index": ch.channel_index, "prefix": ch.prefix, **meta})
    taker = channels_taker(per_channel, [ch.t0_s for ch in channels], limits)
    first = sensors[0]
    meta = {"lambdarig_version": first["lambdarig_version"], "start_utc": first["start_utc"],
            "element": [s["element"] for s in sensors], "sensors": sensors}
    return open_log(path, taker.channels, metadata=meta, taker=taker)


def _result(channels: Sequence[ChannelSession], results: list[RunResult] | None, escaped_by: str, forced: list[str],
            log_path: Path | None, plot: PlotOutcome) -> SessionResult:
    per: list[SessionResult] = []
    for i, ch in enumerate(channels):
        run = interrupted_result(ch.controller, escaped_by) if results is None else results[i]
        # What the summary needs to say honestly: wall-clock runs have no "sim time", an HC element no lambda.
        label = {**ch.label, "virtual_time": ch.info.virtual_time if ch.info is not None else True,
                 "mode": ch.controller.mode}
        last = ch.made.last.summary(ch.t0_s, table_floor_c(ch.controller.profile))
        summary = {"channel_index": ch.channel_index,
                   **build_summary(run, run.message, ch.made.accuracy_summary(), None, None, label, last)}
        per.append(SessionResult(summary=summary, run=run, interrupted=run.interrupted or bool(escaped_by),
                                 interrupted_by=run.interrupted_by or escaped_by, link_lost=run.link_lost,
                                 t0_s=ch.t0_s, recorded=ch.made.recorded()))
    first = per[0]
    interrupted = any(r.interrupted for r in per)
    message = first.run.message
    if plot.error:
        message = f"{message}; {plot.error}" if message else plot.error
    top: dict[str, Any] = {
        "channels": [r.summary for r in per],
        "message": message,
        "sim_s": first.summary["sim_s"],
        "wall_s": first.summary["wall_s"],
        "interrupted": interrupted,
        "interrupted_by": first.interrupted_by or None,
        "link_lost": any(r.summary["link_lost"] for r in per),
    }
    if log_path is not None:
        top["log"] = str(log_path)
    if plot.path is not None:
        top["plot"] = str(plot.path)
    warned = forced + ([plot.error] if plot.error else [])
    result = SessionResult(summary=top, run=first.run, interrupted=interrupted, interrupted_by=first.interrupted_by,
                           link_lost=any(r.link_lost for r in per), warnings=warned, t0_s=first.t0_s,
                           recorded=first.recorded, channels=per)
    return result
