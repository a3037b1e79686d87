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
from lambdarig.controller.settings import FUEL_CHOICES, load_settings
from lambdarig.emulator.ageing import check_age_h
from lambdarig.emulator.production import check_unit
from lambdarig.emulator.scenario import Scenario
from lambdarig.hal.frontend import FrontEnd
from lambdarig.hal.registry import open_frontend

from .choose_settings import SettingsArg, settings_for_frontend, settings_for_simulation
from .inputs import Caller, OutputPath, check_name, check_number, check_outputs
from .pacing import REALTIME_FACTOR_RANGE, RealtimePacer
from .result import SessionResult
from .session import individual, log_progress, run_session, warn_user

SIMULATE = Caller("lambdarig.simulate()")
RUN = Caller("lambdarig.run()")
SIM_DURATION_RANGE_S = (0.1, 86400.0)
RUN_DURATION_RANGE_S = (0.1, 7 * 86400.0)
LINK_LOSS_RANGE_S = (0.0, 86400.0)
RECONNECT_RANGE_S = (0.0, 3600.0)
CAN_PACE_RANGE = (0.1, 1000.0)
REALTIME_LAG_WARN_S = 0.25   # a paced run this far behind the wall clock says so (a busy machine)


def emulator_build() -> str:
    """How this process runs the emulator: "built" (at install, lambdarig/aot.py), else "python: "
    and why the built modules are not used (LAMBDARIG_NO_JIT, an edit since the install, no build),
    or "numba step kernel, the rest as python: " and why."""
    from lambdarig.emulator import jit

    from . import aot
    how = aot.how_the_emulator_runs()
    if how != "built" and jit.numba_compiled_a_kernel():
        return "numba step kernel, the rest as " + how
    return how


def warn_fuel_mismatch(burnt: str, told: str, warn: Callable[[str], None]) -> None:
    """A scenario that burns one fuel while the firmware is told another reads off without a word
    otherwise (the new-user trial: E85 exhaust read as gasoline, 0.66 % instead of 0.46 %). A custom
    fuel on either side is not compared: its name says nothing of its H/C."""
    if burnt in FUEL_CHOICES and burnt != told and "custom" not in (burnt, told):
        warn(f"the scenario burns {burnt} but the firmware is told {told} (conversion.fuel): lambda and AFR "
             f"read as for {told}; set conversion.fuel = \"{burnt}\" in the settings to tell it")


def simulate(element: str | Sequence[str] = "lsu49", scenario: str | Scenario = "default",
             duration_s: float | None = None, settings: SettingsArg | Sequence[SettingsArg] = None,
             seed: int | None = None, *, link_loss_s: float | None = None,
             element_overrides: list[str] | None = None, unit: int | Sequence[int | None] | None = None,
             age_h: float | Sequence[float] | None = 0.0,
             log: OutputPath = None, plot: OutputPath = None,
             keep_samples: bool = True, force_element: bool = False, should_stop: Callable[[], bool] | None = None,
             sinks: Sequence[TelemetrySink] = (), progress: Callable[[str], None] = log_progress,
             warn: Callable[[str], None] = warn_user, caller: Caller = SIMULATE, can: str | None = None,
             can_pace: float = 1.0, realtime: float | None = None) -> SessionResult:
    """Run the firmware against an emulated element through a scenario, in virtual time.

    element:           a built-in element name (`lambdarig element --list`) or an element .toml path;
                       a list of 2 to 4 of them: that many sensors in one run (lambdarig.channels_api)
    scenario:          a built-in scenario name, a scenario .toml path or a Scenario
    duration_s:        simulated seconds (default: the scenario's duration)
    settings:          a Settings, a settings .toml path, a dict of changes to the element's defaults
                       ({"heater.target_temp_c": 760.0}), or None: the defaults for the element;
                       with several elements, one for all or a list of one per element
    seed:              noise seed, an integer >= 0 (default: the scenario's)
    link_loss_s:       the emulated board stops answering at this simulated time
    element_overrides: ["section.key=value", ...] changes to the element file (what-if runs)
    unit:              production unit N of the element, drawn reproducibly from its tolerance section
                       (an integer >= 0; None: the nominal element); with several elements, one for
                       all or a list of one per element
    age_h:             operating hours the element has aged by (0: new); with several elements, one
                       for all or a list of one per element
    log, plot:         write the telemetry log (format by suffix: .csv, .mf4/.mdf, .msl; see
                       lambdarig.logs) / a PNG plot (needs matplotlib) to these paths
    keep_samples:      keep the telemetry rows in the result (`.samples`, `.to_dataframe()`)
    force_element:     run settings made for another element than the emulated one (a warning
                       instead of an ElementMismatch)
    should_stop:       called at every telemetry tick; True ends the run early
    sinks:             extra telemetry sinks, called as sink(status, truth) at every telemetry tick
    progress, warn:    get what happens along the way / what to warn about (default: the
                       `lambdarig` logger / warnings.warn)
    caller:            who asks and its names for these arguments, for error messages (the
                       command line gives its own)
    can:               send the telemetry as CAN frames (settings [can]) to a python-can bus
                       ("virtual:chan0", "socketcan:can0", ...) or a log file ("run.asc", ".blf",
                       ".log"); an ECU on a bus may hold the heater (can.heater_allow = "can"); with
                       several elements, channel i sends with CAN index [can] index + i and every
                       channel takes the ECU's allow (lambdarig.can_channels)
    can_pace:          on a live bus the simulation runs at this multiple of real time (1: real time)
    realtime:          pace the run to the wall clock at this factor (1.0: real time; None: as fast
                       as the CPU allows), to watch it live (lambdarig.pacing)
    """
    pacer = None
    if realtime is not None:
        pacer = RealtimePacer(check_number(realtime, caller, "realtime", *REALTIME_FACTOR_RANGE, unit="x real time"))
        sinks = [*sinks, pacer]   # last: the other sinks see each tick before the pacer waits
    if not isinstance(scenario, Scenario):
        scenario = check_name(scenario, caller, "scenario", "a scenario name, a .toml path or a Scenario")
    if duration_s is not None:
        duration_s = check_number(duration_s, caller, "duration_s", *SIM_DURATION_RANGE_S)
    if link_loss_s is not None:
        link_loss_s = check_number(link_loss_s, caller, "link_loss_s", *LINK_LOSS_RANGE_S)
    can_pace = check_number(can_pace, caller, "can_pace", *CAN_PACE_RANGE, unit="x real time")
    if isinstance(element, (list, tuple)):
        if len(element) != 1:   # several sensors in one run (their modules imported only for one)
            from .channels_api import simulate_channels
            return simulate_channels(element, scenario, duration_s, settings, seed, link_loss_s=link_loss_s,
                                     element_overrides=element_overrides, log=log, plot=plot,
                                     keep_samples=keep_samples, force_element=force_element, should_stop=should_stop,
                                     sinks=sinks, progress=progress, warn=warn, caller=caller, unit=unit,
                                     age_h=age_h, can=can, can_pace=can_pace)
        element = element[0]
    settings = one_setting(settings, caller)
    unit, age_h = one_setting(unit, caller, "unit"), one_setting(age_h, caller, "age_h")  # type: ignore[assignment]
    element = check_name(element, caller, "element", "an element name or .toml path")
    log_path, plot_path = check_outputs(log, plot, caller)
    options: dict[str, Any] = {"scenario": scenario, "seed": seed, "link_loss_s": link_loss_s}
    if element_overrides is not None:
        options["element_overrides"] = element_overrides
    if unit is not None:
        options["unit"] = check_unit(unit, caller.source, caller.name("unit"))
    if age_h is not None and age_h != 0.0:
        options["age_h"] = check_age_h(age_h, caller.source, caller.name("age_h"))
    if can is not None:   # the CAN modules (frames, bus, lambdarig.protocol) only for a CAN output
        from .can_output import CanOutput, can_summary, open_can
    port = None if can is None else open_can(can, caller.source, caller.name("can"))
    try:
        frontend = open_frontend(f"sim:{element}", **options)
        try:
            info = frontend.info()
            controller = Controller(settings_for_simulation(settings, info.element, caller))
        except BaseException:
            frontend.close()
            raise
        scenario_name, seed_used = info.details.get("scenario"), info.details.get("seed")
        warn_fuel_mismatch(str(info.details.get("fuel", "")), controller.settings.conversion.fuel, warn)
        if duration_s is None:
            duration_s = frontend.scenario_duration_s() or math.inf
        output = None if port is None else CanOutput(port, controller, virtual_time=info.virtual_time, pace=can_pace,
                                                     progress=progress)
        result = run_session(frontend, controller, duration_s,
                             label={"element": info.element, "scenario": scenario_name, "seed": seed_used,
                                    **individual(info.details), "emulator": emulator_build()},
                             title=f"lambdarig simulate: {info.element}, scenario {scenario_name}, seed {seed_used}",
                             log_path=log_path, plot_path=plot_path, keep_samples=keep_samples,
                             sinks=[*sinks, *([output] if output else [])], force_element=force_element,
                             should_stop=should_stop, progress=progress, warn=warn)
    finally:
        if port is not None:
            port.close()
    if output is not None:
        result.summary["can"] = can_summary(output)
    if pacer is not None and pacer.max_lag_s > REALTIME_LAG_WARN_S:
        warn(f"real time not held: the simulation fell up to {pacer.max_lag_s:.2f} s behind the wall clock")
    return result


def run(hal_url: str | FrontEnd | Sequence[str | FrontEnd], settings: SettingsArg | Sequence[SettingsArg] = None,
        duration_s: float | None = None, *,
        use_stored_settings: bool = True, reconnect_s: float = 5.0, log: OutputPath = None,
        plot: OutputPath = None, keep_samples: bool = True, force_element: bool = False,
        should_stop: Callable[[], bool] | None = None, sinks: Sequence[TelemetrySink] = (),
        progress: Callable[[str], None] = log_progress, warn: Callable[[str], None] = warn_user,
        caller: Caller = RUN, frontend_options: dict[str, Any] | None = None, can: str | None = None,
        can_pace: float = 1.0) -> SessionResult:
    """Run the firmware on a front end: a bench rig (`serial:///dev/lambdarig0`, `serial:auto`), an
    instrument station (`visa:station.toml`), the simulator (`sim:lsu49`), or an opened FrontEnd
    (closed at the end, like one opened here); a list of 2 to 4 URLs: that many sensors in one run
    (lambdarig.channels_api).

    settings:            a Settings, a settings .toml path, a dict of changes to the defaults, or
                         None: the settings stored on the device (unless use_stored_settings is
                         False), else the defaults for the element the front end reports
    duration_s:          seconds to run (default: a sim scenario's duration; elsewhere until Ctrl-C
                         or should_stop)
    reconnect_s:         after a lost link, wait this long for a front end that can reconnect
    frontend_options:    keyword options of the front end (e.g. {"rate_hz": 250} for serial)
    can, can_pace:       CAN output and the ECU's heater allow, as for `simulate`
    the others:          as for `simulate`
    """
    if duration_s is not None:
        duration_s = check_number(duration_s, caller, "duration_s", *RUN_DURATION_RANGE_S)
    reconnect_s = check_number(reconnect_s, caller, "reconnect_s", *RECONNECT_RANGE_S)
    can_pace = check_number(can_pace, caller, "can_pace", *CAN_PACE_RANGE, unit="x real time")
    if isinstance(hal_url, (list, tuple)):
        if len(hal_url) != 1:   # several sensors in one run (their modules imported only for one)
            from .channels_api import run_on_channels
            return run_on_channels(hal_url, settings, duration_s, use_stored_settings=use_stored_settings, log=log,
                                   plot=plot, keep_samples=keep_samples, force_element=force_element,
                                   should_stop=should_stop, sinks=sinks, progress=progress, warn=warn, caller=caller,
                                   frontend_options=frontend_options, can=can, can_pace=can_pace)
        hal_url = hal_url[0]
    settings = one_setting(settings, caller)
    log_path, plot_path = check_outputs(log, plot, caller)
    if can is not None:   # the CAN modules (frames, bus, lambdarig.protocol) only for a CAN output
        from .can_output import can_summary, open_can
    port = None if can is None else open_can(can, caller.source, caller.name("can"))
    try:
        result, output = _run(hal_url, settings, duration_s, use_stored_settings, reconnect_s, log_path, plot_path,
                              keep_samples, force_element, should_stop, sinks, progress, warn, caller,
                              frontend_options, port, can_pace)
    finally:
        if port is not None:
            port.close()
    if output is not None:
        result.summary["can"] = can_summary(output)
    return result


def _run(hal_url, settings, duration_s, use_stored_settings, reconnect_s, log_path, plot_path, keep_samples,
         force_element, should_stop, sinks, progress, warn, caller, frontend_options, port, can_pace):
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
        chosen, source = settings_for_frontend(settings, frontend, caller, use_stored_settings, warn=warn)
        controller = Controller(chosen)
    except BaseException:
        frontend.close()
        raise
    info = frontend.info()
    if duration_s is None:
        duration_s = frontend.scenario_duration_s() or math.inf
    progress(f"{info.name} ({info.kind}), settings from {source}")
    if port is not None:
        from .can_output import CanOutput
    output = None if port is None else CanOutput(port, controller, virtual_time=info.virtual_time, pace=can_pace,
                                                 progress=progress)
    result = run_session(frontend, controller, duration_s,
                         label={"frontend": info.name, "element": info.element or chosen.sensor.element},
                         title=f"lambdarig run: {info.name}", log_path=log_path, plot_path=plot_path,
                         reconnect_s=reconnect_s, keep_samples=keep_samples,
                         sinks=[*sinks, *([output] if output else [])], force_element=force_element,
                         should_stop=should_stop, progress=progress, warn=warn)
    return result, output


def one_setting(settings: Any, caller: Caller, argument: str = "settings") -> SettingsArg:
    """One sensor's settings (or unit, age_h): a list of one is that one; more are for several sensors."""
    if isinstance(settings, (list, tuple)):
        if len(settings) != 1:
            raise caller.refuse(argument, f"{len(settings)} given for 1 sensor: give one (several are for "
                                          f"several sensors, one each)")
        return settings[0]
    return settings
