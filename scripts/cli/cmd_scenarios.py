"""`lambdarig scenarios`: the built-in scenarios, each with its duration and a one-line description."""

from __future__ import annotations

import argparse
import json

from lambdarig.emulator.scenario import builtin_path, builtin_scenarios, load_scenario


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scenarios", help="list the built-in scenarios with their duration and description",
        description="The built-in emulator scenarios (`lambdarig simulate --scenario NAME`), with their "
                    "duration and one line of description.")
    parser.add_argument("--json", action="store_true", help="print one JSON list")
    parser.set_defaults(func=run)


def scenario_rows() -> list[tuple[str, float, str]]:
    """(name, duration in s, one-line description) of every built-in scenario, by name."""
    rows = []
    for name, first_line in builtin_scenarios().items():
        scenario = load_scenario(name)
        text = " ".join((scenario.description or first_line).split()) or first_comment(name) or scenario.name
        rows.append((name, scenario.duration_s, text))
    return rows


def first_comment(name: str) -> str:
    """The first comment line of a built-in scenario's file, for a file without a description."""
    for line in builtin_path(name).read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("#"):
            return line.strip().lstrip("#").strip()
    return ""


def run(args: argparse.Namespace) -> int:
    rows = scenario_rows()
    if args.json:
        print(json.dumps([{"name": n, "duration_s": d, "description": t} for n, d, t in rows]))
        return 0
    width = max(len(name) for name, _, _ in rows)
    durations = [f"{duration:g} s" for _, duration, _ in rows]
    dwidth = max(len(d) for d in durations)
    for (name, _, text), duration in zip(rows, durations):
        print(f"{name.ljust(width)}  {duration.rjust(dwidth)}  {text}")
    return 0
