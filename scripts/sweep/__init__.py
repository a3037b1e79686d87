"""`lambdarig sweep`: thousands of closed-loop simulations of the firmware on `sim:`, over the axes of
a sweep file (elements, units, age, scenarios, fuels, settings variants, seeds), run on Dask
(`dask.distributed`), one row of metrics per case, kept in Parquet as the cases finish.

Modules, one job each:
    spec       the sweep file's schema and checks
    cases      the cases (product of the axes) and their content keys
    tolerance  the Bosch lambda accuracy band
    metrics    a case's metrics from the telemetry (steady windows from the truth)
    runner     worker side: run a batch of cases, per-process caches
    store      Parquet parts + manifest; resume; read_results
    progress   the progress bar / lines
    engine     the Dask driver
    report     distributions, yields, worst cases (PNG / HTML) and the table

Needs the `sweep` extra (dask[distributed], pyarrow, bokeh for the dashboard).
"""
