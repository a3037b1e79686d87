"""Telemetry sinks for the command line, re-exported in one place: the live status line
(lambdarig.status_line), the lambda accuracy (lambdarig.lambda_accuracy), the run logs (CSV, MDF4,
.msl, in lambdarig.logs) and the plot's recorder (lambdarig.plot). The package's own modules import
them from where they live, so that a run without a log does not load the log writers.

A sink is a callable `sink(status, truth)` that the runtime calls once per telemetry tick (and once
more at the end of a run) with the controller's `Status` and, in simulation, the emulator's `Truth`
(None on real hardware). Sinks must be cheap: they run inside the control loop.
"""

from __future__ import annotations

from .lambda_accuracy import LambdaAccuracy
from .logs import CsvLog, OutputError
from .logs.channels import channels_for
from .plot import PLOT_LAMBDA_RANGE, PLOT_MAX_POINTS, Recorder, check_plot_available, plot_run
from .status_line import StatusLine, format_lambda

# The CSV log's columns (every log format has the same channels: lambdarig.logs.channels).
CSV_COLUMNS = tuple(c.name for c in channels_for(with_truth=False, with_hc=False))
TRUTH_COLUMNS = tuple(c.name for c in channels_for(with_truth=True, with_hc=False) if c.source == "truth")

__all__ = ["CSV_COLUMNS", "TRUTH_COLUMNS", "CsvLog", "OutputError", "StatusLine", "Recorder", "LambdaAccuracy",
           "plot_run", "check_plot_available", "format_lambda", "PLOT_LAMBDA_RANGE", "PLOT_MAX_POINTS"]
