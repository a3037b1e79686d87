"""`lambdarig simulate`: the firmware driving an emulated element through a scenario, in virtual time.

Everything is checked before the run starts (element, scenario, settings, numbers, output folders,
matplotlib for --plot), so a bad input exits 2 and writes nothing. Exit codes: 0 done, 2 bad input,
3 the front end stopped answering (link loss), 130 interrupted (Ctrl-C). See docs/simulate.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from controller.core import Controller
from controller.runtime import RunResult, Runtime
from controller.settings import ELEMENT_CHOICES, Settings, load_settings
from emulator.errors import EmulatorInputError
from hal.registry import open_frontend

from .cmd_element import parse_number
from .telemetry import (PLOT_MAX_POINTS, CsvLog, LambdaAccuracy, Recorder, StatusLine, check_plot_available,
                        plot_run)

SOURCE = "command line"
DURATION_RANGE_S = (0.1, 86400.0)
LINK_LOSS_RANGE_S = (0.0, 86400.0)
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_LINK_LOST = 3
EXIT_INTERRUPTED = 130


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate", help="run the firmware on an emulated element through a scenario",
        description="Run the controller firmware against an emulated sensor element in virtual time: "
                    "warm-up, closed loop, lambda tracking; with an optional CSV log and PNG plot.")
    parser.add_argument("--element", default="lsu49", metavar="NAME",
                        help="emulated element: name (see `lambdarig element --list`) or .toml path (default lsu49)")
    parser.add_argument("--scenario", default="default", metavar="NAME|FILE",
                        help="built-in scenario name or scenario .toml file (default: default)")
    parser.add_argument("--duration", default=None, metavar="S",
                        help="simulated seconds, %g..%g (default: the scenario's duration)" % DURATION_RANGE_S)
    parser.add_argument("--settings", default=None, metavar="FILE",
                        help="controller settings .toml (default: built-in defaults for --element)")
    parser.add_argument("--seed", default=None, metavar="N",
                        help="noise seed, integer >= 0 (default: the scenario's seed)")
    parser.add_argument("--log", default=None, metavar="FILE.csv", help="write telemetry as CSV")
    parser.add_argument("--plot", default=None, metavar="FILE.png",
                        help="write a PNG plot of the run (needs matplotlib: pip install 'lambdarig[plot]')")
    parser.add_argument("--link-loss-s", default=None, metavar="T",
                        help="simulate a lost link: the emulated board stops answering at T s (exit code 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    parser.add_argument("--quiet", action="store_true", help="no live status line")
    parser.set_defaults(func=run)


def parse_seed(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        seed = int(text.strip(), 10)
    except ValueError:
        seed = -1
    if seed < 0:
        raise EmulatorInputError(SOURCE, "--seed", f"{text!r} is not an integer >= 0")
    return seed


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


def build_settings(settings_path: str | None, element: str) -> tuple[Settings, str | None]:
    """(settings, warning). Without a file: defaults with sensor.element = the emulated element."""
    if settings_path is not None:
        settings = load_settings(settings_path)  # SettingsError (ValueError) naming field and range
        if settings.sensor.element != element:
            return settings, (f"lambdarig: warning: {settings_path} sets sensor.element = {settings.sensor.element!r} but the "
                              f"emulated element is {element!r}; the firmware runs the "
                              f"{settings.sensor.element!r} profile")
        return settings, None
    if element not in ELEMENT_CHOICES:
        raise EmulatorInputError(SOURCE, "--element",
                                 f"the firmware has no sensor profile for element {element!r}; profiles: "
                                 f"{', '.join(ELEMENT_CHOICES)}; give --settings with sensor.element set to one")
    return Settings({"sensor.element": element}), None


def run(args: argparse.Namespace) -> int:
    # --- check everything before running ---------------------------------------------------------
    duration_s = None if args.duration is None else parse_number(args.duration, "--duration", *DURATION_RANGE_S, unit="s")
    link_loss_s = None if args.link_loss_s is None else parse_number(args.link_loss_s, "--link-loss-s",
                                                                      *LINK_LOSS_RANGE_S, unit="s")
    seed = parse_seed(args.seed)
    log_path = check_output(args.log, "--log", ".csv")
    plot_path = check_output(args.plot, "--plot", ".png")
    if log_path is not None and plot_path is not None and log_path.resolve() == plot_path.resolve():
        raise EmulatorInputError(SOURCE, "--plot", "must not be the same file as --log")
    if plot_path is not None:
        check_plot_available()
    if not args.element.strip():
        raise EmulatorInputError(SOURCE, "--element", "needs an element name or .toml path")
    if not args.scenario.strip():
        raise EmulatorInputError(SOURCE, "--scenario", "needs a scenario name or .toml path")
    frontend = open_frontend(f"sim:{args.element.strip()}", scenario=args.scenario.strip(), seed=seed,
                             link_loss_s=link_loss_s)
    info = frontend.info()
    element = info.element
    settings, warning = build_settings(args.settings, element)
    controller = Controller(settings)
    scenario = frontend.scenario
    if duration_s is None:
        duration_s = float(scenario.duration_s)
    if warning:
        print(warning, file=sys.stderr)

    # --- run ------------------------------------------------------------------------------------
    t0_s = frontend.now()
    accuracy = LambdaAccuracy()
    sinks: list = [accuracy]
    status_line = None
    if not (args.json or args.quiet):
        status_line = StatusLine(sys.stderr)
        sinks.append(status_line)
    log = CsvLog(log_path, with_truth=info.has_truth, t0_s=t0_s) if log_path is not None else None
    if log is not None:
        sinks.append(log)
    recorder = None
    if plot_path is not None:
        ticks = duration_s * settings.rates.telemetry_hz
        recorder = Recorder(settings.heater.target_temp_c, settings.pump.nernst_target_v,
                            every=math.ceil(ticks / PLOT_MAX_POINTS), t0_s=t0_s)
        sinks.append(recorder)
    runtime = Runtime(frontend, controller, sinks)
    escaped_interrupt = False
    try:
        result = runtime.run(duration_s)
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
        title = (f"lambdarig simulate: {element}, scenario {scenario.name}, seed "
                 f"{info.details.get('seed')}, {result.sim_s:g} s")
        try:
            plot_run(recorder, plot_path, title)
        except (OSError, ValueError) as exc:
            plot_error = f"plot not written: {exc}"
            plot_path = None
        except KeyboardInterrupt:
            plot_error = "plot not written: interrupted (Ctrl-C)"
            plot_path = None
            escaped_interrupt = True
    elif recorder is not None:
        plot_path = None

    link_lost = result.link_lost or any(e["code"] == "link_loss" for e in result.events)
    message = result.message
    if link_lost and not message:
        message = "link lost; outputs made safe"
    if plot_error:
        message = f"{message}; {plot_error}" if message else plot_error
        print(f"lambdarig: warning: {plot_error}", file=sys.stderr)

    report = build_report(result, message, accuracy.summary(), log_path, plot_path, element, scenario.name,
                          info.details.get("seed"))
    if args.json:
        print(json.dumps(json_safe(report), allow_nan=False))
    else:
        print(format_summary(report))
    if result.interrupted or escaped_interrupt:
        return EXIT_INTERRUPTED
    if link_lost:
        return EXIT_LINK_LOST
    return EXIT_OK


def build_report(result: RunResult, message: str, accuracy: dict | None, log_path: Path | None,
                 plot_path: Path | None, element: str, scenario: str, seed) -> dict:
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
        "element": element,
        "scenario": scenario,
        "seed": seed,
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
    if acc is None:
        rows.append(("lambda error", "no valid samples with a finite true lambda"))
    else:
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
    lines = [f"{report['element']}, scenario {report['scenario']}, seed {report['seed']}"]
    for label, value in rows:
        lines.append(f"  {label:<{width}}  {value}")
        if label == "faults/warnings":
            for e in events:
                lines.append(f"  {'':<{width}}    {e['t_s']:8.3f} s  {e['severity']:<7} {e['code']}: {e['text']}")
    if report["message"]:
        lines.append(f"  {report['message']}")
    return "\n".join(lines)
