"""One firmware session on an opened front end, the same for the package API (lambdarig.simulate,
lambdarig.run) and the command line: the runtime loop with its telemetry sinks (CSV log, plot
recorder, lambda accuracy against the truth in simulation, the kept samples), resuming after a lost
link on a front end that can reconnect, the plot, and the summary.

The front end is made safe and closed on every way out. Before anything is written, the Runtime
refuses a controller set up for another element than the front end carries (ElementMismatch).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdarig.controller.core import Controller
from lambdarig.controller.readings import table_floor_c
from lambdarig.controller.runtime import (
    RunResult,
    Runtime,
    TelemetrySink,
    interrupt_text,
    signal_of,
)
from lambdarig.hal.frontend import FrontEnd
from lambdarig.hal.types import FrontEndError, FrontEndInfo

from .result import SessionResult
from .session_sinks import SensorSinks, attach_sinks, close_outputs, forced_element_text, write_plot
from .signals import stop_signals

if TYPE_CHECKING:
    from .logs import LogWriter

log = logging.getLogger("lambdarig")


def log_progress(text: str) -> None:
    """The API's default for what happens along the way: the `lambdarig` logger, level INFO."""
    log.info(text)


def warn_user(text: str) -> None:
    """The API's default for what a caller should know: a RuntimeWarning."""
    warnings.warn(text, RuntimeWarning, stacklevel=4)


def individual(details: dict[str, Any]) -> dict[str, Any]:
    """The unit and age of an emulated element, for the run's label: `unit` None for the nominal
    element, `age_h` 0.0 when new, as the log's metadata says them."""
    return {"unit": details.get("unit"), "age_h": float(details.get("age_h") or 0.0)}


def run_session(frontend: FrontEnd, controller: Controller, duration_s: float, *, label: dict[str, Any],
                title: str = "lambdarig", log_path: Path | None = None, plot_path: Path | None = None,
                reconnect_s: float = 0.0, keep_samples: bool = True, sinks: Sequence[TelemetrySink] = (),
                force_element: bool = False, should_stop: Callable[[], bool] | None = None,
                progress: Callable[[str], None] = log_progress,
                warn: Callable[[str], None] = warn_user) -> SessionResult:
    """Run the firmware on an opened front end for duration_s (math.inf: until Ctrl-C or
    should_stop) and return the result. `sinks` are extra telemetry sinks (the command line's live
    status line); `progress` gets what happens along the way (a lost link, a reconnect) and `warn`
    what the caller should know (a plot not written, a forced element mismatch). The front end is
    closed on every way out. In the main thread, SIGTERM, SIGHUP and every other catchable stop
    signal end the session like Ctrl-C (lambdarig.signals); the previous handlers come back after."""
    with stop_signals():
        return _run_session(frontend, controller, duration_s, label=label, title=title, log_path=log_path,
                            plot_path=plot_path, reconnect_s=reconnect_s, keep_samples=keep_samples, sinks=sinks,
                            force_element=force_element, should_stop=should_stop, progress=progress, warn=warn)


def _run_session(frontend: FrontEnd, controller: Controller, duration_s: float, *, label: dict[str, Any],
                 title: str, log_path: Path | None, plot_path: Path | None, reconnect_s: float, keep_samples: bool,
                 sinks: Sequence[TelemetrySink], force_element: bool, should_stop: Callable[[], bool] | None,
                 progress: Callable[[str], None], warn: Callable[[str], None]) -> SessionResult:
    try:
        info = frontend.info()
        forced = forced_element_text(info, controller, force_element)
        runtime = Runtime(frontend, controller, force_element=force_element)
    except BaseException:
        frontend.close()
        raise
    t0_s = frontend.now()
    started = datetime.now(UTC)   # the log's absolute start time
    made = SensorSinks()
    csv_log = None
    escaped_interrupt = False
    escaped_by = ""
    result: RunResult | None = None
    try:
        if forced:
            warn(forced)   # inside: a warning turned into an error still closes the front end
        made = attach_sinks(runtime, controller, info, t0_s=t0_s, duration_s=duration_s, keep_samples=keep_samples,
                            plot=plot_path is not None, extra=sinks)
        if log_path is not None:
            csv_log = open_run_log(log_path, frontend, info, controller, t0_s, started, label)
            runtime.sinks.append(csv_log)
        result = runtime.run(duration_s, should_stop)
        result = _reconnect_and_resume(frontend, controller, runtime, result, duration_s, reconnect_s, t0_s,
                                       should_stop, progress)
    except KeyboardInterrupt as exc:  # Ctrl-C outside the loop's own handler (e.g. in the final telemetry)
        frontend.safe()
        escaped_interrupt = True
        escaped_by = signal_of(exc)
    finally:
        close_outputs(csv_log, [frontend])

    if result is None:
        result = interrupted_result(controller, escaped_by)
    warned: list[str] = [forced] if forced else []
    plot = write_plot([("", made.plot)], plot_path, f"{title}, {result.sim_s:g} s")
    if plot.interrupted_by:
        escaped_interrupt, escaped_by = True, plot.interrupted_by
    plot_error = plot.error
    plot_path = plot.path

    message = result.message
    if result.link_lost and not message:
        message = "link lost; outputs made safe"
    if plot_error:
        message = f"{message}; {plot_error}" if message else plot_error
        warned.append(plot_error)
        warn(plot_error)
    # What the summary needs to say honestly: wall-clock runs have no "sim time", an HC element no lambda.
    label = {**label, "virtual_time": info.virtual_time, "mode": controller.mode}
    if controller.hc_unavailable:
        label["hc_unavailable"] = controller.hc_unavailable
    summary = build_summary(result, message, made.accuracy_summary(), log_path, plot_path, label,
                            made.last.summary(t0_s, table_floor_c(controller.profile)))
    return SessionResult(summary=summary, run=result, interrupted=result.interrupted or escaped_interrupt,
                         interrupted_by=result.interrupted_by or escaped_by, link_lost=result.link_lost,
                         warnings=warned, t0_s=t0_s,
                         recorded=made.recorded())


def interrupted_result(controller: Controller, signal_name: str) -> RunResult:
    """The result of a run a stop signal ended before the loop returned one."""
    return RunResult(time_to_ready_s=None, final_state=controller.state.value, faults=[], sim_s=0.0, wall_s=0.0,
                     realtime_factor=0.0, ticks=0, late_ticks=0,
                     message=f"interrupted ({interrupt_text(signal_name)}); outputs made safe",
                     interrupted=True, interrupted_by=signal_name or "SIGINT")


def open_run_log(path: Path, frontend: FrontEnd, info: FrontEndInfo, controller: Controller, t0_s: float,
                 started: datetime, label: dict[str, Any]) -> LogWriter:
    """The log writer for path's format, with the run's channels and metadata."""
    from .logs import channels_for, open_log, run_metadata  # the log writers only for a run with a log
    settings = controller.settings
    meta = run_metadata(info=info, settings=settings, started=started, header_lines=frontend.log_header_lines(),
                        extra={"run": label})
    for key in ("unit", "age_h"):   # a sensor unit given to the run (sim), when the front end does not say
        if meta.get(key) is None and label.get(key) is not None:
            meta[key] = label[key]
    channels = channels_for(with_truth=info.has_truth, with_hc=controller.mode == "hc")
    return open_log(path, channels, t0_s=t0_s, limits=log_limits(controller),
                    metadata=meta)


def log_limits(controller: Controller) -> dict[str, float]:
    """What the log's shown values depend on: the heater's continuous cap (heater_saturated) and the
    coldest point of the profile's ESR table (temp_c is blank below it)."""
    return {"heater_max_v": controller.settings.heater.continuous_max_v,
            "temp_floor_c": table_floor_c(controller.profile)}


def _reconnect_and_resume(frontend: FrontEnd, controller: Controller, runtime: Runtime, result: RunResult,
                          duration_s: float, reconnect_s: float, t0_s: float,
                          should_stop: Callable[[], bool] | None, progress: Callable[[str], None]) -> RunResult:
    """A front end that can reconnect (a rig that came back on its port): wait up to reconnect_s for
    it, restart the firmware (a lost link is never retried by itself: a human may have unplugged the
    board) and run on for what is left of the run. The events of every part are kept."""
    resumed = False
    while result.link_lost and reconnect_s > 0 and frontend.can_reconnect and not result.interrupted:
        elapsed = frontend.now() - t0_s
        if elapsed >= duration_s:
            break
        progress(f"link lost at {elapsed:.2f} s; waiting up to {reconnect_s:g} s for the front end")
        try:
            frontend.reconnect(timeout_s=reconnect_s)
        except FrontEndError as exc:
            result.message = f"{result.message}; not reconnected: {exc}"
            break
        progress("reconnected; restarting the firmware")
        controller.stop()
        controller.start()
        result = runtime.run(duration_s - (frontend.now() - t0_s), should_stop)
        resumed = True
    if resumed:
        # The firmware kept every event; report them all on the session's clock.
        result.events = [{"code": e.code, "t_s": round(e.t_s - t0_s, 4), "severity": e.severity, "text": e.text}
                         for e in controller.events]
        result.faults = [{"code": e["code"], "t_s": e["t_s"]} for e in result.events]
        result.sim_s = frontend.now() - t0_s
        if result.time_to_ready_s is not None and controller.time_to_ready_s is not None:
            result.time_to_ready_s = round(controller.time_to_ready_s - t0_s, 4)
    return result


def build_summary(result: RunResult, message: str, accuracy: dict[str, Any] | None, log_path: Path | None,
                  plot_path: Path | None, label: dict[str, Any],
                  last_reading: dict[str, Any] | None = None) -> dict[str, Any]:
    """The session's summary: the dict the command line prints (as JSON with --json). On a front end
    on the wall clock (label virtual_time False) `sim_s` is the run's length (`run_s` says so for every
    run) and the real-time factor is null: nothing was simulated."""
    summary = result.summary()
    report = {
        "time_to_ready_s": summary["time_to_ready_s"],
        "final_state": summary["final_state"],
        "faults": [{"code": f["code"], "t_s": f["t_s"]} for f in summary["faults"]],
        "sim_s": summary["sim_s"],
        "run_s": summary["sim_s"],
        "wall_s": summary["wall_s"],
        "realtime_factor": summary["realtime_factor"] if label.get("virtual_time", True) else None,
        "events": result.events,
        "message": message,
        **label,
        "late_ticks": summary["late_ticks"],
        "ticks": result.ticks,
        "last_reading": last_reading,
        "lambda_error_pct": accuracy,
        "interrupted": result.interrupted,
        "interrupted_by": result.interrupted_by or None,
        "link_lost": result.link_lost or any(e["code"] == "link_loss" for e in result.events),
    }
    if log_path is not None:
        report["log"] = str(log_path)
    if plot_path is not None:
        report["plot"] = str(plot_path)
    return report
