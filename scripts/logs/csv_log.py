"""The CSV log: one header row of unit-bearing column names, then one row per telemetry tick, so
`pandas.read_csv(path)` reads it with no arguments. The run's metadata is in the sidecar JSON
(`run.csv.json`). Format in docs/simulate.md."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .base import TextFileLog, text_column
from .channels import Channel, ChannelsTaker, RowTaker
from .metadata import sidecar_path, with_channels, write_sidecar


class CsvLog(TextFileLog):
    kind = "csv"

    def __init__(self, path: str | Path, channels: Sequence[Channel], t0_s: float = 0.0,
                 limits: dict[str, float] | None = None, metadata: dict[str, Any] | None = None,
                 taker: RowTaker | ChannelsTaker | None = None):
        super().__init__(path, channels, t0_s, limits, metadata, taker)
        self.sidecar: Path | None = None
        self._file: TextIO | None = None
        try:
            if metadata is not None:
                self.sidecar = sidecar_path(self.path)
                self._sidecar_meta = with_channels(metadata, self.channels, "csv")
                write_sidecar(self.sidecar, self._sidecar_meta)
            self._file = open(self.path, "w", newline="", encoding="utf-8")
            self._writer = csv.writer(self._file)
            self._writer.writerow([c.name for c in self.channels])
        except OSError as exc:
            self._fail()
            raise self.error(exc) from None

    def _write_chunk(self, columns: list[list[Any]], n: int) -> None:
        assert self._file is not None
        texts = [text_column(c, col) for c, col in zip(self.channels, columns)]
        self._writer.writerows(zip(*texts))
