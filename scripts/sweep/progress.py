"""Progress of a sweep: on a terminal a bar with %, counts and ETA, rewritten in place (at most every
`tty_interval_s` of wall time); off a terminal a plain line every `every_s` seconds (and at the end):

    sweep: 120/300 cases (40 %), 2 errors, 35.1 cases/s, 3 s elapsed, ETA 5 s

The ETA is the cases left over the rate since this run started (cases done by an earlier run count
in the total, not in the rate). Lines come when batches finish and, between them, from a ticker
thread (`start()`), so a long batch does not leave the screen silent.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 30


def format_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "--"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds} s"


class Progress:
    def __init__(self, total: int, already: int, stream: TextIO, *, every_s: float = 5.0,
                 tty_interval_s: float = 0.2, clock: Callable[[], float] = time.monotonic):
        self.total = total
        self.done = already
        self.already = already
        self.errors = 0
        self.stream = stream
        self.every_s = every_s
        self.tty_interval_s = tty_interval_s
        self.clock = clock
        self.start_s = clock()
        try:
            self.tty = bool(stream.isatty())
        except (AttributeError, ValueError):
            self.tty = False
        self._next_s = self.start_s + (tty_interval_s if self.tty else every_s)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def start(self) -> None:
        """Show a line when one is due even while no batch finishes (a daemon thread; finish() stops it)."""
        period_s = max(0.1, min(self.tty_interval_s if self.tty else self.every_s, 1.0))

        def tick() -> None:
            while not self._stop.wait(period_s):
                self.add(0)

        self._ticker = threading.Thread(target=tick, name="sweep-progress", daemon=True)
        self._ticker.start()

    def add(self, cases: int, errors: int = 0) -> None:
        with self._lock:
            self.done += cases
            self.errors += errors
            now = self.clock()
            if now >= self._next_s:
                self._next_s = now + (self.tty_interval_s if self.tty else self.every_s)
                self.show()

    def line(self) -> str:
        elapsed = self.clock() - self.start_s
        ran = self.done - self.already
        rate = ran / elapsed if elapsed > 0 and ran > 0 else math.nan
        left = self.total - self.done
        eta = left / rate if rate == rate else math.nan
        pct = 100.0 * self.done / self.total if self.total else 100.0
        errors = f", {self.errors} error{'s' if self.errors != 1 else ''}" if self.errors else ""
        rate_text = f"{rate:.1f} cases/s" if rate == rate else "-- cases/s"
        return (f"{self.done}/{self.total} cases ({pct:.0f} %){errors}, {rate_text}, {format_eta(elapsed)} elapsed, "
                f"ETA {format_eta(eta)}")

    def show(self) -> None:
        self._shown_at = self.done
        if self.tty:
            filled = int(BAR_WIDTH * self.done / self.total) if self.total else BAR_WIDTH
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            self.stream.write(f"\r[{bar}] {self.line()}  ")
        else:
            self.stream.write(f"sweep: {self.line()}\n")
        self.stream.flush()

    def finish(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        if getattr(self, "_shown_at", None) != self.done:
            self.show()
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
