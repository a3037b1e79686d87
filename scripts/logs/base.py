"""What every log writer shares: the sink call (keep the tick, write a chunk every CHUNK_ROWS ticks),
close, and the one error a writer raises (OutputError: the run ends with the outputs safe)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from lambdarig.common.errors import LambdarigError
from lambdarig.signals import hold_stop_signals

from .channels import Channel, ChannelsTaker, RowTaker
from .metadata import finished, write_sidecar

# 500 rows: 5 s of telemetry at 100 Hz, some 80 kB of CSV. Large enough that the control loop pays
# almost nothing per tick, small enough that a crash loses little.
CHUNK_ROWS = 500


class OutputError(LambdarigError):
    """An output file could not be written (disk full, device gone): the run ends, outputs safe."""


def fixed(value: float, decimals: int) -> str:
    if value != value:  # NaN: the firmware does not have it
        return ""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{decimals}f}"


def sig(value: float) -> str:
    if value != value:
        return ""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.6g}"


def java_number(text: str) -> str:
    """A CSV number for a Java reader (MegaLogViewer): NaN for "", Infinity for inf (pandas reads both)."""
    if text == "":
        return "NaN"
    if text[-1] == "f":
        return "-Infinity" if text[0] == "-" else "Infinity"
    return text


def text_column(channel: Channel, column: list[Any], java: bool = False) -> list[str]:
    """A column as the text formats write it: CSV; .msl (java=True) spells NaN and infinity the
    way Java's Double.parseDouble reads them, not as an empty field and "inf"."""
    fmt = channel.fmt
    if java and fmt in "tlg":
        return [java_number(text) for text in text_column(channel, column)]
    if fmt == "t":
        return [fixed(v, 4) for v in column]
    if fmt == "l":
        return [fixed(v, 5) for v in column]
    if fmt == "g":
        return [sig(v) for v in column]
    if fmt == "i":
        return [str(int(v)) for v in column]
    return [str(v) for v in column]


class LogWriter:
    """A telemetry sink `sink(status, truth)` that keeps rows and hands them to `_write_chunk` in
    chunks. A context manager; `close()` writes what is left and is idempotent. On an OSError the
    file is dropped and OutputError raised (the session then ends the run with the outputs safe)."""

    kind = "log"

    def __init__(self, path: str | Path, channels: Sequence[Channel], t0_s: float = 0.0,
                 limits: dict[str, float] | None = None, metadata: dict[str, Any] | None = None,
                 taker: RowTaker | ChannelsTaker | None = None):
        self.path = Path(path)
        self.run_metadata = metadata
        # A run of several sensors brings its own taker (ChannelsTaker: the sink is then called with
        # every channel's statuses and truths); its channels are the log's.
        self.taker = taker if taker is not None else RowTaker(channels, t0_s, limits)
        self.channels = tuple(self.taker.channels)
        self.rows = 0
        self.closed = False

    def __call__(self, status: Any, truth: Any) -> None:
        if self.taker.take(status, truth) >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write the rows kept so far: all of them, or (a full disk) none; a stop signal waits."""
        with hold_stop_signals():
            n = len(self.taker)
            if not n or self.closed:
                return
            columns = self.taker.columns()
            try:
                self._write_chunk(columns, n)
            except OSError as exc:
                self._fail()
                raise self.error(exc) from None
            self.rows += n

    def error(self, exc: OSError) -> OutputError:
        return OutputError(f"cannot write the log {self.path}: {exc.strerror or exc}; outputs made safe, run ended")

    def close(self) -> None:
        """Write what is left and close; OutputError when that cannot be written (a full disk)."""
        if self.closed:
            return
        try:
            self.flush()
            if not self.closed:
                self._finish()
        except OSError as exc:
            self._fail()
            raise self.error(exc) from None
        finally:
            self.closed = True

    def _write_chunk(self, columns: list[list[Any]], n: int) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        """Complete and close the file."""

    def _fail(self) -> None:
        """Drop the file after a failed write (what is buffered cannot be written either)."""
        self.closed = True

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TextFileLog(LogWriter):
    """A log written as text while the run goes (CSV, .msl), its metadata in a sidecar JSON that is
    rewritten at close with how the run ended. Subclasses open `_file` and set `sidecar` and
    `_sidecar_meta` (sidecar None: no metadata file)."""

    _file: TextIO | None = None
    sidecar: Path | None = None
    _sidecar_meta: dict[str, Any] = {}

    def _finish(self) -> None:
        handle, self._file = self._file, None
        if handle is None:
            return
        try:
            handle.flush()
        finally:
            handle.close()
        if self.sidecar is not None:   # the log is complete: say how it ended
            write_sidecar(self.sidecar, finished(self._sidecar_meta, self.rows))

    def _fail(self) -> None:
        super()._fail()
        handle, self._file = self._file, None
        if handle is not None:
            try:
                handle.close()
            except OSError:
                pass
