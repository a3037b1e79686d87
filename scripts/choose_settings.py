"""Which controller settings a session runs with, the same for the package API and the command line.

A caller's `settings` is a Settings object, a path to a settings .toml or a dict of changes
({"heater.target_temp_c": 760.0}) — both on top of the defaults for the element (the one the file or
dict names in sensor.element, else the element being run) — or None:

- simulation: the defaults for the emulated element (its profile's recommended values);
- a front end (`run`): the settings stored on the device (a bench rig's flash) unless the caller
  says not to use them, else the defaults for the element the front end reports, adapted to what
  the front end can do (a slower station loop, no Ri).

Errors name the caller's own words for the inputs (`settings` in Python, `--settings` on the
command line; see inputs.Caller).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from lambdarig.controller.profiles import profile_file_settings, settings_for_element
from lambdarig.controller.settings import (
    ELEMENT_CHOICES,
    PROFILE_FILE,
    SCHEMA,
    Settings,
    SettingsError,
    load_settings_changes,
    settings_from_toml_text,
)
from lambdarig.hal.frontend import FrontEnd
from lambdarig.hal.types import FrontEndInfo

from .inputs import Caller

SettingsArg = Settings | str | os.PathLike[str] | dict[str, Any] | None
SETTINGS_FORMS = "a Settings, a settings .toml path, a dict like {'heater.target_temp_c': 760.0}, or None"


def _changes(element: str, values: dict[str, Any], caller: Caller) -> Settings:
    """The defaults for the element (or for the dict's own sensor.element), with the dict's changes."""
    source = f"{caller.source} {caller.name('settings')}"
    for key, value in values.items():
        if not isinstance(key, str):
            raise caller.refuse("settings", f"dict keys must be 'section.key' names, got {key!r}")
        if "." not in key and isinstance(value, dict):
            raise SettingsError(key, "a section given as a nested dict", source,
                                allowed="'section.key' names, e.g. {'heater.target_temp_c': 800.0}",
                                suggestions=[f"{key}.{name}" for name in list(value)[:3]])
    base = values.get("sensor.element", element)
    defaults = defaults_for_element(base, caller, "settings")   # refuses an element without a profile
    return Settings({**defaults.as_dict(), **profile_file_settings(values.get(PROFILE_FILE)), **values}, source)


def _from_file(path: str, element: str) -> Settings:
    """A settings file on top of the defaults for the element it names, else for the element being
    run, the way a dict of changes is: a file need only list what it changes. An element without a
    sensor profile (a custom element file) has no recommended values: the schema's defaults."""
    values = load_settings_changes(path)   # SettingsError naming the file and the field
    base = values.get("sensor.element", element)
    defaults = settings_for_element(base).as_dict() if base in ELEMENT_CHOICES else {}
    # A profile of the user's brings its own [settings] (a calibration stored there), under the file's.
    return Settings({**defaults, **profile_file_settings(values.get(PROFILE_FILE)), **values}, path)


def resolve_settings(settings: SettingsArg, element: str, caller: Caller) -> Settings | None:
    """The caller's settings as a Settings, or None when it gave none (the caller picks defaults).
    A dict of changes applies on top of the defaults for `element`."""
    if settings is None or isinstance(settings, Settings):
        return settings
    if isinstance(settings, (str, os.PathLike)):
        return _from_file(os.fspath(settings), element)
    if isinstance(settings, dict):
        return _changes(element, settings, caller)
    raise caller.refuse("settings", f"must be {SETTINGS_FORMS}; got {type(settings).__name__}")


def defaults_for_element(element: str, caller: Caller, argument: str) -> Settings:
    """The defaults for an element with a sensor profile; an error naming `argument` otherwise."""
    if element not in ELEMENT_CHOICES:
        raise caller.refuse(argument, f"the firmware has no sensor profile for element {element!r}; profiles: "
                                      f"{', '.join(ELEMENT_CHOICES)}; give {caller.name('settings')} with "
                                      f"sensor.profile_file = PROFILE.toml (made by `lambdarig calibrate "
                                      f"ELEMENT.toml --out PROFILE.toml`) or sensor.element set to one")
    return settings_for_element(element)


def settings_for_simulation(settings: SettingsArg, element: str, caller: Caller) -> Settings:
    """The caller's settings, else the defaults for the emulated element."""
    given = resolve_settings(settings, element, caller)
    return given if given is not None else defaults_for_element(element, caller, "element")


def settings_for_frontend(settings: SettingsArg, frontend: FrontEnd, caller: Caller, use_stored: bool = True,
                          warn: Callable[[str], None] | None = None) -> tuple[Settings, str]:
    """(settings, where they came from, in words: the file, "device", "defaults", ...) for a front end.

    Defaults are adapted to the front end (adapt_to_frontend) and the words say how. Settings the
    caller gave or the device keeps are used as they are, except loop rates faster than the front
    end's loop (a station's loop_hz): those are lowered to it, and `warn` is told (the firmware
    cannot tick faster than the station is read; at 500 Hz on a 50 Hz station every tick is late)."""
    info = frontend.info()
    if isinstance(settings, dict):
        # Changes to the defaults this front end would run with: adapted like them.
        element = info.element or Settings().sensor.element
        return _adapted(_changes(element, settings, caller), info, "defaults with the changes given")
    given = resolve_settings(settings, info.element, caller)
    source = ""
    if given is not None:
        source = str(settings) if isinstance(settings, (str, os.PathLike)) else "the Settings given"
    elif use_stored:
        given = stored_settings(frontend)
        source = "device"
    if given is None:
        base = defaults_for_element(info.element, caller, "settings") if info.element else Settings()
        return _adapted(base, info, "defaults")
    rates = rate_changes(given, info)
    if not rates:
        return given, source
    capped = given.changed(**{name.replace(".", "__"): value for name, value in rates.items()})
    if warn is not None:
        warn(f"{source}: the {info.kind} front end's loop runs at {_loop_hz(info):g} Hz (loop_hz), so the "
             f"firmware cannot tick faster: {changes_text(given, capped)}")
    return capped, f"{source} (rates lowered to the {_loop_hz(info):g} Hz loop)"


def _adapted(settings: Settings, info: FrontEndInfo, source: str) -> tuple[Settings, str]:
    adapted = adapt_to_frontend(settings, info)
    if adapted == settings:
        return settings, source
    return adapted, f"{source}, adapted to the {info.kind} front end: {changes_text(settings, adapted)}"


def changes_text(before: Settings, after: Settings) -> str:
    """'rates.pump_hz 500 -> 50 Hz, heater.temp_source ri -> ri+heater': what differs, in schema order."""
    parts = []
    for field in SCHEMA:
        old, new = before.get(field.name), after.get(field.name)
        if old != new:
            unit = f" {field.unit}" if field.unit else ""
            shown = [f"{v:g}" if isinstance(v, float) else str(v) for v in (old, new)]
            parts.append(f"{field.name} {shown[0]} -> {shown[1]}{unit}")
    return ", ".join(parts)


def stored_settings(frontend: FrontEnd) -> Settings | None:
    """The settings a device keeps: its settings image, decoded on the firmware side and refused
    when made for another device; else its settings as TOML text; None when it keeps none."""
    image = frontend.stored_settings_image()
    if image is not None:
        # Imported here: the image format (lambdarig.protocol) is needed only for a device's image.
        from lambdarig.controller.settings_image import decode_image
        serial = frontend.info().details.get("serial_number") or None
        return decode_image(image, serial)
    text = frontend.stored_settings()
    if text is not None:
        return settings_from_toml_text(text, f"{frontend.info().name} (stored settings)")
    return None


def _loop_hz(info: FrontEndInfo) -> float | None:
    loop_hz = info.details.get("loop_hz") if info.details else None
    return float(loop_hz) if loop_hz else None


def rate_changes(settings: Settings, info: FrontEndInfo) -> dict[str, float]:
    """The loop rates a front end's slower loop needs ({"rates.pump_hz": 50.0, ...}); {} when the
    settings' rates fit it. The heater loop at most a fifth of the pump loop (a choice: the heater's
    thermal time constant is seconds, and its supply is read every few samples)."""
    loop_hz = _loop_hz(info)
    if not loop_hz or loop_hz >= settings.rates.pump_hz:
        return {}
    return {"rates.pump_hz": loop_hz, "rates.heater_hz": min(settings.rates.heater_hz, loop_hz / 5),
            "rates.telemetry_hz": min(settings.rates.telemetry_hz, loop_hz)}


def adapt_to_frontend(settings: Settings, info: FrontEndInfo) -> Settings:
    """Settings for what the front end can do: a station that runs its loop slower than the
    firmware's 500 Hz (VISA) sets the rates; without Ri the heater's resistance is the thermometer."""
    changes: dict[str, Any] = {name.replace(".", "__"): value for name, value in rate_changes(settings, info).items()}
    if not info.measures_ri:
        changes["heater__temp_source"] = "ri+heater"
    return settings.changed(**changes) if changes else settings
