"""`lambdarig sweep report RESULTS`: what a sweep found, as a table on stdout and a figure.

The figure (PNG, or one self-contained HTML file with the PNG inlined and the tables):
  1. lambda error vs the Bosch band per lambda point: each steady window's max |error| (the worst
     sample in it) against its true lambda, with the band (tolerance.py) drawn over them;
  2. yield per axis value: the share of cases that pass (ran without error, got ready, no false fault,
     every steady window inside the band: worst_tolerance_ratio <= 1), for every axis with more than
     one value;
  3. the worst cases (by worst_tolerance_ratio, errors first), each with the command that replays it.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import Any

from .store import read_results
from .tolerance import bosch_tolerance

AXIS_COLUMNS = ("element", "scenario", "fuel", "variant", "seed", "unit", "age_h")
WORST_DEFAULT = 10
PASS_RATIO = 1.0   # a window passes when its worst error is within the band
BAND_SPAN = (0.65, 2.0)   # lambda range the band is drawn over at least


def passed(row: dict[str, Any]) -> bool:
    if row.get("error"):
        return False
    if (row.get("false_faults") or 0) > 0:
        return False
    if "time_to_ready_s" in row and row["time_to_ready_s"] is None:
        return False   # never gave a valid lambda
    ratio = row.get("worst_tolerance_ratio")
    return ratio is None or not (ratio == ratio) or ratio <= PASS_RATIO


def replay_command(results: str | Path, key: str) -> str:
    return f"lambdarig sweep replay {results} {key} --plot {key}.png"


def _records(frame) -> list[dict[str, Any]]:
    records = frame.to_dict("records")
    for r in records:
        for k, v in list(r.items()):
            if isinstance(v, float) and math.isnan(v):
                r[k] = None
    return records


def yields(records: list[dict[str, Any]]) -> list[tuple[str, str, int, int]]:
    """(axis, value, passed, cases) for every axis with more than one value."""
    out = []
    for axis in AXIS_COLUMNS:
        found: set[Any] = {r[axis] for r in records if r.get(axis) is not None}
        try:
            values = sorted(found)   # an axis's values are of one kind: seeds sort as numbers
        except TypeError:
            values = sorted(found, key=str)
        if len(values) < 2:
            continue
        for value in values:
            group = [r for r in records if r.get(axis) == value]
            out.append((axis, str(value), sum(passed(r) for r in group), len(group)))
    return out


def worst(records: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    def badness(r: dict[str, Any]) -> tuple[int, int, float, str]:
        ratio = r.get("worst_tolerance_ratio")
        return (0 if r.get("error") else 1, -(r.get("false_faults") or 0),
                -(ratio if ratio is not None else -1.0), r["key"])
    return sorted(records, key=badness)[:count]


def windows(records: list[dict[str, Any]]) -> list[tuple[float, float, float]]:
    """(true lambda, worst |error|, band) of every steady window of every case."""
    points = []
    for r in records:
        for w in json.loads(r.get("windows") or "[]"):
            points.append((w["lambda"], w["max"], w["band"]))
    return points


def table_text(records: list[dict[str, Any]], results: str | Path, count: int) -> str:
    lines = []
    ran = [r for r in records if not r.get("error")]
    ok = sum(passed(r) for r in records)
    lines.append(f"{len(records)} cases, {len(records) - len(ran)} with errors, {ok} pass "
                 f"({100.0 * ok / len(records):.1f} %)" if records else "no rows")
    if yields(records):
        lines.append("")
        lines.append("yield per axis value:")
        for axis, value, good, total in yields(records):
            lines.append(f"  {axis:<9} {value:<24} {good:>5}/{total:<5} {100.0 * good / total:5.1f} %")
    lines.append("")
    lines.append(f"worst {min(count, len(records))} cases (ratio = worst |lambda error| / Bosch band):")
    for r in worst(records, count):
        ratio = r.get("worst_tolerance_ratio")
        what = r["error"] if r.get("error") else (f"ratio {ratio:.3f}" if ratio is not None else "no steady window")
        if r.get("false_faults"):
            what += f", {r['false_faults']} false faults ({r.get('fault_codes')})"
        params = ", ".join(f"{c}={r[c]}" for c in AXIS_COLUMNS if r.get(c) is not None)
        lines.append(f"  {r['key']}  {params}: {what}")
        lines.append(f"      {replay_command(results, r['key'])}")
    return "\n".join(lines)


def figure_png(records: list[dict[str, Any]], title: str) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ys = yields(records)
    fig, (ax_e, ax_y) = plt.subplots(2, 1, figsize=(10, 9), layout="constrained",
                                     gridspec_kw={"height_ratios": [3, max(1, len(ys) // 6 + 1)]})
    points = windows(records)
    if points:
        lam = [p[0] for p in points]
        ax_e.scatter(lam, [p[1] for p in points], s=10, alpha=0.5, color="#2171b5", label="steady window: max |error|")
        # The band over the data and at least its data-sheet points (0.8-1.7), so its shape shows.
        lo, hi = min(min(lam), BAND_SPAN[0]), max(max(lam), BAND_SPAN[1])
        span = [lo + (hi - lo) * i / 400 for i in range(401)]
        ax_e.plot(span, [bosch_tolerance(x) for x in span], color="#cb181d", lw=1.5, label="Bosch band")
        ax_e.set_yscale("log")
    ax_e.set_xlabel("true lambda")
    ax_e.set_ylabel("|lambda error|")
    ax_e.legend(loc="upper left", fontsize=8)
    ax_e.set_title("lambda error vs the Bosch tolerance, per steady window", fontsize=10)
    if ys:
        labels = [f"{a}={v}" for a, v, _, _ in ys]
        ax_y.barh(range(len(ys)), [100.0 * g / t for _, _, g, t in ys], color="#41ab5d")
        ax_y.set_yticks(range(len(ys)), labels, fontsize=7)
        ax_y.invert_yaxis()
        ax_y.set_xlim(0, 100)
    ax_y.set_xlabel("yield, % of cases passing")
    ax_y.set_title("yield per axis value", fontsize=10)
    fig.suptitle(title, fontsize=11)
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=100)
    finally:
        plt.close(fig)
    return buffer.getvalue()


def write_report(results: str | Path, png: str | Path | None, html_path: str | Path | None,
                 count: int = WORST_DEFAULT) -> str:
    """Write the figure(s) asked for and return the table text."""
    frame = read_results(results)
    records = _records(frame)
    text = table_text(records, results, count)
    if png is not None or html_path is not None:
        image = figure_png(records, f"sweep {Path(results).name}: {len(records)} cases")
        if png is not None:
            Path(png).write_bytes(image)
        if html_path is not None:
            encoded = base64.b64encode(image).decode()
            page = (f"<!doctype html><html><head><meta charset='utf-8'><title>sweep {html.escape(str(results))}"
                    f"</title></head><body><h1>sweep {html.escape(str(results))}</h1>"
                    f"<img alt='error and yield' src='data:image/png;base64,{encoded}'>"
                    f"<pre>{html.escape(text)}</pre></body></html>\n")
            Path(html_path).write_text(page, encoding="utf-8")
    return text
