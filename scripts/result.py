"""What a session returns: the summary the command line prints, the telemetry rows, and the
runtime's own figures.

`SessionResult.samples` are the telemetry rows as dicts, one per telemetry tick: every field of the
controller's Status (`t_s` on the session's clock, starting at 0) and, in simulation, every field of
the emulator's truth prefixed `true_` (`true_lambda_value`, `true_temp_c`, ...). They are built from
the recorded objects on first use, so recording costs the control loop one append per row.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from lambdarig.controller.core import Status
from lambdarig.controller.runtime import RunResult

STATUS_FIELDS = tuple(f.name for f in dataclasses.fields(Status))
TRUTH_PREFIX = "true_"
PANDAS_HINT = "SessionResult.to_dataframe() needs pandas: pip install pandas"


class SampleRecorder:
    """A telemetry sink that keeps every (status, truth) pair it is given, as they are."""

    def __init__(self) -> None:
        self.pairs: list[tuple[Status, Any]] = []

    def __call__(self, status: Status, truth: Any) -> None:
        self.pairs.append((status, truth))


def sample_rows(pairs: list[tuple[Status, Any]], t0_s: float) -> list[dict[str, Any]]:
    """One dict per (status, truth): the status fields, t_s minus t0_s, then the truth's as true_*."""
    rows = []
    truth_fields: tuple[str, ...] | None = None
    for status, truth in pairs:
        row = {name: getattr(status, name) for name in STATUS_FIELDS}
        row["t_s"] = status.t_s - t0_s
        if truth is not None:
            if truth_fields is None:
                truth_fields = tuple(f.name for f in dataclasses.fields(truth))
            for name in truth_fields:
                row[TRUTH_PREFIX + name] = getattr(truth, name)
        rows.append(row)
    return rows


@dataclass
class SessionResult:
    """The result of `lambdarig.simulate(...)` or `lambdarig.run(...)`.

    summary:     the dict the command line prints (`--json` prints it with NaN/inf as null)
    samples:     the telemetry rows (see the module docstring); empty when samples were not kept
    run:         the runtime's RunResult (ticks, late ticks, wall time, ...) of the last part run
    interrupted: the session ended on Ctrl-C or another stop signal (SIGTERM, SIGHUP, ...)
    interrupted_by: which: "SIGINT", "SIGTERM", ... ("" when not interrupted)
    link_lost:   the front end stopped answering and did not come back
    warnings:    what the session warned about (a plot not written, a forced element mismatch)
    """

    summary: dict[str, Any]
    run: RunResult
    interrupted: bool = False
    link_lost: bool = False
    interrupted_by: str = ""
    warnings: list[str] = field(default_factory=list)
    t0_s: float = 0.0
    recorded: list[tuple[Status, Any]] = field(default_factory=list, repr=False)
    # A run of several sensors (lambdarig.channels_session): one result per channel, in channel
    # order; the summary then has one block per channel, and samples are channel 0's.
    channels: list[SessionResult] = field(default_factory=list, repr=False)
    _rows: list[dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def samples(self) -> list[dict[str, Any]]:
        if self._rows is None:
            self._rows = sample_rows(self.recorded, self.t0_s)
        return self._rows

    def to_dataframe(self) -> Any:
        """The samples as a pandas DataFrame, one row per telemetry tick, indexed by t_s.
        ImportError naming `pip install pandas` where pandas is not installed."""
        try:
            import pandas
        except ImportError:
            raise ImportError(PANDAS_HINT) from None
        columns = list(self.samples[0]) if self.samples else list(STATUS_FIELDS)
        return pandas.DataFrame(self.samples, columns=columns).set_index("t_s")

    def __repr__(self) -> str:
        s = self.summary
        return (f"SessionResult(final_state={s.get('final_state')!r}, time_to_ready_s={s.get('time_to_ready_s')!r}, "
                f"sim_s={s.get('sim_s')!r}, events={len(s.get('events', []))}, samples={len(self.recorded)})")
