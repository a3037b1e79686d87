"""The MegaLogViewer / TunerStudio text log (.msl): the layout TunerStudio's and rusEFI's loggers
write and MegaLogViewer opens, tab separated:

    line 1  "lambdarig 0.2.0: lsu49"                      the signature, quoted
    line 2  "Capture Date: 2026-12-07T19:00:00.000000+00:00"  quoted
    line 3  Time<TAB>state<TAB>lambda<TAB>...              channel names, Time first
    line 4  s<TAB><TAB><TAB>...                           units, one per channel
    line 5+ data rows

(the same two quoted header lines as rusEFI's BinarySensorLog; names on line 3, units on line 4,
data from line 5, as MATLAB's readers of .msl files configure it). A value the firmware does not have
is `NaN` and an infinite one `Infinity`/`-Infinity` (no empty fields: MegaLogViewer is Java). Read it with
`pandas.read_csv(path, sep="\\t", skiprows=[0, 1, 3])`. Text channels (state, fault) are written
as text: MegaLogViewer shows numbers only, so each also gets a numeric code channel (state_code,
fault_code, codes as in the MDF4 log's value-to-text table). The metadata is in the sidecar JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .base import TextFileLog, text_column
from .channels import Channel, ChannelsTaker, RowTaker
from .mdf_log import text_codes
from .metadata import sidecar_path, with_channels, write_sidecar

TIME_NAME = "Time"   # MegaLogViewer looks for a column named Time for its x axis


class MslLog(TextFileLog):
    kind = "msl"

    def __init__(self, path: str | Path, channels: Sequence[Channel], t0_s: float = 0.0,
                 limits: dict[str, float] | None = None, metadata: dict[str, Any] | None = None,
                 taker: RowTaker | ChannelsTaker | None = None):
        super().__init__(path, channels, t0_s, limits, metadata, taker)
        meta = metadata or {}
        self.sidecar: Path | None = None
        self._file: TextIO | None = None
        self._codes = {c.name: {text: i for i, text in enumerate(text_codes(c))}
                       for c in self.channels if c.fmt == "s"}
        names, units = [], []
        for c in self.channels:
            names.append(TIME_NAME if c.name == "t_s" else c.name)
            units.append(c.unit)
            if c.fmt == "s":
                names.append(f"{c.name}_code")
                units.append("")
        try:
            if metadata is not None:
                self.sidecar = sidecar_path(self.path)
                self._sidecar_meta = with_channels(meta, self.channels, "msl")
                write_sidecar(self.sidecar, self._sidecar_meta)
            self._file = open(self.path, "w", newline="", encoding="utf-8")
            title = f"lambdarig {meta.get('lambdarig_version', '')}: {meta.get('element', '')}"
            self._file.write(f'"{title}"\n"Capture Date: {meta.get("start_utc", "")}"\n')
            self._file.write("\t".join(names) + "\n" + "\t".join(units) + "\n")
        except OSError as exc:
            self._fail()
            raise self.error(exc) from None

    def _write_chunk(self, columns: list[list[Any]], n: int) -> None:
        assert self._file is not None
        texts: list[list[str]] = []
        for c, col in zip(self.channels, columns):
            texts.append(text_column(c, col, java=True))
            if c.fmt == "s":
                codes = self._codes[c.name]
                unknown = len(codes)
                texts.append([str(codes.get(v, unknown)) for v in col])
        self._file.write("".join("\t".join(row) + "\n" for row in zip(*texts)))
