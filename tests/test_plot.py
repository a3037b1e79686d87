"""The run's plot (`--plot`): one sensor, and several sensors in one figure with a labelled line per
channel (lambdarig.plot)."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

import lambdarig
from lambdarig.cli import main
from lambdarig.plot import Recorder, draw_run

try:
    import matplotlib  # noqa: F401
    HAVE_MPL = True
except ImportError:
    HAVE_MPL = False

pytestmark = pytest.mark.skipif(not HAVE_MPL, reason="matplotlib not installed (pip install 'lambdarig[plot]')")
PNG = b"\x89PNG\r\n\x1a\n"


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def recorded(result) -> Recorder:
    recorder = Recorder(780.0, 0.45, t0_s=result.t0_s)
    for status, truth in result.recorded:
        recorder(status, truth)
    return recorder


def test_two_sensors_are_drawn_in_one_png(tmp_path):
    plot = tmp_path / "two.png"
    code, out, err = cli("simulate", "--element", "lsu49", "--element", "sealed-ref", "--duration", "3",
                         "--json", "--plot", str(plot))
    assert code == 0, err
    assert json.loads(out)["plot"] == str(plot)
    data = plot.read_bytes()
    assert data[:8] == PNG and len(data) > 10_000
    code, out, err = cli("simulate", "--element", "lsu49", "--element", "lsu49", "--duration", "1",
                         "--quiet", "--plot", str(tmp_path / "text.png"))
    assert code == 0, err
    assert f"plot {tmp_path / 'text.png'}" in out   # the plain summary names it too


def test_each_channel_has_its_own_labelled_lines():
    import matplotlib.pyplot as plt

    result = lambdarig.simulate(["lsu49", "sealed-ref"], duration_s=16.0, seed=1)
    first, second = (recorded(ch) for ch in result.channels)
    fig = draw_run([("ch0 lsu49", first), ("ch1 sealed-ref", second)], "two")
    try:
        lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
        for label, rec in (("ch0 lsu49", first), ("ch1 sealed-ref", second)):
            measured = lines[f"{label} measured (valid)"].get_ydata()
            assert len(measured) == len(rec.t_s) and any(v == v for v in measured), label
            assert f"{label} true" in lines
        colours = {lines[f"{label} measured (valid)"].get_color() for label in ("ch0 lsu49", "ch1 sealed-ref")}
        assert len(colours) == 2
        # the other axes: a line per channel too
        assert {"ch0 lsu49", "ch1 sealed-ref"} <= {line.get_label() for line in fig.axes[2].get_lines()}
        legend = [text.get_text() for text in fig.legends[0].get_texts()]
        assert legend[:2] == ["ch0 lsu49", "ch1 sealed-ref"]
    finally:
        plt.close(fig)


def test_one_sensor_keeps_its_state_bands_and_black_truth():
    import matplotlib.pyplot as plt

    result = lambdarig.simulate("lsu49", duration_s=16.0, seed=1)
    fig = draw_run([("", recorded(result))], "one")
    try:
        lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
        assert lines["true"].get_color() == "black" and "measured (valid)" in lines
        legend = [text.get_text() for text in fig.legends[0].get_texts()]
        assert "closed_loop" in legend and "ramp" in legend
    finally:
        plt.close(fig)


@pytest.mark.parametrize("name, said", [("run.jpg", "suffix '.jpg'"), ("run", "no suffix"), ("run.svg", "'.svg'")])
def test_a_plot_name_that_is_not_png_is_refused_before_running(tmp_path, name, said):
    code, out, err = cli("simulate", "--duration", "1", "--quiet", "--plot", str(tmp_path / name),
                         "--log", str(tmp_path / "run.csv"))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "--plot" in err and said in err and "ending in .png" in err
    assert list(tmp_path.iterdir()) == []
    code, _, err = cli("simulate", "--duration", "0.5", "--quiet", "--plot", str(tmp_path / "RUN.PNG"))
    assert code == 0, err
