"""The sweep's progress: plain lines off a terminal every few seconds, a bar with ETA on one (a fake
clock: no waiting)."""

from __future__ import annotations

import io

from lambdarig.sweep.progress import Progress, format_eta


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_every_few_seconds_off_a_terminal():
    clock, stream = Clock(), io.StringIO()
    progress = Progress(100, 20, stream, every_s=5.0, clock=clock)
    clock.t += 1.0
    progress.add(10)
    assert stream.getvalue() == ""          # not due yet
    clock.t += 4.0
    progress.add(10, errors=1)
    assert stream.getvalue() == "sweep: 40/100 cases (40 %), 1 error, 4.0 cases/s, 5 s elapsed, ETA 15 s\n"
    clock.t += 5.0
    progress.add(60)
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert lines[-1] == "sweep: 100/100 cases (100 %), 1 error, 8.0 cases/s, 10 s elapsed, ETA 0 s"
    assert len(lines) == 2                   # finish() does not repeat the last line


def test_a_bar_with_eta_on_a_terminal():
    clock, stream = Clock(), Terminal()
    progress = Progress(300, 0, stream, clock=clock)
    clock.t += 60.0
    progress.add(150)
    progress.finish()
    text = stream.getvalue()
    assert text.startswith("\r[###############...............] 150/300 cases (50 %)")
    assert "ETA 1m00s" in text and text.endswith("\n")


def test_eta_text():
    assert format_eta(5.4) == "5 s" and format_eta(75) == "1m15s" and format_eta(3725) == "1h02m"
    assert format_eta(float("nan")) == "--"
