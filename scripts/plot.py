"""The run's PNG (`--plot`): what it keeps while the run goes (Recorder, a telemetry sink) and the
figure: four stacked axes sharing time (lambda, cell temperature, heater voltage, Nernst voltage),
for one sensor or several (one figure, a line per channel, labelled). docs/simulate.md#the-plot---plot.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lambdarig.controller.profiles import TEMP_FLOOR_C
from lambdarig.controller.readings import shown_temp_c

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
# One colour per channel of a run of several sensors (up to 4: channels_session.MAX_CHANNELS).
CHANNEL_COLORS = ("#2171b5", "#d94801", "#238b45", "#6a51a3")


class Recorder:
    """Keeps what the plot needs in memory. Signals are kept every `every`-th tick (choose it so a
    long run stays within a few ten thousand points); state changes and fault onsets are kept at
    every tick, so the state bands and fault marks are exact."""

    def __init__(self, target_temp_c: float = math.nan, nernst_target_v: float = math.nan, every: int = 1,
                 t0_s: float = 0.0, hc: bool = False, nernst_target: Callable[[], float] | None = None,
                 temp_floor_c: float = TEMP_FLOOR_C):
        self.target_temp_c = target_temp_c
        self.temp_floor_c = temp_floor_c   # below it (the ESR table's coldest point) the estimate is not drawn
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


def plot_recorder(settings: Any, hc: bool, duration_s: float, t0_s: float,
                  nernst_target: Callable[[], float] | None = None, temp_floor_c: float = TEMP_FLOOR_C) -> Recorder:
    """The Recorder of one sensor's run: its targets from the settings, every n-th tick kept so the
    run stays within PLOT_MAX_POINTS."""
    ticks = duration_s * settings.rates.telemetry_hz if math.isfinite(duration_s) else PLOT_MAX_POINTS
    return Recorder(settings.heater.target_temp_c, settings.pump.nernst_target_v,
                    every=math.ceil(ticks / PLOT_MAX_POINTS), t0_s=t0_s, hc=hc, nernst_target=nernst_target,
                    temp_floor_c=temp_floor_c)


def check_plot_available() -> None:
    """ValueError with the install hint when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ValueError(PLOT_INSTALL_HINT) from None


def plot_run(recorder: Recorder, path: str | Path, title: str) -> None:
    """Write the PNG of a run of one sensor (see plot_channels)."""
    plot_channels([("", recorder)], path, title)


def plot_channels(named: Sequence[tuple[str, Recorder]], path: str | Path, title: str) -> None:
    """Write the PNG of a run: (label, recorder) per channel; ValueError naming `pip install
    'lambdarig[plot]'` when matplotlib is missing. Agg backend (no display)."""
    check_plot_available()
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig = draw_run(named, title)
    try:
        fig.savefig(path, dpi=110, format="png")
    finally:
        plt.close(fig)


def clip_lambda(values: list[float]) -> list[float]:
    lo, hi = PLOT_LAMBDA_RANGE
    return [v if v != v else (hi if v > hi else lo if v < lo else v) for v in values]


def draw_run(named: Sequence[tuple[str, Recorder]], title: str) -> Any:
    """The figure (matplotlib Figure) of a run: four stacked axes sharing time. One sensor: each axis
    shaded by controller state, true lines black, fault onsets dashed red. Several: a colour per
    channel, its truth dashed and its reading solid, labelled with the channel's label; the channels'
    states differ, so instead of shading a dotted line marks where each entered closed loop, and its
    fault onsets are dashed in its colour. Lambda is clipped to PLOT_LAMBDA_RANGE with free air on the
    top edge; HC elements draw HC (ppm), on a second axis when the run also has lambda elements."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    lo, hi = PLOT_LAMBDA_RANGE
    several = len(named) > 1
    fig, axes = plt.subplots(4, 1, sharex=True, figsize=(11, 9), constrained_layout=True)
    ax_l, ax_t, ax_h, ax_n = axes
    any_lambda = any(not r.hc for _, r in named)
    ax_hc = None
    if any(r.hc for _, r in named):
        ax_hc = ax_l.twinx() if any_lambda else ax_l
        ax_hc.set_ylabel("HC, ppm")

    for i, (label, rec) in enumerate(named):
        t = rec.t_s
        if several:
            color, true_color, true_style = CHANNEL_COLORS[i % len(CHANNEL_COLORS)], None, "--"
            name = f"{label} "
            for t_state, state in rec.states:
                if state == "closed_loop":
                    for ax in axes:
                        ax.axvline(t_state, color=color, lw=0.8, ls=":")
                    break
        else:
            color, true_color, true_style, name = "#2171b5", "black", "-", ""
            for start, end, state in rec.state_spans():
                if end > start:
                    for ax in axes:
                        ax.axvspan(start, end, color=STATE_COLORS.get(state, "#eeeeee"), alpha=0.35, lw=0)
        fault_color = color if several else "#cb181d"
        for t_fault, code in rec.faults:
            for ax in axes:
                ax.axvline(t_fault, color=fault_color, lw=0.8, ls="--")
            ax_l.annotate(f"{name}{code}", (t_fault, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -10),
                          textcoords="offset points", fontsize=7, color=fault_color, rotation=90, va="top")

        if rec.hc:   # an HC element measures HC, not lambda
            assert ax_hc is not None
            ax_hc.plot(t, rec.hc_true_ppm, color=true_color or color, lw=1.2, ls=true_style, label=f"{name}true HC")
            ax_hc.plot(t, rec.hc_meas_ppm, color=color, lw=1.0, label=f"{name}measured HC (valid)")
        else:
            ax_l.plot(t, clip_lambda(rec.lambda_true), color=true_color or color, lw=1.2, ls=true_style,
                      label=f"{name}true")
            ax_l.plot(t, clip_lambda(rec.lambda_meas), color=color, lw=1.0, label=f"{name}measured (valid)")

        ax_t.plot(t, rec.temp_true_c, color=true_color or color, lw=1.2, ls=true_style, label=f"{name}true")
        # Below the ESR table the estimate is an extrapolation that reads cold: no line, not -38 °C.
        estimated = [shown_temp_c(v, rec.temp_floor_c) for v in rec.temp_c]
        ax_t.plot(t, estimated, color=color if several else "#d94801", lw=1.0, label=f"{name}estimated (Ri)")
        if rec.target_temp_c == rec.target_temp_c:
            ax_t.axhline(rec.target_temp_c, color=color if several else "#d94801", lw=0.8, ls=":",
                         label=f"{name}target")

        ax_h.plot(t, rec.heater_v, color=color if several else "#6a51a3", lw=1.0, label=label or None)

        nernst_color = color if several else "#238b45"
        ax_n.plot(t, rec.nernst_v, color=nernst_color, lw=0.8, label=label or None)
        if rec.nernst_target_series:
            ax_n.plot(t, rec.nernst_target_series, color=nernst_color, lw=0.8, ls=":")
        elif rec.nernst_target_v == rec.nernst_target_v:
            ax_n.axhline(rec.nernst_target_v, color=nernst_color, lw=0.8, ls=":")

    legend_size = 7 if several else 8
    if any_lambda:
        ax_l.set_ylim(lo - 0.05, hi + 0.1)
        ticks = [v for v in (0.5, 0.75, 1.0, 1.5, 2.0, 2.5) if lo <= v < hi] + [hi]
        ax_l.set_yticks(ticks)
        ax_l.set_yticklabels([f"{v:g}" for v in ticks[:-1]] + [f"≥{hi:g}/air"])
        ax_l.set_ylabel("lambda")
        ax_l.legend(loc="upper left", fontsize=legend_size, ncols=2 if several else 1)
    if ax_hc is not None:
        ax_hc.legend(loc="upper right" if any_lambda else "upper left", fontsize=legend_size)
    ax_t.set_ylabel("cell temp, °C")
    ax_t.legend(loc="lower right", fontsize=legend_size, ncols=len(named))
    ax_h.set_ylabel("heater, V (eff.)")
    ax_n.set_ylabel("Nernst, V")
    ax_n.set_xlabel("time, s")
    ax_n.set_xlim(0.0, max(max(r.end_s for _, r in named), 1e-3))

    if several:
        handles = [Patch(color=CHANNEL_COLORS[i % len(CHANNEL_COLORS)], label=label)
                   for i, (label, _) in enumerate(named)]
        handles.append(Patch(color="white", label="dotted: closed loop starts; dashed: a fault"))
    else:
        seen = list(dict.fromkeys(state for _, _, state in named[0][1].state_spans()))
        handles = [Patch(color=STATE_COLORS.get(s, "#eeeeee"), alpha=0.5, label=s) for s in seen]
    if handles:
        fig.legend(handles=handles, loc="outside upper right", ncols=len(handles), fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=11, x=0.01, ha="left")
    return fig
