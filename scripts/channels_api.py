"""The package API for several sensors in one run: `lambdarig.simulate(element=[A, B], ...)` and
`lambdarig.run([URL1, URL2], ...)` come here (lambdarig.api hands over when given more than one).
Each sensor is a channel (lambdarig.channels_session): its own front end and firmware instance, the
same scenario (simulate); one settings argument for all or a list of one per channel. Channel i's
noise seed is the run's seed + i, so two channels of the same element are two sensors, not one
sensor twice.
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

from .channels_session import MAX_CHANNELS, ChannelSession, run_channels
from .choose_settings import SettingsArg, settings_for_frontend, settings_for_simulation
from .inputs import Caller, OutputPath, check_name, check_outputs
from .result import SessionResult
from .session import individual


def check_channel_count(names: Sequence[Any], caller: Caller, argument: str) -> list[Any]:
    names = list(names)
    if not 1 <= len(names) <= MAX_CHANNELS:
        raise caller.refuse(argument, f"{len(names)} given; a run has 1 to {MAX_CHANNELS} sensors")
    return names


def per_channel(settings: Any, count: int, caller: Caller, argument: str = "settings") -> list[Any]:
    """The settings (or unit, age_h) argument of each channel: one for all, or a list of one per channel."""
    if isinstance(settings, (list, tuple)):
        if len(settings) != count:
            raise caller.refuse(argument, f"{len(settings)} given for {count} sensors: give one for all, "
                                          f"or one per sensor in the same order")
        return list(settings)
    return [settings] * count


def run_with_can(channels: list[ChannelSession], duration_s: float, can: str | None, can_pace: float,
                 caller: Caller, progress: Callable[[str], None], **run_options: Any) -> SessionResult:
    """run_channels with every channel on one CAN bus (lambdarig.can_channels), when can is given.
    The indices are checked before the bus is opened; the channels are closed if anything fails
    before the run."""
    if can is None:
        return run_channels(channels, duration_s, progress=progress, **run_options)
    # The CAN modules (frames, bus, lambdarig.protocol) only for a CAN output: start-up stays short.
    from lambdarig.hal.can_bus import CanPort

    from .can_channels import channel_can_indices, channel_outputs, channels_can_summary

    try:
        indices = channel_can_indices([ch.controller for ch in channels], caller)
        port = CanPort(str(can), caller.source, caller.name("can"))
    except BaseException:
        for ch in channels:
            ch.frontend.close()
        raise
    try:
        virtual_time = channels[0].frontend.info().virtual_time
        outputs = channel_outputs(port, [ch.controller for ch in channels], indices, virtual_time=virtual_time,
                                  pace=can_pace, progress=progress)
        for ch, output in zip(channels, outputs):
            ch.sinks.append(output)
        progress(f"CAN {port.url}: channels on index " + ", ".join(str(i) for i in indices))
        result = run_channels(channels, duration_s, progress=progress, **run_options)
    finally:
        port.close()
    result.summary["can"] = channels_can_summary(outputs)
    return result


def _open_all(opened: list[ChannelSession], open_one: Callable[[int], ChannelSession], count: int) -> None:
    """Open channel after channel; on any failure close those already open and re-raise."""
    try:
        for i in range(count):
            opened.append(open_one(i))
    except BaseException:
        for ch in opened:
            ch.frontend.close()
        raise


def simulate_channels(elements: Sequence[str], scenario: str | Scenario, duration_s: float | None,
                      settings: SettingsArg | Sequence[SettingsArg], seed: int | None, *, link_loss_s: float | None,
                      element_overrides: list[str] | None, log: OutputPath, plot: OutputPath, keep_samples: bool,
                      force_element: bool, should_stop: Callable[[], bool] | None, sinks: Sequence[TelemetrySink],
                      progress: Callable[[str], None], warn: Callable[[str], None], caller: Caller,
                      unit: Any = None, age_h: Any = 0.0, can: str | None = None,
                      can_pace: float = 1.0) -> SessionResult:
    """`lambdarig.simulate` with several elements (checked there but for the elements themselves).
    unit, age_h: one for all or a list of one per element (None / 0: nominal, new)."""
    elements = [check_name(e, caller, "element", "an element name or .toml path")
                for e in check_channel_count(elements, caller, "element")]
    each_settings = per_channel(settings, len(elements), caller)
    units = [check_unit(u, caller.source, caller.name("unit"))
             for u in per_channel(unit, len(elements), caller, "unit")]
    ages = [0.0 if a is None else check_age_h(a, caller.source, caller.name("age_h"))
            for a in per_channel(age_h, len(elements), caller, "age_h")]
    log_path, plot_path = check_outputs(log, plot, caller)
    channels: list[ChannelSession] = []
    base_seed = [seed]   # the scenario's own seed once channel 0 is open, when none is given

    def open_one(i: int) -> ChannelSession:
        given = base_seed[0]
        options: dict[str, Any] = {"scenario": scenario, "seed": None if given is None else given + i,
                                   "link_loss_s": link_loss_s}
        if element_overrides is not None:
            options["element_overrides"] = element_overrides
        if units[i] is not None:
            options["unit"] = units[i]
        if ages[i]:
            options["age_h"] = ages[i]
        frontend = open_frontend(f"sim:{elements[i]}", **options)
        try:
            info = frontend.info()
            if given is None:
                base_seed[0] = int(info.details.get("seed") or 0)
            controller = Controller(settings_for_simulation(each_settings[i], info.element, caller))
        except BaseException:
            frontend.close()
            raise
        label = {"element": info.element, "scenario": info.details.get("scenario"), "seed": info.details.get("seed"),
                 **individual(info.details)}
        return ChannelSession(i, frontend, controller, label, sinks=list(sinks) if i == 0 else [])

    _open_all(channels, open_one, len(elements))
    if duration_s is None:
        duration_s = channels[0].frontend.scenario_duration_s() or math.inf
    seeds = ", ".join(str(ch.label.get("seed")) for ch in channels)
    title = f"lambdarig simulate: {len(channels)} sensors, scenario {channels[0].label.get('scenario')}, seeds {seeds}"
    return run_with_can(channels, duration_s, can, can_pace, caller, progress, log_path=log_path, plot_path=plot_path,
                        title=title, keep_samples=keep_samples, force_element=force_element,
                        should_stop=should_stop, warn=warn)


def run_on_channels(urls: Sequence[str | FrontEnd], settings: SettingsArg | Sequence[SettingsArg],
                    duration_s: float | None, *, use_stored_settings: bool,
                    log: OutputPath, plot: OutputPath, keep_samples: bool, force_element: bool,
                    should_stop: Callable[[], bool] | None, sinks: Sequence[TelemetrySink],
                    progress: Callable[[str], None], warn: Callable[[str], None], caller: Caller,
                    frontend_options: dict[str, Any] | None, can: str | None = None,
                    can_pace: float = 1.0) -> SessionResult:
    """`lambdarig.run` with several front-end URLs (or opened FrontEnds, closed at the end like the
    ones opened here): one channel each, in the order given. No
    reconnecting: a lost channel ends the run for all, every output safe."""
    urls = [u if isinstance(u, FrontEnd) else
            check_name(u, caller, "hal_url", "a front-end URL (e.g. sim:lsu49, serial:auto, visa:station.toml)")
            for u in check_channel_count(urls, caller, "hal_url")]
    if frontend_options and any(isinstance(u, FrontEnd) for u in urls):
        raise caller.refuse("frontend_options", "need URLs: a front end given is already open")
    each_settings = per_channel(settings, len(urls), caller)
    for given in each_settings:
        if isinstance(given, (str, os.PathLike)):
            load_settings(os.fspath(given))   # refuse a bad settings file before touching any hardware
    log_path, plot_path = check_outputs(log, plot, caller)
    channels: list[ChannelSession] = []

    def open_one(i: int) -> ChannelSession:
        given = urls[i]
        frontend = given if isinstance(given, FrontEnd) else open_frontend(given, **(frontend_options or {}))
        try:
            chosen, source = settings_for_frontend(each_settings[i], frontend, caller, use_stored_settings)
            controller = Controller(chosen)
            info = frontend.info()
        except BaseException:
            frontend.close()
            raise
        progress(f"channel {i}: {info.name} ({info.kind}), settings from {source}")
        label = {"frontend": info.name, "element": info.element or chosen.sensor.element}
        return ChannelSession(i, frontend, controller, label, sinks=list(sinks) if i == 0 else [])

    _open_all(channels, open_one, len(urls))
    if duration_s is None:
        duration_s = channels[0].frontend.scenario_duration_s() or math.inf
    title = "lambdarig run: " + ", ".join(str(ch.label["frontend"]) for ch in channels)
    return run_with_can(channels, duration_s, can, can_pace, caller, progress, log_path=log_path, plot_path=plot_path,
                        title=title, keep_samples=keep_samples, force_element=force_element,
                        should_stop=should_stop, warn=warn)
