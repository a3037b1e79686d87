"""The sweep file (TOML): its schema and its checks. Everything is checked before anything runs; a
bad file is one InputError naming the file, the field, the allowed values and the nearest valid name.

    name = "fuels"                 # optional, default: the file's stem
    duration_s = 20.0              # optional, default: each scenario's own duration
    batch_size = 8                 # optional, cases per Dask task (default: chosen from the count)
    metrics = ["time_to_ready_s", "in_tolerance_share"]   # optional, default: every metric

    [axes]                         # the cases are the product of the axes
    element = ["lsu49"]            # default ["lsu49"]; built-in names or element .toml paths
    scenario = ["default", "step-response"]     # default ["default"]; names or .toml paths
    fuel = ["gasoline", "e85"]     # optional: sets the scenario's fuel AND conversion.fuel
    variant = ["base", "warm"]     # optional, default: every [variants] table (or "base")
    seed = {from = 0, to = 4}      # default [0]; a list or an inclusive range
    units = {from = 0, to = 199}   # optional: production-spread unit draw (needs api support)
    age_h = [0.0, 2000.0]          # optional: element age in hours (needs api support)

    [variants.warm]                # settings overlays: changes to the element's defaults
    heater.target_temp_c = 800.0

    [[case]]                       # optional: only the product's cases matching one of these
    scenario = "default"
    seed = 3

See docs/sweep.md for the meaning of each axis and metric.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdarig import api
from lambdarig.common.errors import InputError, nearest
from lambdarig.common.tables import TableReader
from lambdarig.common.toml_file import read_toml_file
from lambdarig.common.validators import Place, show
from lambdarig.controller.settings import FUEL_CHOICES
from lambdarig.emulator.element_spec import element_names, load_element
from lambdarig.emulator.fuels import NAMED_FUELS
from lambdarig.emulator.scenario import builtin_scenarios, load_scenario

from .metrics import METRICS

TOP_KEYS = ("name", "duration_s", "batch_size", "metrics", "axes", "variants", "case")
AXES = ("element", "scenario", "fuel", "variant", "seed", "units", "age_h")
# Axes that need keyword arguments of lambdarig.api.simulate which older trees lack.
API_AXES = {"units": "unit", "age_h": "age_h"}
FUELS = tuple(name for name in NAMED_FUELS if name in FUEL_CHOICES)   # both sides know these names
DEFAULT_VARIANT = "base"
MAX_CASES = 1_000_000          # a sweep file that expands past this is most likely a mistake
BATCH_RANGE = (1, 10_000)
DURATION_RANGE_S = api.SIM_DURATION_RANGE_S
SEED_RANGE = (0, 2**63 - 1)
UNIT_RANGE = (0, 10**9)
AGE_RANGE_H = (0.0, 1e6)


@dataclass(frozen=True)
class SweepSpec:
    """A checked sweep file. Axis values are in file order; `variants` maps a name to its overlay
    ({"section.key": value}); `selections` are the [[case]] filters (empty: the whole product)."""

    name: str
    source: str
    duration_s: float | None
    batch_size: int | None
    metrics: tuple[str, ...]
    axes: dict[str, list[Any]]
    variants: dict[str, dict[str, Any]]
    selections: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)   # the file as read (kept with the results)


def api_supports(axis: str) -> bool:
    """Whether lambdarig.api.simulate takes the keyword an axis needs."""
    return API_AXES[axis] in inspect.signature(api.simulate).parameters


def load_sweep(path: str | Path) -> SweepSpec:
    source = str(path)
    data = read_toml_file(path, source)
    return sweep_from_dict(data, source, base_dir=Path(path).resolve().parent)


def sweep_from_dict(data: dict[str, Any], source: str, base_dir: Path | None = None) -> SweepSpec:
    base_dir = base_dir or Path.cwd()
    top = TableReader(data, source, keys=TOP_KEYS)
    name = top.text("name", default=Path(source).stem or "sweep")
    duration_s = top.optional_number("duration_s", *DURATION_RANGE_S, unit="s")
    batch_size = top.integer("batch_size", *BATCH_RANGE, default=None) if top.has("batch_size") else None
    metrics = _metrics(top.value("metrics", None), top.at("metrics"))
    variants = _variants(top.value("variants", {}), top.at("variants"))
    axes_table = top.value("axes", {})
    axes = _axes(axes_table, top.at("axes"), variants, base_dir)
    selections = _selections(top.value("case", []), top.at("case"), axes)
    top.finish()
    _check_settings(axes, variants, source)
    count = math.prod(len(v) for v in axes.values())
    if count > MAX_CASES:
        raise top.at("axes").refuse(f"expands to {count} cases", allowed=f"at most {MAX_CASES}")
    return SweepSpec(name=name, source=source, duration_s=duration_s, batch_size=batch_size, metrics=metrics,
                     axes=axes, variants=variants, selections=selections, raw=data)


def _metrics(value: Any, at: Place) -> tuple[str, ...]:
    if value is None:
        return tuple(METRICS)
    if not isinstance(value, list) or not value:
        raise at.refuse(f"{show(value)} is not a list of metric names", allowed=", ".join(METRICS))
    for i, item in enumerate(value):
        if item not in METRICS:
            raise at.item(i).refuse(f"unknown metric {show(item)}", allowed=", ".join(METRICS),
                                    suggestions=nearest(str(item), METRICS))
    return tuple(dict.fromkeys(value))


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"heater": {"target_temp_c": 800}} and {"heater.target_temp_c": 800} both give the latter."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _variants(value: Any, at: Place) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict):
        raise at.refuse(f"{show(value)} is not a table", allowed="[variants.NAME] tables of settings changes")
    variants = {}
    for name, overlay in value.items():
        if not isinstance(overlay, dict):
            raise at.key(name).refuse(f"{show(overlay)} is not a table",
                                      allowed="a table of settings changes, e.g. heater.target_temp_c = 800.0")
        variants[str(name)] = _flatten(overlay)
    return variants or {DEFAULT_VARIANT: {}}


def _values(value: Any, at: Place) -> list[Any]:
    """An axis: a non-empty list, or an inclusive integer range {from = A, to = B}."""
    if isinstance(value, dict):
        reader = TableReader(value, at.source, at.field, keys=("from", "to"))
        start = reader.integer("from", 0)
        stop = reader.integer("to", start)   # refused below `from`
        reader.finish()
        if stop - start >= MAX_CASES:
            raise at.key("to").refuse(f"the range holds {stop - start + 1} values", allowed=f"at most {MAX_CASES}")
        return list(range(start, stop + 1))
    if not isinstance(value, list) or not value:
        raise at.refuse(f"{show(value)} is not a non-empty list", allowed="a list of values or {from = A, to = B}")
    if len(set(map(repr, value))) != len(value):
        raise at.refuse("lists a value twice", allowed="each value once")
    return list(value)


def _axes(table: Any, at: Place, variants: dict[str, dict[str, Any]], base_dir: Path) -> dict[str, list[Any]]:
    if not isinstance(table, dict):
        raise at.refuse(f"{show(table)} is not a table", allowed="[axes] with " + ", ".join(AXES))
    for key in table:
        if key not in AXES:
            raise at.key(key).refuse("unknown axis", allowed=", ".join(AXES), suggestions=nearest(key, AXES))
    axes: dict[str, list[Any]] = {}
    axes["element"] = [_element(v, at.key("element").item(i), base_dir)
                       for i, v in enumerate(_values(table.get("element", ["lsu49"]), at.key("element")))]
    axes["scenario"] = [_scenario(v, at.key("scenario").item(i), base_dir)
                        for i, v in enumerate(_values(table.get("scenario", ["default"]), at.key("scenario")))]
    if "fuel" in table:
        axes["fuel"] = [_choice(v, at.key("fuel").item(i), FUELS, "fuel")
                        for i, v in enumerate(_values(table["fuel"], at.key("fuel")))]
    names = list(variants)
    axes["variant"] = [_choice(v, at.key("variant").item(i), names, "variant (a [variants] table)")
                       for i, v in enumerate(_values(table.get("variant", names), at.key("variant")))]
    axes["seed"] = [_integer(v, at.key("seed").item(i), *SEED_RANGE)
                    for i, v in enumerate(_values(table.get("seed", [0]), at.key("seed")))]
    if "units" in table:
        _needs_api(at.key("units"), "units")
        axes["units"] = [_integer(v, at.key("units").item(i), *UNIT_RANGE)
                         for i, v in enumerate(_values(table["units"], at.key("units")))]
    if "age_h" in table:
        _needs_api(at.key("age_h"), "age_h")
        axes["age_h"] = [_number(v, at.key("age_h").item(i), *AGE_RANGE_H, unit="h")
                         for i, v in enumerate(_values(table["age_h"], at.key("age_h")))]
    return axes


def _needs_api(at: Place, axis: str) -> None:
    if not api_supports(axis):
        raise at.refuse(f"this lambdarig's simulate() has no {API_AXES[axis]!r} argument (production spread "
                        f"and ageing are not in this build)", allowed=", ".join(a for a in AXES if a not in API_AXES))


def _choice(value: Any, at: Place, choices: list[str] | tuple[str, ...], what: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise at.refuse(f"unknown {what} {show(value)}", allowed=", ".join(choices),
                        suggestions=nearest(str(value), choices))
    return value


def _integer(value: Any, at: Place, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise at.refuse(f"{show(value)} is not an integer in range", allowed=f"an integer {lo} to {hi}")
    return value


def _number(value: Any, at: Place, lo: float, hi: float, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise at.refuse(f"{show(value)} is not a number in range", allowed=f"{lo:g} to {hi:g} {unit}")
    return float(value)


def _looks_like_path(text: str) -> bool:
    return text.endswith(".toml") or "/" in text or "\\" in text


def _named_or_file(value: Any, at: Place, base_dir: Path, kind: str, names: list[str],
                   load: Callable[[str], Any]) -> str:
    """A built-in name of this kind, or a file (relative to the sweep file) that `load` accepts."""
    if not isinstance(value, str) or not value:
        raise at.refuse(f"{show(value)} is not {'an' if kind[0] in 'aeiou' else 'a'} {kind} name",
                        allowed=", ".join(names))
    if _looks_like_path(value):
        path = str((base_dir / value).resolve())
        try:
            load(path)
        except InputError as exc:
            raise at.refuse(f"{kind} file {value}: {exc}") from None
        return path
    return _choice(value, at, names, kind)


def _element(value: Any, at: Place, base_dir: Path) -> str:
    return _named_or_file(value, at, base_dir, "element", list(element_names()), load_element)


def _scenario(value: Any, at: Place, base_dir: Path) -> str:
    return _named_or_file(value, at, base_dir, "scenario", list(builtin_scenarios()), load_scenario)


def _selections(value: Any, at: Place, axes: dict[str, list[Any]]) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise at.refuse(f"{show(value)} is not a list of tables", allowed="[[case]] tables of axis = value")
    selections = []
    for i, entry in enumerate(value):
        for key, item in entry.items():
            place = at.item(i).key(key)
            if key not in axes:
                raise place.refuse("not an axis of this sweep", allowed=", ".join(axes),
                                   suggestions=nearest(key, list(axes)))
            if item not in axes[key] and not (key in ("element", "scenario") and _resolved_in(item, axes[key])):
                raise place.refuse(f"{show(item)} is not a value of the axis",
                                   allowed=", ".join(map(str, axes[key][:20])),
                                   suggestions=nearest(str(item), [str(v) for v in axes[key]]))
        selections.append(dict(entry))
    return selections


def _resolved_in(item: Any, values: list[Any]) -> bool:
    return isinstance(item, str) and any(str(v).endswith("/" + item.lstrip("./")) for v in values)


def _check_settings(axes: dict[str, list[Any]], variants: dict[str, dict[str, Any]], source: str) -> None:
    """Every overlay must make valid settings for every element it runs on (refused here, not on a
    worker); a fuel axis and an overlay that sets conversion.fuel would contradict each other."""
    from lambdarig.choose_settings import settings_for_simulation
    from lambdarig.inputs import Caller

    for name in axes["variant"]:
        overlay = variants[name]
        if "fuel" in axes and "conversion.fuel" in overlay:
            raise InputError(source, f"variants.{name}.conversion.fuel",
                             "conflicts with the fuel axis (the fuel axis sets conversion.fuel)",
                             allowed="one of the two")
        for element in axes["element"]:
            caller = Caller(source, {"settings": f"variants.{name}", "element": "axes.element"})
            try:
                settings_for_simulation(dict(overlay), element_label(element), caller)
            except InputError as exc:
                # The settings' errors come as "FILE variants.x: heater.key: ..."; re-rooted under the
                # variant like every other error of the file ("FILE: variants.x.heater.key: ...").
                if exc.source != f"{source} variants.{name}":
                    raise
                raise exc.replace(source=source, field=f"variants.{name}.{exc.field}") from None


def element_label(element: str) -> str:
    """The element name the emulator reports (and the firmware profile it runs with): the built-in
    name; for a file, the name inside it."""
    return load_element(element).name if _looks_like_path(element) else element
