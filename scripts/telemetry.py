"""Telemetry sinks for the command line: a live status line, a recorder and its plot, the lambda
accuracy; the run logs (CSV, MDF4, .msl) are in lambdarig.logs and re-exported here.

A sink is a callable `sink(status, truth)` that the runtime calls once per telemetry tick (and once
more at the end of a run) with the controller's `Status` and, in simulation, the emulator's `Truth`
(None on real hardware). Sinks must be cheap: they run inside the control loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from lambdarig.controller.conversion import LAMBDA_MAX
from lambdarig.controller.profiles import TEMP_FLOOR_C

from .logs import CsvLog, OutputError
from .logs.channels import channels_for

# The CSV log's columns (every log format has the same channels: lambdarig.logs.channels).
CSV_COLUMNS = tuple(c.name for c in channels_for(with_truth=False, with_hc=False))
TRUTH_COLUMNS = tuple(c.name for c in channels_for(with_truth=True, with_hc=False) if c.source == "truth")

# The plot's lambda axis: readings and truth are clipped to this range; free air (true lambda = inf,
# measured lambda at the conversion's lean limit) sits on the top edge, labelled "air".
PLOT_LAMBDA_RANGE = (0.5, 3.0)
PLOT_MAX_POINTS = 20000
PLOT_INSTALL_HINT = "plotting needs matplotlib: pip install 'lambdarig[plot]'"

STATE_COLORS = {
    "wait_supply": "#bbbbbb",
    "condensation": "#9ecae1",
    "ramp": "#fdd49e",
    "closed_loop": "#c7e9c0",
    "fault": "#fb6a4a",
    "stopped": "#dddddd",
}

__all__ = ["CSV_COLUMNS", "TRUTH_COLUMNS", "CsvLog", "OutputError", "StatusLine", "Recorder", "LambdaAccuracy",
           "plot_run", "check_plot_available", "format_lambda"]


def format_lambda(value: float) -> str:
    if value != value:
        return "--"
    if math.isinf(value) or value >= LAMBDA_MAX:   # the conversion's ceiling stands for free air
        return "air"
    return f"{value:.3f}"


class StatusLine:
    """A live one-line status (time, state, temperature, lambda, O2, fault), rewritten in place with
    '\\r' on a terminal at most once per `min_interval_s` of WALL time (a simulation runs far faster
    than real time). On a stream that is not a terminal it writes nothing. `finish()` ends the line."""

    def __init__(self, stream: TextIO, min_interval_s: float = 0.1, clock: Callable[[], float] = time.monotonic):
        self.stream = stream
        self.min_interval_s = min_interval_s
        self.clock = clock
        try:
            self.enabled = bool(stream.isatty())
        except (AttributeError, ValueError):
            self.enabled = False
        self._next_s = -math.inf
        self._width = 0
        self.updates = 0

    @staticmethod
    def format(status) -> str:
        s = status
        # At the estimate's floor the cell is below the ESR table: "cold", not a made-up -40 °C.
        temp = "--" if s.temp_c != s.temp_c else "cold" if s.temp_c <= TEMP_FLOOR_C else f"{s.temp_c:.0f} °C"
        o2 = "--" if s.o2_pct != s.o2_pct else f"{s.o2_pct:.2f}"
        fault = f"  fault {s.fault}" if s.fault else ""
        return (f"t {s.t_s:7.2f} s  {s.state:<12} {temp:>7}  lambda {format_lambda(s.lambda_value):>6}"
                f"  O2 {o2:>5} %{fault}")

    def __call__(self, status, truth=None) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if now < self._next_s:
            return
        self._next_s = now + self.min_interval_s
        self.show(status)

    def show(self, status) -> None:
        """Write the line now (no rate limit); nothing on a non-terminal."""
        if not self.enabled:
            return
        text = self.format(status)
        pad = " " * max(0, self._width - len(text))
        self._width = len(text)
        self.stream.write("\r" + text + pad)
        self.stream.flush()
        self.updates += 1

    def finish(self) -> None:
        if self.enabled and self.updates:
            self.stream.write("\n")
            self.stream.flush()
            self.updates = 0
            self._width = 0


class Recorder:
    """Keeps what the plot needs in memory. Signals are kept every `every`-th tick (choose it so a
    long run stays within a few ten thousand points); state changes and fault onsets are kept at
    every tick, so the state bands and fault marks are exact."""

    def __init__(self, target_temp_c: float = math.nan, nernst_target_v: float = math.nan, every: int = 1,
                 t0_s: float = 0.0, hc: bool = False, nernst_target: Callable[[], float] | None = None):
        self.target_temp_c = target_temp_c
        self.nernst_target_v = nernst_target_v
        # An HC element: HC (ppm) instead of lambda on top, and the Nernst target its firmware moves
        # with temperature (read from `nernst_target` at each kept sample) instead of a fixed line.
        self.hc = hc
        self.nernst_target = nernst_target
        self.hc_meas_ppm: list[float] = []
        self.hc_true_ppm: list[float] = []
        self.nernst_target_series: list[float] = []
        self.every = max(1, int(every))
        self.t0_s = t0_s
        self.t_s: list[float] = []
        self.lambda_meas: list[float] = []
        self.lambda_true: list[float] = []
        self.temp_c: list[float] = []
        self.temp_true_c: list[float] = []
        self.heater_v: list[float] = []
        self.nernst_v: list[float] = []
        self.states: list[tuple[float, str]] = []   # (time entered, state)
        self.faults: list[tuple[float, str]] = []   # (time raised, code)
        self.end_s = 0.0
        self._n = 0
        self._fault = ""

    def __call__(self, status, truth) -> None:
        t = status.t_s - self.t0_s
        self.end_s = t
        if not self.states or self.states[-1][1] != status.state:
            self.states.append((t, status.state))
        if status.fault != self._fault:
            if status.fault:
                self.faults.append((t, status.fault))
            self._fault = status.fault
        n = self._n
        self._n = n + 1
        if n % self.every:
            return
        self.t_s.append(t)
        self.lambda_meas.append(status.lambda_value if status.lambda_valid else math.nan)
        self.temp_c.append(status.temp_c)
        self.heater_v.append(status.heater_v)
        self.nernst_v.append(status.nernst_v)
        if self.hc:
            self.hc_meas_ppm.append(status.hc_ppm if status.lambda_valid else math.nan)
            self.hc_true_ppm.append(math.nan if truth is None else truth.hc_ppm)
        if self.nernst_target is not None:
            self.nernst_target_series.append(self.nernst_target())
        if truth is None:
            self.lambda_true.append(math.nan)
            self.temp_true_c.append(math.nan)
        else:
            self.lambda_true.append(truth.lambda_value)
            self.temp_true_c.append(truth.temp_c)

    def state_spans(self) -> list[tuple[float, float, str]]:
        """(start, end, state) for each stretch of one state."""
        spans = []
        for i, (t, state) in enumerate(self.states):
            end = self.states[i + 1][0] if i + 1 < len(self.states) else self.end_s
            spans.append((t, end, state))
        return spans


class LambdaAccuracy:
    """|measured - true| / true in % over the samples where the firmware says lambda is valid and the
    truth is finite (free air has no finite lambda to compare with).

    `max` includes the sensor's response to every step of the truth (right after a step the error is
    the step itself); `max_settled` only counts samples taken once the true lambda has held still for
    `settle_s`, i.e. the steady-state accuracy."""

    def __init__(self, settle_s: float = 1.0):
        self.settle_s = settle_s
        self.errors_pct: list[float] = []
        self.max_settled_pct = math.nan
        self.settled = 0
        self._last_true = math.nan
        self._steady_since_s = math.nan

    def __call__(self, status, truth) -> None:
        if truth is None:
            return
        true = truth.lambda_value
        t = status.t_s
        if true != self._last_true:
            self._last_true = true
            self._steady_since_s = t
        if not status.lambda_valid:
            return
        meas = status.lambda_value
        if not (math.isfinite(true) and math.isfinite(meas)) or true <= 0:
            return
        error = abs(meas - true) / true * 100.0
        self.errors_pct.append(error)
        if t - self._steady_since_s >= self.settle_s:
            self.settled += 1
            if not error <= self.max_settled_pct:  # also replaces the initial NaN
                self.max_settled_pct = error

    def summary(self) -> dict | None:
        errors = self.errors_pct
        if not errors:
            return None
        ordered = sorted(errors)
        n = len(ordered)
        median = ordered[n // 2] if n % 2 else 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])
        settled = None if self.settled == 0 else round(self.max_settled_pct, 4)
        return {"median": round(median, 4), "max": round(ordered[-1], 4), "samples": n,
                "max_settled": settled, "settled_samples": self.settled, "settle_s": self.settle_s}


def check_plot_available() -> None:
    """ValueError with the install hint when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ValueError(PLOT_INSTALL_HINT) from None


def plot_run(recorder: Recorder, path: str | Path, title: str) -> None:
    """Write a PNG of a run: 4 stacked axes sharing time, each shaded by controller state:
    lambda (true and measured, clipped to PLOT_LAMBDA_RANGE with free air on the top edge), cell
    temperature (true, firmware estimate, target), effective heater voltage, Nernst voltage (and its
    target). Fault onsets are marked with a vertical line. Uses matplotlib's Agg backend (no display);
    ValueError naming `pip install 'lambdarig[plot]'` when matplotlib is missing."""
    check_plot_available()
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    lo, hi = PLOT_LAMBDA_RANGE

    def clip_lambda(values: list[float]) -> list[float]:
        return [v if v != v else (hi if v > hi else lo if v < lo else v) for v in values]

    t = recorder.t_s
    fig, axes = plt.subplots(4, 1, sharex=True, figsize=(11, 9), constrained_layout=True)
    ax_l, ax_t, ax_h, ax_n = axes

    for start, end, state in recorder.state_spans():
        if end <= start:
            continue
        for ax in axes:
            ax.axvspan(start, end, color=STATE_COLORS.get(state, "#eeeeee"), alpha=0.35, lw=0)
    for t_fault, code in recorder.faults:
        for ax in axes:
            ax.axvline(t_fault, color="#cb181d", lw=0.8, ls="--")
        ax_l.annotate(code, (t_fault, hi), xytext=(2, -10), textcoords="offset points", fontsize=7,
                      color="#cb181d", rotation=90, va="top")

    if recorder.hc:   # an HC element measures HC, not lambda
        ax_l.plot(t, recorder.hc_true_ppm, color="black", lw=1.2, label="true")
        ax_l.plot(t, recorder.hc_meas_ppm, color="#2171b5", lw=1.0, label="measured (valid)")
        ax_l.set_ylabel("HC, ppm")
    else:
        ax_l.plot(t, clip_lambda(recorder.lambda_true), color="black", lw=1.2, label="true")
        ax_l.plot(t, clip_lambda(recorder.lambda_meas), color="#2171b5", lw=1.0, label="measured (valid)")
        ax_l.set_ylim(lo - 0.05, hi + 0.1)
        ticks = [v for v in (0.5, 0.75, 1.0, 1.5, 2.0, 2.5) if lo <= v < hi] + [hi]
        ax_l.set_yticks(ticks)
        ax_l.set_yticklabels([f"{v:g}" for v in ticks[:-1]] + [f"≥{hi:g}/air"])
        ax_l.set_ylabel("lambda")
    ax_l.legend(loc="upper left", fontsize=8)

    ax_t.plot(t, recorder.temp_true_c, color="black", lw=1.2, label="true")
    # At the estimate's floor the cell is colder than the ESR table reaches: no line, not -40 °C.
    estimated = [v if v > TEMP_FLOOR_C else math.nan for v in recorder.temp_c]
    ax_t.plot(t, estimated, color="#d94801", lw=1.0, label="estimated (Ri)")
    if recorder.target_temp_c == recorder.target_temp_c:
        ax_t.axhline(recorder.target_temp_c, color="#d94801", lw=0.8, ls=":", label="target")
    ax_t.set_ylabel("cell temp, °C")
    ax_t.legend(loc="lower right", fontsize=8)

    ax_h.plot(t, recorder.heater_v, color="#6a51a3", lw=1.0)
    ax_h.set_ylabel("heater, V (eff.)")

    ax_n.plot(t, recorder.nernst_v, color="#238b45", lw=0.8)
    if recorder.nernst_target_series:
        ax_n.plot(t, recorder.nernst_target_series, color="#238b45", lw=0.8, ls=":")
    elif recorder.nernst_target_v == recorder.nernst_target_v:
        ax_n.axhline(recorder.nernst_target_v, color="#238b45", lw=0.8, ls=":")
    ax_n.set_ylabel("Nernst, V")
    ax_n.set_xlabel("time, s")
    ax_n.set_xlim(0.0, max(recorder.end_s, 1e-3))

    seen = list(dict.fromkeys(state for _, _, state in recorder.state_spans()))
    handles = [Patch(color=STATE_COLORS.get(s, "#eeeeee"), alpha=0.5, label=s) for s in seen]
    if handles:
        fig.legend(handles=handles, loc="outside upper right", ncols=len(handles), fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=11, x=0.01, ha="left")
    try:
        fig.savefig(path, dpi=110, format="png")
    finally:
        plt.close(fig)
