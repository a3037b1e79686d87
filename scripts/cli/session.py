"""A firmware run on an opened front end, shared by `lambdarig simulate` and `lambdarig run`:
telemetry sinks (live status, CSV log, plot), the summary or one JSON object, and the exit code.
Exit codes: 0 done, 2 bad input, 3 the front end stopped answering (link loss), 130 Ctrl-C.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from lambdarig.controller.core import Controller
from lambdarig.controller.runtime import RunResult, Runtime
from lambdarig.emulator.errors import EmulatorInputError
from lambdarig.hal.types import FrontEndError

from .telemetry import PLOT_MAX_POINTS, CsvLog, LambdaAccuracy, Recorder, StatusLine, plot_run

SOURCE = "command line"
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_LINK_LOST = 3
EXIT_INTERRUPTED = 130


def check_output(path_text: str | None, option: str, suffix: str) -> Path | None:
    """The output path, if its folder exists and it is not a folder itself."""
    if path_text is None:
        return None
    if not path_text.strip():
        raise EmulatorInputError(SOURCE, option, "needs a file name")
    path = Path(path_text)
    if path.is_dir():
        raise EmulatorInputError(SOURCE, option, f"{path_text} is a folder; give a {suffix} file name")
    parent = path.parent
    if not parent.is_dir():
        raise EmulatorInputError(SOURCE, option, f"folder {str(parent)!r} does not exist")
    return path


def check_outputs(log_text: str | None, plot_text: str | None) -> tuple[Path | None, Path | None]:
    log_path = check_output(log_text, "--log", ".csv")
    plot_path = check_output(plot_text, "--plot", ".png")
    if log_path is not None and plot_path is not None and log_path.resolve() == plot_path.resolve():
        raise EmulatorInputError(SOURCE, "--plot", "must not be the same file as --log")
    if plot_path is not None:
        from .telemetry import check_plot_available
        check_plot_available()
    return log_path, plot_path


def _reconnect_and_resume(frontend, controller: Controller, runtime: Runtime, result: RunResult,
                          duration_s: float, reconnect_s: float, quiet: bool, t0_s: float) -> RunResult:
    """A front end that can reconnect (a rig that came back on its port): wait up to reconnect_s for
    it, restart the firmware (a lost link is never retried by itself: a human may have unplugged the
    board) and run on for what is left of the run. The events of every part are kept."""
    resumed = False
    while (result.link_lost and reconnect_s > 0 and getattr(frontend, "reconnect_enabled", False)
           and not result.interrupted):
        elapsed = frontend.now() - t0_s
        if elapsed >= duration_s:
            break
        if not quiet:
            print(f"lambdarig: link lost at {elapsed:.2f} s; waiting up to {reconnect_s:g} s for the front end",
                  file=sys.stderr)
        try:
            frontend.reconnect(timeout_s=reconnect_s)
        except FrontEndError as exc:
            result.message = f"{result.message}; not reconnected: {exc}"
            break
        if not quiet:
            print("lambdarig: reconnected; restarting the firmware", file=sys.stderr)
        controller.stop()
        controller.start()
        result = runtime.run(duration_s - (frontend.now() - t0_s))
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


def run_session(frontend, controller: Controller, duration_s: float, *, json_out: bool, quiet: bool,
                log_path: Path | None, plot_path: Path | None, title: str, label: dict,
                reconnect_s: float = 0.0) -> int:
    """Run the firmware on an opened front end with the telemetry sinks the options ask for, print
    the summary (or one JSON object), and return the exit code. The front end is made safe and
    closed on every way out."""
    info = frontend.info()
    settings = controller.settings
    t0_s = frontend.now()
    accuracy = LambdaAccuracy() if info.has_truth else None
    sinks: list = [accuracy] if accuracy is not None else []
    status_line = None
    if not (json_out or quiet):
        status_line = StatusLine(sys.stderr)
        sinks.append(status_line)
    header = frontend.snapshot_lines() if hasattr(frontend, "snapshot_lines") else ()
    log = (CsvLog(log_path, with_truth=info.has_truth, t0_s=t0_s, with_hc=controller.mode == "hc", header_lines=header)
           if log_path is not None else None)
    if log is not None:
        sinks.append(log)
    recorder = None
    if plot_path is not None:
        ticks = duration_s * settings.rates.telemetry_hz if math.isfinite(duration_s) else PLOT_MAX_POINTS
        recorder = Recorder(settings.heater.target_temp_c, settings.pump.nernst_target_v,
                            every=math.ceil(ticks / PLOT_MAX_POINTS), t0_s=t0_s)
        sinks.append(recorder)
    runtime = Runtime(frontend, controller, sinks)
    escaped_interrupt = False
    try:
        result = runtime.run(duration_s)
        result = _reconnect_and_resume(frontend, controller, runtime, result, duration_s, reconnect_s,
                                       quiet or json_out, t0_s)
    except KeyboardInterrupt:  # Ctrl-C outside the loop's own handler (e.g. in the final telemetry)
        frontend.safe()
        escaped_interrupt = True
        result = None
    finally:
        if status_line is not None:
            status_line.finish()
        if log is not None:
            log.close()
        frontend.close()

    if result is None:
        result = RunResult(time_to_ready_s=None, final_state=controller.state.value, faults=[], sim_s=0.0,
                           wall_s=0.0, realtime_factor=0.0, ticks=0, late_ticks=0,
                           message="interrupted (Ctrl-C); outputs made safe", interrupted=True)
    plot_error = ""
    if recorder is not None and recorder.t_s:
        try:
            plot_run(recorder, plot_path, f"{title}, {result.sim_s:g} s")
        except (OSError, ValueError) as exc:
            plot_error = f"plot not written: {exc}"
            plot_path = None
        except KeyboardInterrupt:
            plot_error = "plot not written: interrupted (Ctrl-C)"
            plot_path = None
            escaped_interrupt = True
    elif recorder is not None:
        plot_path = None

    link_lost = result.link_lost  # a link that came back and ran to the end is not a lost run
    message = result.message
    if link_lost and not message:
        message = "link lost; outputs made safe"
    if plot_error:
        message = f"{message}; {plot_error}" if message else plot_error
        print(f"lambdarig: warning: {plot_error}", file=sys.stderr)

    report = build_report(result, message, accuracy.summary() if accuracy is not None else None,
                          log_path, plot_path, label)
    if json_out:
        print(json.dumps(json_safe(report), allow_nan=False))
    else:
        print(format_summary(report))
    if result.interrupted or escaped_interrupt:
        return EXIT_INTERRUPTED
    if link_lost:
        return EXIT_LINK_LOST
    return EXIT_OK


def build_report(result: RunResult, message: str, accuracy: dict | None, log_path: Path | None,
                 plot_path: Path | None, label: dict) -> dict:
    summary = result.summary()
    report = {
        "time_to_ready_s": summary["time_to_ready_s"],
        "final_state": summary["final_state"],
        "faults": [{"code": f["code"], "t_s": f["t_s"]} for f in summary["faults"]],
        "sim_s": summary["sim_s"],
        "wall_s": summary["wall_s"],
        "realtime_factor": summary["realtime_factor"],
        "events": result.events,
        "message": message,
        **label,
        "late_ticks": summary["late_ticks"],
        "lambda_error_pct": accuracy,
        "interrupted": result.interrupted,
        "link_lost": result.link_lost or any(e["code"] == "link_loss" for e in result.events),
    }
    if log_path is not None:
        report["log"] = str(log_path)
    if plot_path is not None:
        report["plot"] = str(plot_path)
    return report


def json_safe(value):
    """NaN and +-inf become None (JSON null), recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def format_summary(report: dict) -> str:
    ready = report["time_to_ready_s"]
    rows = [
        ("time to ready", "not reached" if ready is None else f"{ready:.2f} s"),
        ("final state", report["final_state"]),
    ]
    events = report["events"]
    if events:
        rows.append(("faults/warnings", f"{len(events)}"))
    else:
        rows.append(("faults/warnings", "none"))
    rows += [
        ("sim time", f"{report['sim_s']:.2f} s"),
        ("wall time", f"{report['wall_s']:.2f} s"),
        ("real-time factor", "-" if not math.isfinite(report["realtime_factor"]) else f"{report['realtime_factor']:.0f}x"),
    ]
    acc = report["lambda_error_pct"]
    if acc is None and "scenario" in report:
        rows.append(("lambda error", "no valid samples with a finite true lambda"))
    elif acc is not None:
        # Right at a step the reading is still on its way: the settled maximum is the figure that
        # says how accurate the firmware is; the plain maximum only says how big the steps were.
        settled = ("no sample once the truth held still" if acc["max_settled"] is None else
                   f"max {acc['max_settled']:.2f} % once the truth held still {acc['settle_s']:g} s")
        rows.append(("lambda error", f"median {acc['median']:.2f} %, {settled} "
                                     f"({acc['samples']} valid samples; {acc['max']:.4g} % during steps)"))
    if "log" in report:
        rows.append(("log", report["log"]))
    if "plot" in report:
        rows.append(("plot", report["plot"]))
    width = max(len(label) for label, _ in rows)
    lines = [", ".join(f"{k} {v}" if k != "element" else str(v) for k, v in report.items()
                       if k in ("element", "frontend", "scenario", "seed") and v is not None)]
    for label, value in rows:
        lines.append(f"  {label:<{width}}  {value}")
        if label == "faults/warnings":
            for e in events:
                lines.append(f"  {'':<{width}}    {e['t_s']:8.3f} s  {e['severity']:<7} {e['code']}: {e['text']}")
    if report["message"]:
        lines.append(f"  {report['message']}")
    return "\n".join(lines)
