"""The firmware as a pymeasure `Procedure`: pymeasure's `Worker`, `Results` and `ManagedWindow` run it
on any front end (`sim:lsu49`, `serial:///dev/ttyUSB0?baudrate=921600`, `visa:station.toml`) and log
its telemetry the pymeasure way (a CSV with the parameters in its header).

    from pymeasure.experiment import Results, Worker
    from lambdarig.pymeasure import LambdaProcedure

    procedure = LambdaProcedure(hal_url="sim:lsu49", duration_s=20.0, record_every=10)
    results = Results(procedure, "run.csv")
    worker = Worker(results)
    worker.start()
    worker.join(timeout=60)
    print(results.data[["Time (s)", "Lambda", "Temperature (C)"]].tail())

`execute()` is `lambdarig.run(...)`: the same session as `lambdarig run --hal URL`, with the outputs
made safe on every way out (the end, an exception, the Worker's abort through `should_stop`). Each
`record_every`-th telemetry tick becomes one row (`emit("results", ...)`), and progress is the share
of `duration_s` done (`emit("progress", %)`). Needs pymeasure (`pip install 'lambdarig[pymeasure]'`);
`import lambdarig` alone does not import it.
"""

from __future__ import annotations

import logging
import math
from typing import Any

try:
    from pymeasure.experiment import BooleanParameter, FloatParameter, IntegerParameter, Parameter, Procedure
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("lambdarig.pymeasure needs pymeasure: pip install 'lambdarig[pymeasure]'") from exc

from lambdarig.controller.profiles import TEMP_FLOOR_C
from lambdarig.controller.readings import shown_temp_c, table_floor_c

from . import api

log = logging.getLogger(__name__)

# Column -> how it is read from the firmware's telemetry (controller.core.Status) and the truth.
COLUMNS: dict[str, Any] = {
    "Time (s)": lambda st, tr: st.t_s,
    "State": lambda st, tr: st.state,
    "Lambda": lambda st, tr: st.lambda_value if st.lambda_valid else math.nan,
    "O2 (%)": lambda st, tr: st.o2_pct,
    # Below its ESR table the estimate is an extrapolation: no number, not -38 or -40 (set per run by
    # _ProcedureSink with the firmware's table; the floor alone until then).
    "Temperature (C)": lambda st, tr: shown_temp_c(st.temp_c),
    "Pump current (A)": lambda st, tr: st.pump_current_a,
    "Nernst (V)": lambda st, tr: st.nernst_v,
    "Ri (ohm)": lambda st, tr: st.ri_ohm,
    "Heater (V)": lambda st, tr: st.heater_v,
    "Supply (V)": lambda st, tr: st.supply_v,
    "HC (ppm)": lambda st, tr: st.hc_ppm,
    "Fault": lambda st, tr: st.fault,
    "True lambda": lambda st, tr: math.nan if tr is None else tr.lambda_value,
}


class _ProcedureSink:
    """The procedure's telemetry sink as the session hands sinks the firmware (bind_controller): the
    temperature column is blank below the firmware's ESR table."""

    def __init__(self, procedure: LambdaProcedure):
        self.procedure = procedure

    def bind_controller(self, controller: Any) -> None:
        self.procedure._temp_floor_c = table_floor_c(controller.profile)

    def __call__(self, status: Any, truth: Any) -> None:
        self.procedure._sink(status, truth)


class LambdaProcedure(Procedure):
    """Run the controller firmware on a front end and record its telemetry (see the module docstring)."""

    hal_url = Parameter("Front end", default="sim:lsu49")
    duration_s = FloatParameter("Duration", units="s", default=20.0, minimum=0.01, maximum=7 * 86400.0)
    settings_file = Parameter("Settings file", default="")
    default_settings = BooleanParameter("Ignore settings stored on the device", default=False)
    record_every = IntegerParameter("Record every N-th telemetry tick", default=10, minimum=1, maximum=100000)

    DATA_COLUMNS = list(COLUMNS)

    def startup(self) -> None:
        self.summary: dict[str, Any] = {}
        self._ticks = 0
        self._next_progress = 0.0
        self._t0: float | None = None
        self._temp_floor_c = TEMP_FLOOR_C

    def _sink(self, status, truth) -> None:
        if self._t0 is None:
            self._t0 = status.t_s
        n = self._ticks
        self._ticks = n + 1
        if n % int(self.record_every):
            return
        row = {name: read(status, truth) for name, read in COLUMNS.items()}
        row["Time (s)"] = status.t_s - self._t0
        row["Temperature (C)"] = shown_temp_c(status.temp_c, self._temp_floor_c)
        self.emit("results", row)
        done = 100.0 * row["Time (s)"] / float(self.duration_s)
        if done >= self._next_progress:
            self.emit("progress", min(done, 100.0))
            self._next_progress = done + 1.0

    def execute(self) -> None:
        result = api.run(str(self.hal_url).strip(), settings=str(self.settings_file).strip() or None,
                         duration_s=float(self.duration_s), use_stored_settings=not self.default_settings,
                         keep_samples=False, sinks=[_ProcedureSink(self)], should_stop=self.should_stop,
                         progress=log.info, warn=log.warning)
        self.summary = result.summary
        self.emit("progress", 100.0)
        log.info("lambdarig: %s, time to ready %s s, final state %s", result.summary.get("frontend"),
                 result.summary.get("time_to_ready_s"), result.summary.get("final_state"))

    def get_estimates(self) -> list[tuple[str, str]]:
        return [("Duration", f"{float(self.duration_s):g} s"), ("Front end", str(self.hal_url))]
