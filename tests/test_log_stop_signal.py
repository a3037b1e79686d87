"""A stop signal (Ctrl-C, SIGTERM) that arrives while a log writes its chunk: the chunk is written
whole and the signal raised after it (lambdarig.signals.hold_stop_signals), so the log loses no rows
and the channels of a log of several sensors stay in step. Before, a SIGTERM inside the chunk's
write lost those 500 rows, and one between two channels' columns paired one channel's final row with
the other's rows of 5 s before (tests/test_two_channels.py's SIGTERM test saw it about 1 run in 13).

The signals are real (os.kill to this process, inside stop_signals()); the writers are the real CSV
log; the test subclasses only decide where in the chunk the signal lands.
"""

from __future__ import annotations

import csv
import os
import signal

import pytest

from lambdarig.controller.core import Controller
from lambdarig.controller.runtime import Runtime, StopSignal
from lambdarig.hal.registry import open_frontend
from lambdarig.logs import CHUNK_ROWS, CsvLog, channels_for
from lambdarig.logs.channels import ChannelsTaker, RowTaker, channel_prefix, prefixed
from lambdarig.session import log_limits
from lambdarig.signals import stop_signals

CHANNELS = channels_for(with_truth=True, with_hc=False)


@pytest.fixture(scope="module")
def ticks():
    """(status, truth) of CHUNK_ROWS + 1 telemetry ticks of a warming LSU 4.9, and its log limits."""
    fe = open_frontend("sim:lsu49", seed=4)
    ctl = Controller()
    kept: list = []
    runtime = Runtime(fe, ctl, sinks=[lambda status, truth: kept.append((status, truth))])
    runtime.run(CHUNK_ROWS * 0.01 + 0.005)
    fe.close()
    assert len(kept) > CHUNK_ROWS
    return kept[:CHUNK_ROWS + 1], log_limits(ctl)


def signal_me() -> None:
    os.kill(os.getpid(), signal.SIGTERM)   # the handler runs at once, in this thread


class SignalInWrite(CsvLog):
    """A SIGTERM as the first chunk is being written."""

    signalled = False

    def _write_chunk(self, columns, n):
        if not self.signalled:
            self.signalled = True
            signal_me()
        super()._write_chunk(columns, n)


class SignalInColumns(RowTaker):
    """A SIGTERM while this channel's first columns are taken (the channel before it already taken)."""

    signalled = False

    def columns(self):
        if not self.signalled:
            self.signalled = True
            signal_me()
        return super().columns()


def rows_of(path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_a_signal_in_the_write_of_a_chunk_loses_no_row(tmp_path, ticks):
    kept, limits = ticks
    log = SignalInWrite(tmp_path / "one.csv", CHANNELS, limits=limits)
    with stop_signals() as received, pytest.raises(StopSignal):
        for status, truth in kept[:CHUNK_ROWS]:
            log(status, truth)   # the last one writes the chunk: the signal comes inside, raised after
    assert received == ["SIGTERM"]
    log(*kept[CHUNK_ROWS])       # the final tick, as a stopped run emits it
    log.close()
    rows = rows_of(tmp_path / "one.csv")
    assert len(rows) == CHUNK_ROWS + 1
    assert [float(r["t_s"]) for r in rows] == pytest.approx([s.t_s for s, _ in kept])


def test_a_signal_between_two_channels_columns_keeps_them_in_step(tmp_path, ticks):
    kept, limits = ticks
    first = prefixed([c for c in CHANNELS if c.name != "t_s"], channel_prefix(0))
    second = prefixed([c for c in CHANNELS if c.name != "t_s"], channel_prefix(1))
    t_s = tuple(c for c in CHANNELS if c.name == "t_s")
    taker = ChannelsTaker([RowTaker(t_s + first, 0.0, limits), SignalInColumns(second, 0.0, limits)])
    log = CsvLog(tmp_path / "two.csv", taker.channels, taker=taker)
    with stop_signals(), pytest.raises(StopSignal):
        for status, truth in kept[:CHUNK_ROWS]:
            log([status, status], [truth, truth])   # both channels the same sensor: equal columns
    log([kept[CHUNK_ROWS][0]] * 2, [kept[CHUNK_ROWS][1]] * 2)
    log.close()
    rows = rows_of(tmp_path / "two.csv")
    assert len(rows) == CHUNK_ROWS + 1
    names = [c.name[len("ch0_"):] for c in first]
    for row in rows:
        assert [row["ch0_" + name] for name in names] == [row["ch1_" + name] for name in names]
    assert rows[-1]["ch1_state"] == kept[CHUNK_ROWS][0].state
