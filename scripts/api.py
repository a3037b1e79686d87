"""The package API's two entry points: `simulate` (the firmware against an emulated element, in
virtual time) and `run` (the firmware on any front end: a bench rig, an instrument station, the
simulator). Both run one session (lambdarig.session) and return a SessionResult; the command line's
`simulate` and `run` call these same functions. Every input is checked before anything runs: a bad
one raises an input error (a ValueError) naming the argument, and nothing is written.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import Any

from lambdarig.controller.core import Controller
from lambdarig.controller.runtime import TelemetrySink
from lambdarig.controller.settings import load_settings
from lambdarig.emulator.ageing import check_age_h
from lambdarig.emulator.production import check_unit
from lambdarig.emulator.scenario import Scenario
from lambdarig.hal.frontend import FrontEnd
from lambdarig.hal.registry import open_frontend

from .choose_settings import SettingsArg, settings_for_frontend, settings_for_simulation
from .inputs import Caller, OutputPath, check_name, check_number, check_outputs
from .result import SessionResult
from .session import log_progress, run_session, warn_user

SIMULATE = Caller("lambdarig.simulate()")
RUN = Caller("lambdarig.run()")
SIM_DURATION_RANGE_S = (0.1, 86400.0)
RUN_DURATION_RANGE_S = (0.1, 7 * 86400.0)
LINK_LOSS_RANGE_S = (0.0, 86400.0)
RECONNECT_RANGE_S = (0.0, 3600.0)


def simulate(element: str = "lsu49", scenario: str | Scenario = "default", duration_s: float | None = None,
             settings: SettingsArg = None, seed: int | None = None, *, link_loss_s: float | None = None,
             element_overrides: list[str] | None = None, unit: int | None = None, age_h: float | None = 0.0,
             log: OutputPath = None, plot: OutputPath = None,
             keep_samples: bool = True, force_element: bool = False, should_stop: Callable[[], bool] | None = None,
             sinks: Sequence[TelemetrySink] = (), progress: Callable[[str], None] = log_progress,
             warn: Callable[[str], None] = warn_user, caller: Caller = SIMULATE) -> SessionResult:
    """Run the firmware against an emulated element through a scenario, in virtual time.

    element:           a built-in element name (`lambdarig element --list`) or an element .toml path
    scenario:          a built-in scenario name, a scenario .toml path or a Scenario
    duration_s:        simulated seconds (default: the scenario's duration)
    settings:          a Settings, a settings .toml path, a dict of changes to the element's defaults
                       ({"heater.target_temp_c": 760.0}), or None: the defaults for the element
    seed:              noise seed, an integer >= 0 (default: the scenario's)
    link_loss_s:       the emulated board stops answering at this simulated time
    element_overrides: ["section.key=value", ...] changes to the element file (what-if runs)
    unit:              production unit N of the element, drawn reproducibly from its tolerance section
                       (an integer >= 0; None: the nominal element)
    age_h:             operating hours the element has aged by (0: new)
    log, plot:         write the telemetry as CSV / a PNG plot (needs matplotlib) to these paths
    keep_samples:      keep the telemetry rows in the result (`.samples`, `.to_dataframe()`)
    force_element:     run settings made for another element than the emulated one (a warning
                       instead of an ElementMismatch)
    should_stop:       called at every telemetry tick; True ends the run early
    sinks:             extra telemetry sinks, called as sink(status, truth) at every telemetry tick
    progress, warn:    get what happens along the way / what to warn about (default: the
                       `lambdarig` logger / warnings.warn)
    caller:            who asks and its names for these arguments, for error messages (the
                       command line gives its own)
    """
    element = check_name(element, caller, "element", "an element name or .toml path")
    if not isinstance(scenario, Scenario):
        scenario = check_name(scenario, caller, "scenario", "a scenario name, a .toml path or a Scenario")
    if duration_s is not None:
        duration_s = check_number(duration_s, caller, "duration_s", *SIM_DURATION_RANGE_S)
    if link_loss_s is not None:
        link_loss_s = check_number(link_loss_s, caller, "link_loss_s", *LINK_LOSS_RANGE_S)
    log_path, plot_path = check_outputs(log, plot, caller)
    options: dict[str, Any] = {"scenario": scenario, "seed": seed, "link_loss_s": link_loss_s}
    if element_overrides is not None:
        options["element_overrides"] = element_overrides
    if unit is not None:
        options["unit"] = check_unit(unit, caller.source, caller.name("unit"))
    if age_h is not None and age_h != 0.0:
        options["age_h"] = check_age_h(age_h, caller.source, caller.name("age_h"))
    frontend = open_frontend(f"sim:{element}", **options)
    try:
        info = frontend.info()
        controller = Controller(settings_for_simulation(settings, info.element, caller))
    except BaseException:
        frontend.close()
        raise
    scenario_name, seed_used = info.details.get("scenario"), info.details.get("seed")
    if duration_s is None:
        duration_s = frontend.scenario_duration_s() or math.inf
    return run_session(frontend, controller, duration_s,
                       label={"element": info.element, "scenario": scenario_name, "seed": seed_used,
                              **_individual(info.details)},
                       title=f"lambdarig simulate: {info.element}, scenario {scenario_name}, seed {seed_used}",
                       log_path=log_path, plot_path=plot_path, keep_samples=keep_samples, sinks=sinks,
                       force_element=force_element, should_stop=should_stop, progress=progress, warn=warn)


def _individual(details: dict[str, Any]) -> dict[str, Any]:
    """The unit and age of the emulated element, for the run's label (only when not nominal and new)."""
    label: dict[str, Any] = {}
    if details.get("unit") is not None:
        label["unit"] = details["unit"]
    if details.get("age_h"):
        label["age_h"] = details["age_h"]
    return label


def run(hal_url: str | FrontEnd, settings: SettingsArg = None, duration_s: float | None = None, *,
        use_stored_settings: bool = True, reconnect_s: float = 5.0, log: OutputPath = None,
        plot: OutputPath = None, keep_samples: bool = True, force_element: bool = False,
        should_stop: Callable[[], bool] | None = None, sinks: Sequence[TelemetrySink] = (),
        progress: Callable[[str], None] = log_progress, warn: Callable[[str], None] = warn_user,
        caller: Caller = RUN, frontend_options: dict[str, Any] | None = None) -> SessionResult:
    """Run the firmware on a front end: a bench rig (`serial:///dev/lambdarig0`, `serial:auto`), an
    instrument station (`visa:station.toml`), the simulator (`sim:lsu49`), or an opened FrontEnd
    (closed at the end, like one opened here).

    settings:            a Settings, a settings .toml path, a dict of changes to the defaults, or
                         None: the settings stored on the device (unless use_stored_settings is
                         False), else the defaults for the element the front end reports
    duration_s:          seconds to run (default: a sim scenario's duration; elsewhere until Ctrl-C
                         or should_stop)
    reconnect_s:         after a lost link, wait this long for a front end that can reconnect
    frontend_options:    keyword options of the front end (e.g. {"rate_hz": 250} for serial)
    the others:          as for `simulate`
    """
    if duration_s is not None:
        duration_s = check_number(duration_s, caller, "duration_s", *RUN_DURATION_RANGE_S)
    reconnect_s = check_number(reconnect_s, caller, "reconnect_s", *RECONNECT_RANGE_S)
    log_path, plot_path = check_outputs(log, plot, caller)
    if isinstance(hal_url, FrontEnd):
        if frontend_options:
            raise caller.refuse("frontend_options", "need a URL: the front end given is already open")
        frontend = hal_url
    else:
        url = check_name(hal_url, caller, "hal_url", "a front-end URL (e.g. sim:lsu49, serial:auto, visa:station.toml)")
        if isinstance(settings, (str, os.PathLike)):
            load_settings(os.fspath(settings))   # refuse a bad settings file before touching any hardware
        frontend = open_frontend(url, **(frontend_options or {}))
    try:
        chosen, source = settings_for_frontend(settings, frontend, caller, use_stored_settings)
        controller = Controller(chosen)
    except BaseException:
        frontend.close()
        raise
    info = frontend.info()
    if duration_s is None:
        duration_s = frontend.scenario_duration_s() or math.inf
    progress(f"{info.name} ({info.kind}), settings from {source}")
    return run_session(frontend, controller, duration_s,
                       label={"frontend": info.name, "element": info.element or chosen.sensor.element},
                       title=f"lambdarig run: {info.name}", log_path=log_path, plot_path=plot_path,
                       reconnect_s=reconnect_s, keep_samples=keep_samples, sinks=sinks, force_element=force_element,
                       should_stop=should_stop, progress=progress, warn=warn)
