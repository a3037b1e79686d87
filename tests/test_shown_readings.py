"""What a display shows of the firmware's placeholders (lambdarig.controller.readings): below the ESR
table the temperature estimate is an extrapolation and reads "cold" on the status line, the live page
and the plot, as in the logs (tests/test_logs.py); the AFR says air where lambda does."""

from __future__ import annotations

import io
import math

from lambdarig.controller.core import Controller, Status
from lambdarig.controller.readings import shown_afr, shown_temp_c, table_floor_c
from lambdarig.controller.settings import Settings
from lambdarig.live.feed import COLUMNS, LiveFeed
from lambdarig.plot import Recorder
from lambdarig.telemetry import StatusLine


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def status(temp_c: float, t_s: float = 1.0) -> Status:
    return Status(t_s=t_s, state="ramp", lambda_value=math.nan, o2_pct=math.nan, afr=math.nan, lambda_valid=False,
                  nernst_v=0.45, pump_current_a=0.0, ri_ohm=5e5, temp_c=temp_c, heater_v=9.0, heater_duty=0.6,
                  supply_v=13.5, fault="", saturation=0)


def test_the_lsu49_table_starts_at_500_c_and_below_it_nothing_is_shown():
    floor_c = table_floor_c(Controller(Settings()).profile)
    assert floor_c == 500.0
    assert math.isnan(shown_temp_c(-38.0, floor_c)) and math.isnan(shown_temp_c(499.0, floor_c))
    assert shown_temp_c(500.0, floor_c) == 500.0
    assert math.isnan(shown_temp_c(-40.0)) and shown_temp_c(-38.0) == -38.0   # unbound: the floor only
    assert math.isinf(shown_afr(728.3, 50.0)) and shown_afr(14.7, 1.0) == 14.7


def test_the_status_line_says_cold_below_the_table_once_bound():
    line = StatusLine(Tty(), min_interval_s=0.0, clock=lambda: 0.0)
    line.bind_controller(Controller(Settings()))
    line.show(status(-38.0))
    assert "cold" in line.stream.getvalue() and "-38" not in line.stream.getvalue()
    line.show(status(650.0))
    assert "650 °C" in line.stream.getvalue()


def test_the_live_page_gets_no_temperature_below_the_table_once_bound():
    feed = LiveFeed()
    feed.bind_controller(Controller(Settings()))
    feed(status(-38.0, 0.0), None)
    feed(status(650.0, 0.01), None)
    rows = feed.rows_after(0, 10)
    temp = COLUMNS.index("temp_c")
    assert [row[temp] for row in rows] == [None, 650.0]


def test_the_plot_draws_no_estimate_below_the_table():
    import pytest

    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from lambdarig.plot import draw_run

    recorder = Recorder(780.0, 0.45, temp_floor_c=500.0)
    for i, temp in enumerate((-38.0, 120.0, 499.0, 505.0, 650.0)):
        recorder(status(temp, i * 0.01), None)
    fig = draw_run([("", recorder)], "ramp")
    try:
        estimate = next(line for line in fig.axes[1].get_lines() if line.get_label() == "estimated (Ri)")
        assert [v == v for v in estimate.get_ydata()] == [False, False, False, True, True]
    finally:
        plt.close(fig)


def test_a_session_binds_its_display_sinks_to_the_firmware_it_runs():
    import lambdarig

    line, feed = StatusLine(io.StringIO()), LiveFeed()
    assert line.temp_floor_c == feed.temp_floor_c == -40.0
    lambdarig.simulate("lsu42", duration_s=0.5, seed=1, sinks=[line, feed])
    assert line.temp_floor_c == feed.temp_floor_c == 503.0   # lsu42's ESR table ends at 503 °C
