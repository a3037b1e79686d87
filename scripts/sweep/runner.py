"""Worker side: run a batch of cases, one closed-loop simulation of the firmware on `sim:` each,
and turn each into a row. Runs in Dask worker processes (and in-process for replays and benchmarks).

Per process, loaded scenarios (with the case's fuel) and resolved settings are cached, so a batch
pays for loading and checking them once; a cached Scenario is safe to reuse because it keeps no run
state but a lookup cursor that seeks either way. A case that raises becomes a row with its error
(`error`: the exception's type and message); the batch goes on.
"""

from __future__ import annotations

import copy
import inspect
import json
import os
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from lambdarig import api
from lambdarig.choose_settings import settings_for_simulation
from lambdarig.controller.settings import Settings
from lambdarig.emulator.fuels import parse_fuel
from lambdarig.emulator.scenario import Scenario, load_scenario
from lambdarig.inputs import Caller

from .cases import CASE_FIELDS, code_id
from .metrics import CaseMetrics, false_faults

SWEEP = Caller("lambdarig sweep")


@cache
def _scenario(name: str, fuel: str | None) -> Scenario:
    scenario = load_scenario(name)
    if fuel is not None:
        scenario = copy.copy(scenario)   # the fuel axis: the emulator's exhaust is burnt from this fuel
        scenario.fuel = parse_fuel(fuel)
    return scenario


@cache
def _settings(element_name: str, overlay_items: tuple[tuple[str, Any], ...]) -> Settings:
    return settings_for_simulation(dict(overlay_items), element_name, SWEEP)


@cache
def _element_name(element: str) -> str:
    from .spec import element_label
    return element_label(element)


@cache
def _simulate_params() -> frozenset[str]:
    return frozenset(inspect.signature(api.simulate).parameters)


def case_settings(case: dict[str, Any]) -> dict[str, Any]:
    """The case's settings overlay, with the fuel axis told to the firmware too."""
    overlay = dict(case["settings"])
    if case["fuel"] is not None:
        overlay["conversion.fuel"] = case["fuel"]
    return overlay


def run_case(case: dict[str, Any], *, log: str | Path | None = None, plot: str | Path | None = None,
             warn: Callable[[str], None] = lambda text: None) -> dict[str, Any]:
    """One case's row: its parameters, its metrics, `error` ("" when it ran), `wall_s` and `worker`
    (run facts, not metrics: they differ from run to run)."""
    row: dict[str, Any] = {"key": case["key"], **{k: case[k] for k in CASE_FIELDS if k != "settings"}}
    row["settings"] = json.dumps(case["settings"], sort_keys=True)   # the overlay, replayable
    start = time.perf_counter()
    try:
        row.update(_run(case, log, plot, warn))
        row["error"] = ""
    except Exception as exc:   # a case that raises is a row with its error; the sweep goes on
        row["error"] = f"{type(exc).__name__}: {exc}"
    row["wall_s"] = time.perf_counter() - start
    row["worker"] = os.getpid()
    return row


def _run(case: dict[str, Any], log, plot, warn) -> dict[str, Any]:
    scenario = _scenario(case["scenario"], case["fuel"])
    settings = _settings(_element_name(case["element"]), tuple(sorted(case_settings(case).items())))
    metrics = CaseMetrics(settings.pump.nernst_target_v)
    extra: dict[str, Any] = {}
    for field, keyword in (("unit", "unit"), ("age_h", "age_h")):
        if case[field] is not None:
            if keyword not in _simulate_params():
                raise TypeError(f"this lambdarig's simulate() has no {keyword!r} argument")
            extra[keyword] = case[field]
    result = api.simulate(case["element"], scenario=scenario, duration_s=case["duration_s"], settings=settings,
                          seed=case["seed"], keep_samples=False, sinks=[metrics], log=log, plot=plot,
                          progress=lambda text: None, warn=warn, caller=SWEEP, **extra)
    summary = result.summary
    faults = summary["faults"]
    return {
        "time_to_ready_s": summary["time_to_ready_s"],
        "final_state": summary["final_state"],
        **metrics.result(),
        "faults": len(faults),
        "fault_codes": ",".join(f["code"] for f in faults),
        "false_faults": false_faults(faults, scenario.fault_windows),
        "late_ticks": summary["late_ticks"],
        "sim_s": summary["sim_s"],
    }


def run_batch(cases: list[dict[str, Any]], expected_code: str) -> list[dict[str, Any]]:
    """The rows of a batch. A worker whose installed code differs from the client's makes error rows
    (its rows would not be the rows the keys promise)."""
    mine = code_id()
    if mine != expected_code:
        problem = (f"CodeMismatch: this worker's lambdarig code {mine} differs from the client's {expected_code}; "
                   f"install the same tree on every worker")
        return [{"key": c["key"], **{k: c[k] for k in CASE_FIELDS if k != "settings"},
                 "settings": json.dumps(c["settings"], sort_keys=True), "error": problem, "wall_s": 0.0,
                 "worker": os.getpid()} for c in cases]
    return [run_case(case) for case in cases]
