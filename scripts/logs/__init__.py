"""Run logs: the telemetry written to a file, in the format the `--log` file's suffix names.

    .csv          CSV, pandas.read_csv(path) reads it as it is; metadata in run.csv.json
    .mf4, .mdf    ASAM MDF 4.10 through asammdf (the `mdf` extra); metadata in the file header
    .msl          MegaLogViewer / TunerStudio text log; metadata in run.msl.json

Every format has the same channels (lambdarig.logs.channels.CHANNELS). A writer is a telemetry sink
of the session layer, beside the plot recorder; see docs/simulate.md for the formats.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .base import CHUNK_ROWS, LogWriter, OutputError
from .channels import (
    CHANNELS,
    Channel,
    ChannelsTaker,
    RowTaker,
    channel_prefix,
    channels_for,
    channels_taker,
    prefixed,
)
from .csv_log import CsvLog
from .mdf_log import MDF_INSTALL_HINT, MdfLog, check_mdf_available, read_metadata
from .metadata import run_metadata, sidecar_path
from .msl_log import MslLog

# suffix -> writer. Which writers write a sidecar JSON: SIDECAR_FORMATS.
LOG_FORMATS: dict[str, type[LogWriter]] = {".csv": CsvLog, ".mf4": MdfLog, ".mdf": MdfLog, ".msl": MslLog}
SIDECAR_FORMATS = (".csv", ".msl")


def log_format(path: Path) -> str | None:
    """The format's suffix (".csv", ".mf4", ...) for a log path, None when not one of LOG_FORMATS."""
    suffix = path.suffix.lower()
    return suffix if suffix in LOG_FORMATS else None


def open_log(path: Path, channels: Sequence[Channel], *, t0_s: float = 0.0, limits: dict[str, float] | None = None,
             metadata: dict[str, Any] | None = None, taker: RowTaker | ChannelsTaker | None = None) -> LogWriter:
    """The writer for path's suffix (checked before the run: lambdarig.inputs)."""
    suffix = log_format(path)
    if suffix is None:
        raise ValueError(f"{path}: not a log format; allowed suffixes: {', '.join(LOG_FORMATS)}")
    return LOG_FORMATS[suffix](path, channels, t0_s=t0_s, limits=limits, metadata=metadata,
                                  taker=taker)


__all__ = ["CHANNELS", "CHUNK_ROWS", "Channel", "ChannelsTaker", "CsvLog", "LOG_FORMATS", "LogWriter",
           "MDF_INSTALL_HINT", "MdfLog", "MslLog", "OutputError", "RowTaker", "SIDECAR_FORMATS", "channel_prefix",
           "channels_for", "channels_taker", "check_mdf_available", "log_format", "open_log", "prefixed",
           "read_metadata", "run_metadata", "sidecar_path"]
