"""Progress of work whose length is known (a simulation's duration, a calibration's benches): how far,
in %, and when it will end (ETA, from the wall time so far), on stderr.

- On a terminal: one line redrawn in place with '\\r' at most every `tty_interval_s`; or, with the
  live status line, a suffix on it (`ProgressStatusLine`), so the two never fight over the line.
- Off a terminal (a CI log, `2> file`): a plain line every `every_s` seconds of wall time, so a long
  run with `--json` is not silent; nothing for work that ends sooner.
stdout is never touched (it may carry `--json`); `--quiet` does not create one at all.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TextIO

from .status_line import StatusLine

PLAIN_EVERY_S = 5.0          # off a terminal: a line this often (wall time)
TTY_INTERVAL_S = 0.2         # on a terminal: redraw at most this often


def is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def eta_text(seconds: float) -> str:
    """'ETA 7 s', 'ETA 3 min 05 s', 'ETA 1 h 02 min'; 'ETA --' before there is a rate."""
    if not math.isfinite(seconds) or seconds < 0:
        return "ETA --"
    s = int(round(seconds))
    if s < 60:
        return f"ETA {s} s"
    if s < 3600:
        return f"ETA {s // 60} min {s % 60:02d} s"
    return f"ETA {s // 3600} h {s % 3600 // 60:02d} min"


class Progress:
    """Progress of `total` units (`unit`, e.g. 's simulated'). Call `update(done)` often (it is
    cheap: one clock read); as a telemetry sink it takes `status.t_s` as done."""

    def __init__(self, stream: TextIO, total: float, *, what: str = "simulated", unit: str = "s",
                 every_s: float | None = None, tty_interval_s: float = TTY_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic, tty: bool | None = None):
        self.stream = stream
        self.total = float(total)
        self.what = what
        self.unit = unit
        self.clock = clock
        self.tty = is_terminal(stream) if tty is None else tty
        self.interval_s = tty_interval_s if self.tty else (PLAIN_EVERY_S if every_s is None else every_s)
        self.t0 = clock()
        self._next = self.t0 + self.interval_s
        self._width = 0
        self.lines = 0
        self.done = 0.0

    def fraction(self) -> float:
        return min(1.0, max(0.0, self.done / self.total)) if self.total > 0 else 0.0

    def suffix(self, now: float | None = None) -> str:
        """'42 %, ETA 7 s': the fraction done and the wall time left at the rate so far."""
        now = self.clock() if now is None else now
        f = self.fraction()
        elapsed = now - self.t0
        left = elapsed * (1.0 - f) / f if f > 0 and elapsed > 0 else math.inf
        return f"{f * 100:.0f} %, {eta_text(left)}"

    def update(self, done: float) -> None:
        self.done = done
        now = self.clock()
        if now < self._next:
            return
        self._next = now + self.interval_s
        self.show(now)

    def __call__(self, status, truth=None) -> None:
        self.update(status.t_s)

    def show(self, now: float | None = None) -> None:
        digits = 0 if self.total >= 10 else 1
        text = (f"lambdarig: {self.suffix(now)} ({self.done:.{digits}f} of {self.total:.{digits}f} {self.unit} "
                f"{self.what})")
        if self.tty:
            pad = " " * max(0, self._width - len(text))
            self._width = len(text)
            self.stream.write("\r" + text + pad)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self.lines += 1

    def finish(self) -> None:
        """End a redrawn line (a terminal); plain lines need nothing."""
        if self.tty and self.lines:
            self.stream.write("\n")
            self.stream.flush()
            self.lines = 0
            self._width = 0


class ProgressStatusLine(StatusLine):
    """The live status line with the progress at its end: `t 12.00 s  closed_loop ... | 42 %, ETA 7 s`."""

    def __init__(self, stream: TextIO, progress: Progress, **kwargs):
        super().__init__(stream, **kwargs)
        self.progress = progress

    def format(self, status) -> str:   # type: ignore[override]
        self.progress.done = status.t_s
        return f"{StatusLine.format(status)}  | {self.progress.suffix()}"
