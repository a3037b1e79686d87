"""What `lambdarig simulate` and `lambdarig run` show of a session: the live status line, what
happens along the way and warnings on stderr, the summary (or one JSON object) on stdout, and the
exit code. The session itself is the package API's (lambdarig.api), the same code Python callers run.

Exit codes: 0 done, 1 an output asked for could not be written (the log, the plot), 2 bad input,
3 the front end stopped answering (link loss), 128 + N when signal N stopped the run (130 Ctrl-C,
143 SIGTERM, 129 SIGHUP), the outputs made safe first.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from lambdarig.inputs import Caller
from lambdarig.progress import Progress, ProgressStatusLine
from lambdarig.result import SessionResult
from lambdarig.signals import exit_code_for
from lambdarig.status_line import StatusLine, format_lambda

# A share of late control ticks from which the summary says the host (not the board) fell behind:
# an assumption, ~10x what the benchmarks see on an idle 2-core machine (docs/live.md: 0.02-0.98 %).
BUSY_HOST_LATE_SHARE = 0.01

EXIT_OK = 0
EXIT_OUTPUT = 1
EXIT_USAGE = 2
EXIT_LINK_LOST = 3
EXIT_INTERRUPTED = 130


def add_session_options(parser: argparse.ArgumentParser, element_meaning: str) -> None:
    """The options `simulate` and `run` share: the element check's override, outputs, display."""
    parser.add_argument("--force-element", action="store_true",
                        help=f"run settings made for another element than {element_meaning} (a warning, not an "
                             "error)")
    parser.add_argument("--log", default=None, metavar="FILE",
                        help="write the telemetry to a log; the suffix picks the format: .csv (metadata in "
                             "FILE.json), .mf4/.mdf (MDF4, needs asammdf: pip install 'lambdarig[mdf]'), "
                             ".msl (MegaLogViewer)")
    parser.add_argument("--plot", default=None, metavar="FILE.png",
                        help="write a PNG plot of the run (needs matplotlib: pip install 'lambdarig[plot]')")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    parser.add_argument("--quiet", action="store_true", help="no live status line")
    parser.add_argument("--can", default=None, metavar="URL",
                        help="send rusEFI/AEM wideband frames (settings [can]) to a python-can bus "
                             "(virtual:CH, socketcan:can0, udp_multicast:ADDR, pcan:CH, ...) or a log file "
                             "(FILE.asc|.blf|.log); see docs/can.md")
    parser.add_argument("--can-pace", default="1", metavar="X",
                        help="with --can on a live bus, run virtual time at X times real time (default 1)")


def one_or_list(values: list[Any] | None) -> Any:
    """A repeatable option as the API takes it: None, the one value, or the list (one per channel)."""
    if values is None:
        return None
    return values[0] if len(values) == 1 else values


def command_line(names: dict[str, str]) -> Caller:
    """The command line as the caller of the API, with its option names for the API's arguments."""
    return Caller("command line", {"log": "--log", "plot": "--plot", "settings": "--settings", "can": "--can",
                                   "can_pace": "--can-pace", **names})


class Console:
    """The session's hooks for a terminal: a live status line (unless --json or --quiet), what
    happens along the way (which front end and settings, a lost link, a reconnect; unless --json)
    and warnings (always) on stderr."""

    def __init__(self, json_out: bool, quiet: bool, total_s: float | None = None, what: str = "simulated"):
        self.json_out = json_out
        self.quiet = quiet
        # Known-duration work shows % and ETA (lambdarig.progress): on a terminal at the end of the
        # status line (or its own line with --json), off a terminal a plain line every few seconds.
        self.progress_line: Progress | None = None
        known = total_s is not None and math.isfinite(total_s) and total_s > 0
        if known and not quiet:
            self.progress_line = Progress(sys.stderr, float(total_s or 0.0), what=what)
        if json_out or quiet:
            self.status_line: StatusLine | None = None
        elif self.progress_line is not None and self.progress_line.tty:
            self.status_line = ProgressStatusLine(sys.stderr, self.progress_line)
        else:
            self.status_line = StatusLine(sys.stderr)

    def sinks(self) -> list:
        sinks: list = [self.status_line] if self.status_line is not None else []
        if self.progress_line is not None and not isinstance(self.status_line, ProgressStatusLine):
            sinks.append(self.progress_line)
        return sinks

    def progress(self, text: str) -> None:
        if not self.json_out:
            self.finish_line()
            print(f"lambdarig: {text}", file=sys.stderr)

    def warn(self, text: str) -> None:
        self.finish_line()
        print(f"lambdarig: warning: {text}", file=sys.stderr)

    def finish_line(self) -> None:
        if self.status_line is not None:
            self.status_line.finish()
        if self.progress_line is not None:
            self.progress_line.finish()


def show_result(result: SessionResult, console: Console, plot: str | None = None) -> int:
    """Print the summary (or one JSON object) and return the exit code. `plot`: the --plot asked for;
    a completed run whose plot could not be written (a full disk) exits 1, as a log that could not."""
    console.finish_line()
    if console.json_out:
        print(json.dumps(json_safe(result.summary), allow_nan=False))
    else:
        print(format_summary(result.summary))
    if result.interrupted:
        return exit_code_for(result.interrupted_by or "SIGINT")
    if result.link_lost:   # a link that came back and ran to the end is not a lost run
        return EXIT_LINK_LOST
    if plot is not None and "plot" not in result.summary:
        return EXIT_OUTPUT
    return EXIT_OK


def json_safe(value: Any) -> Any:
    """NaN and +-inf become None (JSON null), recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def format_summary(report: dict[str, Any]) -> str:
    if "channels" in report:   # several sensors in one run: one block per channel
        return format_channels(report)
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
    factor = report["realtime_factor"]
    if report.get("virtual_time", True):
        rows += [
            ("sim time", f"{report['sim_s']:.2f} s"),
            ("wall time", f"{report['wall_s']:.2f} s"),
            ("real-time factor", f"{factor:.0f}x" if math.isfinite(factor) else "-"),
        ]
        emulator = report.get("emulator")
        if emulator and emulator != "built":   # the slower way, and why (an edit since the install, ...)
            rows.append(("emulator", emulator))
    else:   # a rig or a station runs on the wall clock: its time is the run's length, nothing simulated
        rows.append(("run time", f"{report['sim_s']:.2f} s"))
        late, ticks = report.get("late_ticks"), report.get("ticks")
        if late:
            share = f" of {ticks} control ticks ({100.0 * late / ticks:.2f} %)" if ticks else ""
            if ticks and late >= BUSY_HOST_LATE_SHARE * ticks:
                share += "; the host ran behind its clock (a busy machine?), not the front end"
            rows.append(("late ticks", f"{late}{share}"))
        # No truth to compare with: what the sensor read is the run's result.
        rows.append(("last reading", format_reading(report.get("last_reading"), report.get("mode"))))
    acc = report["lambda_error_pct"]
    if report.get("mode") == "hc":
        rows.append(("lambda", "none: a mixed-potential HC element reads HC (ppm); its pump holds a lean "
                               "chamber, so the pump current says nothing about the exhaust's lambda"))
        if report.get("hc_unavailable"):
            rows.append(("hc", f"none: {report['hc_unavailable']}"))
    elif acc is None and "scenario" in report:
        rows.append(("lambda error", "no valid samples with a finite true lambda"))
    elif acc is not None:
        # Right at a step the reading is still on its way (out of free air thousands of % off however
        # good the sensor): the settled maximum says how accurate the firmware is, and the steps are
        # judged by time, how soon the reading is back inside the Bosch band (lambdarig.lambda_accuracy).
        settled = ("no sample once the truth held still" if acc["max_settled"] is None else
                   f"max {acc['max_settled']:.2f} % once the truth held still {acc['settle_s']:g} s")
        rows.append(("lambda error", f"median {acc['median']:.2f} %, {settled} ({acc['samples']} valid samples)"))
        steps = acc.get("step_settle_s")
        if steps:
            rows.append(("step response", format_steps(steps)))
    if "log" in report:
        rows.append(("log", report["log"]))
    if "plot" in report:
        rows.append(("plot", report["plot"]))
    if report.get("can"):
        rows.append(("can", format_can(report["can"])))
    width = max(len(label) for label, _ in rows)
    lines = [header_line(report)]
    for label, value in rows:
        lines.append(f"  {label:<{width}}  {value}")
        if label == "faults/warnings":
            for e in events:
                lines.append(f"  {'':<{width}}    {e['t_s']:8.3f} s  {e['severity']:<7} {e['code']}: {e['text']}")
    if report["message"]:
        lines.append(f"  {report['message']}")
    return "\n".join(lines)


def format_reading(reading: dict[str, Any] | None, mode: str | None) -> str:
    """The last valid reading: `lambda 1.003, O2 0.00 %, 780 °C at 24.99 s` (HC elements: HC)."""
    if reading is None:
        return "none: lambda never became valid"
    temp = reading["temp_c"]
    temp_text = "cold" if temp != temp else f"{temp:.0f} °C"
    if mode == "hc":
        value = f"HC {reading['hc_ppm']:.0f} ppm"
    else:
        o2 = reading["o2_pct"]
        value = f"lambda {format_lambda(reading['lambda'])}, O2 {'--' if o2 != o2 else f'{o2:.2f}'} %"
    return f"{value}, {temp_text} at {reading['t_s']:.2f} s"


def header_line(report: dict[str, Any]) -> str:
    """What ran: `lsu49 unit 7, aged 500 h, scenario default, seed 0` (unit and age only when not
    the nominal, new element; a run on a front end names it)."""
    parts = []
    for key in ("element", "unit", "age_h", "frontend", "scenario", "seed"):
        value = report.get(key)
        if value is None or (key == "age_h" and not value):
            continue
        parts.append(str(value) if key == "element" else f"aged {value:g} h" if key == "age_h" else f"{key} {value}")
    return ", ".join(parts)


def format_steps(steps: dict[str, Any]) -> str:
    """The summary's step-response line: how soon after a step the reading is inside the Bosch band."""
    count = f"{steps['steps']} step{'s' if steps['steps'] != 1 else ''}"
    if steps["median"] is None:
        return f"outside the Bosch band at the end of every step ({count})"
    text = (f"inside the Bosch band {steps['median'] * 1e3:.0f} ms after a step (median; "
            f"max {steps['max'] * 1e3:.0f} ms; {count}")
    if steps["unsettled"]:
        text += f", {steps['unsettled']} outside it at the step's end"
    return text + ")"


def format_channels(report: dict[str, Any]) -> str:
    """The summary of a run of several sensors: a block per channel, then the run's log."""
    blocks = [f"channel {ch['channel_index']}: " + format_summary(ch) for ch in report["channels"]]
    if report["message"] and all(ch["message"] != report["message"] for ch in report["channels"]):
        blocks.append(f"  {report['message']}")
    if "log" in report:
        blocks.append(f"log {report['log']}")
    if "plot" in report:
        blocks.append(f"plot {report['plot']}")
    if report.get("can"):
        blocks.append(f"can {format_can(report['can'])}")
    return "\n".join(blocks)


def format_can(can: dict[str, Any]) -> str:
    """`virtual:wbo, 12008 frames sent` (several sensors: and each one's CAN index)."""
    lost = f"; lost: {can['lost']}" if can.get("lost") else ""
    channels = can.get("channels")
    per = (" (" + ", ".join(f"channel {c['channel_index']} index {c['can_index']}: {c['frames_sent']}"
                            for c in channels) + ")") if channels else ""
    return f"{can['url']}, {can['frames_sent']} frames sent{per}{lost}"
