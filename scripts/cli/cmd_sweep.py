"""`lambdarig sweep`: many closed-loop simulations on Dask (lambdarig.sweep), and what they found.

    lambdarig sweep FILE [--workers N | --scheduler tcp://HOST:PORT] [--out DIR] [--csv] [--retry-errors]
    lambdarig sweep report RESULTS [--png F] [--html F] [--worst N]
    lambdarig sweep replay RESULTS KEY [--log F] [--plot F]

Exit codes: 0 done (cases that raised are rows with their error, not a failure of the sweep); 1 some
batches were lost (a worker died too often, the scheduler went away): rerun to finish them; 2 bad
input; 130 Ctrl-C (what finished is stored; rerun resumes).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from lambdarig.common import validators as check
from lambdarig.common.errors import InputError, nearest
from lambdarig.common.validators import Place
from lambdarig.inputs import Caller, check_output_path, check_outputs
from lambdarig.telemetry import check_plot_available

SOURCE = "command line"
CALLER = Caller(SOURCE, {"png": "--png", "html": "--html", "log": "--log", "plot": "--plot"})
ACTIONS = ("report", "replay")
RUN_OPTIONS = ("workers", "scheduler", "out", "csv", "retry_errors", "progress_every")
REPORT_OPTIONS = ("png", "html", "worst")
REPLAY_OPTIONS = ("log", "plot")
WORKERS_RANGE = (1, 1024)
PROGRESS_RANGE_S = (0.1, 3600.0)
WORST_RANGE = (1, 10_000)
SCHEDULER_URL = re.compile(r"^(tcp|tls|inproc|ws|wss)://[^\s/]+(:\d+)?/?$")
DEFAULTS = {"workers": None, "scheduler": None, "out": None, "csv": False, "retry_errors": False,
            "progress_every": None, "png": None, "html": None, "worst": "10", "log": None, "plot": None}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep", help="run many closed-loop simulations on Dask; report; replay one case",
        description="`sweep FILE`: run the cases of a sweep file (docs/sweep.md) on a Dask LocalCluster (one "
                    "worker per core) or an existing cluster; rows go to Parquet as they finish; a rerun runs "
                    "only what is missing. `sweep report RESULTS`: tables and a PNG/HTML figure. "
                    "`sweep replay RESULTS KEY`: run one case again, with a log and a plot.")
    parser.add_argument("target", metavar="FILE|report|replay", help="a sweep .toml file, or report / replay")
    # default=[]: without a default argparse counts a "*" positional as required ("required: ..., ARG").
    parser.add_argument("more", nargs="*", default=[], metavar="ARG", help="report: RESULTS; replay: RESULTS KEY")
    parser.add_argument("--workers", metavar="N", help="LocalCluster worker processes (default: one per core)")
    parser.add_argument("--scheduler", metavar="URL", help="run on an existing cluster, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--out", metavar="DIR", help="results folder (default: FILE's stem + '-results')")
    parser.add_argument("--csv", action="store_true", help="also keep DIR/results.csv (appended as batches finish, "
                        "sorted at the end)")
    parser.add_argument("--retry-errors", action="store_true", help="run again the cases stored with an error")
    parser.add_argument("--progress-every", metavar="S", help="seconds between progress lines off a terminal")
    parser.add_argument("--png", metavar="FILE", help="report: write the figure as a PNG")
    parser.add_argument("--html", metavar="FILE", help="report: write one HTML file (figure and tables)")
    parser.add_argument("--worst", metavar="N", help="report: how many worst cases to list (default 10)")
    parser.add_argument("--log", metavar="FILE", help="replay: the telemetry as CSV")
    parser.add_argument("--plot", metavar="FILE", help="replay: a PNG plot of the run")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.target == "report":
        _only(args, REPORT_OPTIONS, "report")
        return _report(args)
    if args.target == "replay":
        _only(args, REPLAY_OPTIONS, "replay")
        return _replay(args)
    if args.more:
        raise InputError(SOURCE, "ARG", f"unexpected {args.more[0]!r} after the sweep file",
                         allowed="sweep FILE, sweep report RESULTS, sweep replay RESULTS KEY",
                         suggestions=nearest(args.target, ACTIONS))
    _only(args, RUN_OPTIONS, "a sweep run")
    return _sweep(args)


def _only(args: argparse.Namespace, allowed: tuple[str, ...], what: str) -> None:
    for name, default in DEFAULTS.items():
        if name not in allowed and getattr(args, name) != default and getattr(args, name) is not None:
            option = "--" + name.replace("_", "-")
            raise InputError(SOURCE, option, f"is not an option of {what}",
                             allowed=", ".join("--" + a.replace("_", "-") for a in allowed))


def _integer(text: str | None, option: str, lo: int, hi: int) -> int | None:
    if text is None:
        return None
    return check.integer_text(text, Place(SOURCE, option, InputError), lo, hi)


def _seconds(text: str, option: str, lo: float, hi: float) -> float:
    return check.number_text(text, Place(SOURCE, option, InputError), lo, hi, "s")


def _sweep(args: argparse.Namespace) -> int:
    from lambdarig.sweep.spec import load_sweep

    workers = _integer(args.workers, "--workers", *WORKERS_RANGE)
    if args.scheduler is not None and not SCHEDULER_URL.match(args.scheduler):
        raise InputError(SOURCE, "--scheduler", f"{args.scheduler!r} is not a scheduler address",
                         allowed="tcp://HOST:PORT (what `dask scheduler` prints)")
    if args.scheduler is not None and workers is not None:
        raise InputError(SOURCE, "--workers", "cannot be combined with --scheduler (the cluster has its workers)",
                         allowed="one of the two")
    every_s = _seconds(args.progress_every or "5", "--progress-every", *PROGRESS_RANGE_S)
    if not Path(args.target).exists() and nearest(args.target, ACTIONS):
        raise InputError(SOURCE, "FILE", f"no sweep file {args.target!r}", allowed="a sweep .toml file, report, replay",
                         suggestions=nearest(args.target, ACTIONS))
    spec = load_sweep(args.target)
    out = Path(args.out) if args.out else Path(f"{Path(args.target).stem}-results")
    made = not out.exists()
    _check_out(out)
    from lambdarig.sweep.engine import run_sweep
    try:
        outcome = run_sweep(spec, out, workers=workers, scheduler=args.scheduler, csv=args.csv,
                            retry_errors=args.retry_errors, every_s=every_s, stream=sys.stderr)
    except KeyboardInterrupt:
        print(f"sweep {spec.name}: stopped; finished rows are in {out}; run the same command to resume",
              file=sys.stderr)
        raise
    except Exception:
        if made:   # e.g. no scheduler at --scheduler: no results folder is left behind without a row in it
            _remove_if_no_rows(out)
        raise
    if outcome.ran == 0 and outcome.lost_batches == 0:
        print(f"sweep {spec.name}: nothing to do, all {outcome.total} cases are in {out}")
    else:
        print(f"sweep {spec.name}: {outcome.ran} cases ran ({outcome.errors} with an error), "
              f"{outcome.skipped} were done already; results in {out}")
    if outcome.csv is not None:
        print(f"CSV: {outcome.csv}")
    if outcome.lost_batches:
        print(f"sweep {spec.name}: {outcome.lost_batches} batches lost ({outcome.lost_reasons[0]}); "
              f"run the same command to finish them", file=sys.stderr)
        return 1
    return 0


def _check_out(out: Path) -> None:
    """The results folder: an existing folder we can write in, or one we can make."""
    allowed = "a folder that exists and can be written, or can be made"
    try:
        if out.exists() and not out.is_dir():
            raise InputError(SOURCE, "--out", f"{out} exists and is not a folder", allowed=allowed)
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".lambdarig-write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError(SOURCE, "--out", f"{out} cannot be written: {exc.strerror or exc}", allowed=allowed) from None


def _remove_if_no_rows(out: Path) -> None:
    """Remove a results folder this run made when it holds nothing but the manifest and no part."""
    from lambdarig.sweep.store import MANIFEST, PARTS

    parts = out / PARTS
    if any(parts.iterdir()) if parts.is_dir() else parts.exists():
        return
    if {p.name for p in out.iterdir()} <= {MANIFEST, PARTS}:
        try:
            if parts.is_dir():
                parts.rmdir()
            (out / MANIFEST).unlink(missing_ok=True)
            out.rmdir()
        except OSError:
            pass   # the error being raised matters more than a folder left behind


def _results_arg(args: argparse.Namespace, count: int, usage: str) -> list[str]:
    if len(args.more) != count:
        raise InputError(SOURCE, "ARG", f"{args.target} takes {count} argument{'s' if count > 1 else ''}",
                         allowed=usage)
    return args.more


def _report(args: argparse.Namespace) -> int:
    from lambdarig.sweep.report import write_report

    (results,) = _results_arg(args, 1, "sweep report RESULTS [--png F] [--html F]")
    worst = _integer(args.worst, "--worst", *WORST_RANGE) or 10
    for option, value, suffix in (("--png", args.png, ".png"), ("--html", args.html, ".html")):
        if value is not None and not value.lower().endswith(suffix):
            raise InputError(SOURCE, option, f"{value!r} does not end in {suffix}", allowed=f"a {suffix} path")
        check_output_path(value, CALLER, option.lstrip("-"), suffix)
    if args.png is not None or args.html is not None:
        check_plot_available()
    print(write_report(results, args.png, args.html, worst))
    return 0


def _replay(args: argparse.Namespace) -> int:
    from lambdarig.sweep.runner import run_case
    from lambdarig.sweep.store import read_results

    results, key = _results_arg(args, 2, "sweep replay RESULTS KEY [--log F] [--plot F]")
    check_outputs(args.log, args.plot, CALLER)
    frame = read_results(results)
    keys = list(frame["key"])
    found = [k for k in keys if k.startswith(key)]
    if len(found) != 1:
        raise InputError(SOURCE, "KEY", f"{key!r} matches {len(found)} rows of {results}",
                         allowed="a key (or a unique start of one) of the results", suggestions=nearest(key, keys))
    stored = frame[frame["key"] == found[0]].to_dict("records")[0]
    case = {name: _plain(stored.get(name)) for name in ("element", "scenario", "fuel", "variant", "seed", "unit",
                                                         "age_h", "duration_s")}
    case["settings"] = json.loads(stored.get("settings") or "{}")
    case["key"] = found[0]
    row = run_case(case, log=args.log, plot=args.plot, warn=lambda text: print(text, file=sys.stderr))
    shown = {name: value for name, value in case.items() if name not in ("key", "settings") and value is not None}
    print(f"replayed case {found[0]}: " + ", ".join(f"{name} {value}" for name, value in shown.items()))
    names = ("time_to_ready_s", "worst_tolerance_ratio", "lambda_err_p99", "faults", "false_faults")
    same = all(_plain(stored.get(name)) == _plain(row.get(name)) for name in names if name in row)
    for name in names:
        if name in row:
            print(f"  {name:<22} {_shown(row[name])}")
    if row["error"]:
        print(f"  {'error':<22} {row['error']}")
    print("  the same as the stored row" if same else "  DIFFERENT from the stored row (another lambdarig version?)")
    for label, path in (("log", args.log), ("plot", args.plot)):
        if path:
            print(f"  {label:<22} {path}")
    return 0 if not row["error"] else 1


def _shown(value):
    """A metric as a person reads it: floats to 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else value


def _plain(value):
    """A value from a DataFrame as the case had it (NaN/NA -> None, numpy scalars -> Python)."""
    if value is None:
        return None
    try:
        if value != value:
            return None
    except (TypeError, ValueError):
        return None
    return value.item() if hasattr(value, "item") else value
