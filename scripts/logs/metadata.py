"""The run's metadata for a log: what ran, where, with which settings, when (absolute UTC). The CSV
and .msl logs carry it in a sidecar JSON next to the log (`run.csv.json`); MDF4 in its file header."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .channels import Channel

SIDECAR_SUFFIX = ".json"


def sidecar_path(log_path: Path) -> Path:
    """Where the metadata of a text log goes: the log's name with .json appended (run.csv.json)."""
    return log_path.with_name(log_path.name + SIDECAR_SUFFIX)


def run_metadata(*, info: Any, settings: Any, started: datetime | None = None,
                 header_lines: Sequence[str] = (), extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The metadata of a run on a front end (`info`: its FrontEndInfo) with these controller settings.
    Sensor unit and age (`unit`, `age_h`) come from the front end's details when it has them."""
    from lambdarig import __version__

    details = dict(info.details or {})
    started = started or datetime.now(UTC)
    meta: dict[str, Any] = {
        "lambdarig_version": __version__,
        "start_utc": started.astimezone(UTC).isoformat(timespec="microseconds"),
        "element": info.element or settings.sensor.element,
        "unit": details.get("unit"),
        "age_h": details.get("age_h"),
        "frontend": {"name": info.name, "kind": info.kind, "details": details},
        "rig_serial": details.get("serial_number") or None,
        "scenario": details.get("scenario"),
        "seed": details.get("seed"),
        "settings": settings.as_dict(),
        # The front end's own description of the setup in force (an instrument station's settings),
        # which the CSV once carried as "# " lines at its head.
        "frontend_header": [line[2:] if line.startswith("# ") else line for line in header_lines],
    }
    meta.update(extra or {})
    return meta


def with_channels(meta: dict[str, Any], channels: Sequence[Channel], log_format: str) -> dict[str, Any]:
    return {**meta, "format": log_format,
            "channels": [{"name": c.name, "unit": c.unit, "comment": c.comment} for c in channels]}


def finished(meta: dict[str, Any], rows: int) -> dict[str, Any]:
    """The metadata of a log that was closed normally: its row count and the UTC time it was closed.
    A sidecar without `end_utc` belongs to a log that did not close (the process was killed)."""
    return {**meta, "rows": rows, "end_utc": datetime.now(UTC).isoformat(timespec="microseconds")}


def to_json(meta: dict[str, Any]) -> str:
    # default=str: front-end details may hold values JSON has no type for (paths, enums).
    return json.dumps(_finite(meta), indent=2, default=str, allow_nan=False, sort_keys=False)


def write_sidecar(path: Path, meta: dict[str, Any]) -> None:
    """Write the JSON whole or not at all (a temporary file renamed over it); OSError as it comes."""
    text = to_json(meta) + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null (a setting of inf is kept as the string "inf")."""
    if isinstance(value, float):
        if value != value:
            return None
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
