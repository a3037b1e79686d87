"""What a session hangs on each sensor's runtime and does at its end, the same for one sensor
(lambdarig.session) and several (lambdarig.channels_session): the forced-element warning, the
sinks (lambda accuracy against the truth, the kept samples, the caller's sinks, the plot's
recorder) and the plot drawn after the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdarig.controller.core import Controller
from lambdarig.controller.readings import shown_lambda, shown_temp_c, table_floor_c
from lambdarig.controller.runtime import (
    ElementMismatch,
    Runtime,
    TelemetrySink,
    check_element,
    interrupt_text,
    signal_of,
)
from lambdarig.hal.types import FrontEndInfo

from .lambda_accuracy import LambdaAccuracy
from .plot import Recorder, plot_channels, plot_recorder
from .result import SampleRecorder


def forced_element_text(info: FrontEndInfo, controller: Controller, force_element: bool) -> str | None:
    """What the caller is warned of when settings made for another element run as forced; None when
    nothing is forced."""
    if not force_element:
        return None
    try:
        check_element(info, controller.settings)
    except ElementMismatch as exc:
        return (f"{exc.frontend} carries element {exc.element!r}; the firmware runs the {exc.configured!r} "
                f"profile of the settings, as forced")
    return None


class LastReading:
    """Sink: the last valid reading of a run, for the summary (on hardware the only word on what the
    sensor read)."""

    def __init__(self) -> None:
        self.status: Any = None

    def __call__(self, status: Any, truth: Any) -> None:
        if status.lambda_valid:
            self.status = status

    def summary(self, t0_s: float, floor_c: float) -> dict[str, Any] | None:
        """{t_s, lambda (inf: air), o2_pct, temp_c, hc_ppm} of the last valid reading; None if none."""
        s = self.status
        if s is None:
            return None
        return {"t_s": round(s.t_s - t0_s, 4), "lambda": shown_lambda(s.lambda_value), "o2_pct": s.o2_pct,
                "temp_c": shown_temp_c(s.temp_c, floor_c), "hc_ppm": s.hc_ppm}


@dataclass
class SensorSinks:
    """The session's own sinks on one sensor's runtime (None: not asked for)."""

    accuracy: LambdaAccuracy | None = None   # simulation only: the truth is known
    samples: SampleRecorder | None = None    # keep_samples
    plot: Recorder | None = None             # a plot asked for
    last: LastReading = field(default_factory=LastReading)

    def accuracy_summary(self) -> dict | None:
        return self.accuracy.summary() if self.accuracy is not None else None

    def recorded(self) -> list:
        return self.samples.pairs if self.samples is not None else []


def attach_sinks(runtime: Runtime, controller: Controller, info: FrontEndInfo, *, t0_s: float, duration_s: float,
                 keep_samples: bool, plot: bool, extra: Sequence[TelemetrySink] = ()) -> SensorSinks:
    """Append to runtime.sinks, in this order: the last reading, the lambda accuracy (when the front
    end knows the truth), the sample recorder, `extra`, the plot's recorder. A sink of `extra` with a
    `bind_controller(controller)` method is told the firmware it watches first."""
    made = SensorSinks()
    runtime.sinks.append(made.last)
    if info.has_truth:
        made.accuracy = LambdaAccuracy()
        runtime.sinks.append(made.accuracy)
    if keep_samples:
        made.samples = SampleRecorder()
        runtime.sinks.append(made.samples)
    for sink in extra:   # a display that shows the temperature learns where the ESR table ends
        bind = getattr(sink, "bind_controller", None)
        if bind is not None:
            bind(controller)
    runtime.sinks.extend(extra)
    if plot:
        hc = controller.mode == "hc"   # plots HC and the Nernst target its firmware moves
        made.plot = plot_recorder(controller.settings, hc, duration_s, t0_s,
                                  nernst_target=(lambda: controller.pump.target_v) if hc else None,
                                  temp_floor_c=table_floor_c(controller.profile))
        runtime.sinks.append(made.plot)
    return made


def close_outputs(log: Any, frontends: Sequence[Any]) -> None:
    """The end of every session, however it ended: the log closed, then every front end (made safe
    and closed) even when closing the log raised (OutputError on a full disk)."""
    try:
        if log is not None:
            log.close()
    finally:
        for frontend in frontends:
            frontend.close()   # safe() first: FrontEnd.close makes the outputs safe


@dataclass
class PlotOutcome:
    path: Path | None          # the PNG written, None when not
    error: str = ""            # why not, when asked for and not written ("" otherwise)
    interrupted_by: str = ""   # a stop signal that came while drawing


def write_plot(named: Sequence[tuple[str, Recorder | None]], path: Path | None, title: str) -> PlotOutcome:
    """Draw the plot after the run: (label, recorder) per sensor. A run that kept no sample writes
    none (and says nothing: its summary already says why it ended)."""
    recorders = [(label, rec) for label, rec in named if rec is not None]
    if path is None or not recorders or not any(rec.t_s for _, rec in recorders):
        return PlotOutcome(None)
    try:
        plot_channels(recorders, path, title)
    except OSError as exc:   # a full disk, the folder gone meanwhile: the system's words, not "[Errno 28]"
        return PlotOutcome(None, f"plot not written: cannot write {path}: {exc.strerror or exc}")
    except ValueError as exc:
        return PlotOutcome(None, f"plot not written: {exc}")
    except KeyboardInterrupt as exc:
        by = signal_of(exc)
        return PlotOutcome(None, f"plot not written: interrupted ({interrupt_text(by)})", by)
    return PlotOutcome(path)
