"""Stop signals: every catchable signal that would end the process ends a session like Ctrl-C.

Python turns only SIGINT into an exception; SIGTERM (systemd, docker stop, `timeout`, CI cancel),
SIGHUP (a closed terminal or ssh session) and the rest kill the process on the spot, heater on. While
a session runs, `stop_signals()` installs one handler for all of them: the first signal raises
StopSignal (a KeyboardInterrupt, so every Ctrl-C path makes the outputs safe and prints the summary);
a second one while that cleanup runs is noted and does not cut it short. The previous handlers come
back afterwards. A signal someone chose to ignore (`nohup` ignores SIGHUP) stays ignored, and
outside the main thread (where Python cannot install handlers) nothing changes.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lambdarig.controller.runtime import StopSignal

# Signals whose default action ends the process and that a program may catch. SIGPIPE and SIGXFSZ
# are left alone: Python ignores them and reports the write as an OSError instead. SIGKILL and
# SIGSTOP cannot be caught: what stays at risk after kill -9 is in docs/reliability.md.
STOP_SIGNAL_NAMES = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGVTALRM",
                     "SIGPROF", "SIGXCPU", "SIGPWR", "SIGIO", "SIGSTKFLT")
EXIT_CODE_BASE = 128   # the shell's convention: a run ended by signal N exits 128 + N


def stop_signals_here() -> list[signal.Signals]:
    """The stop signals this platform has."""
    return [getattr(signal, name) for name in STOP_SIGNAL_NAMES if hasattr(signal, name)]


def exit_code_for(signal_name: str) -> int:
    """128 + the signal's number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP)."""
    number = getattr(signal, signal_name, signal.SIGINT)
    return EXIT_CODE_BASE + int(number)


# A stop signal that arrives while a block must not stop halfway (a log writing its chunk) is held:
# how deep the held blocks are nested, and the signal held (main thread only: handlers run there).
_holding = 0
_held: list[str] = []


@contextmanager
def hold_stop_signals() -> Iterator[None]:
    """Within the block a stop signal (stop_signals()) does not interrupt: it is raised, as
    StopSignal, when the block ends. For work that must be done whole or not at all: a log's chunk
    taken out of the kept rows and written (a signal in between lost the chunk, or left a log of
    several sensors with its channels out of step). An exception from the block itself wins: the
    run ends on it, outputs safe, and the held signal is dropped."""
    global _holding
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _holding += 1
    try:
        yield
    except BaseException:
        _held.clear()
        raise
    finally:
        _holding -= 1
    if not _holding and _held:
        name = _held[0]
        _held.clear()
        raise StopSignal(name)


@contextmanager
def stop_signals() -> Iterator[list[str]]:
    """Within the block, stop signals raise StopSignal once; yields the names of those received."""
    received: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def on_signal(number: int, frame: Any) -> None:
        name = signal.Signals(number).name
        received.append(name)
        if len(received) == 1:
            if _holding:
                _held.append(name)   # raised when the held block ends (hold_stop_signals)
            else:
                raise StopSignal(name)

    previous: dict[signal.Signals, Any] = {}
    try:
        for sig in stop_signals_here():
            handler = signal.getsignal(sig)
            if handler is signal.SIG_IGN or handler is None:
                continue   # ignored on purpose (nohup), or set outside Python: leave it
            previous[sig] = handler
            signal.signal(sig, on_signal)
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
