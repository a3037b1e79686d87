"""The firmware as a pymeasure Procedure (lambdarig.pymeasure), run the pymeasure way: in a `Worker`,
its rows written by `Results` to a file and read back; on the simulator, and on the emulated rig over
a real pty with the Worker's abort making the outputs safe."""

from __future__ import annotations

import math

import pytest
from realtime import SLACK_S, wait_for
from test_serial_frontend import TOLERANT, is_safe

from lambdarig.emulator.serial_rig import RigServer

pytest.importorskip("pymeasure")
from pymeasure.experiment import Procedure, Results, Worker  # noqa: E402

from lambdarig.pymeasure import LambdaProcedure  # noqa: E402

pytestmark = [pytest.mark.timeout(120)]


def run_in_worker(procedure: LambdaProcedure, path, timeout_s: float = 60.0) -> Results:
    results = Results(procedure, str(path))
    worker = Worker(results)
    worker.start()
    worker.join(timeout=timeout_s)        # pymeasure's join waits for the stop event, not the thread
    assert wait_for(lambda: not worker.is_alive(), timeout_s)
    return results


def test_procedure_runs_the_simulator_in_a_worker_and_results_reads_it_back(tmp_path):
    procedure = LambdaProcedure(hal_url="sim:lsu49", duration_s=18.0, record_every=10)
    run_in_worker(procedure, tmp_path / "run.csv")
    assert procedure.status == Procedure.FINISHED
    assert procedure.summary["final_state"] == "stopped" and procedure.summary["time_to_ready_s"] < 18.0
    data = Results.load(str(tmp_path / "run.csv")).data
    assert list(data.columns) == LambdaProcedure.DATA_COLUMNS
    assert len(data) == 181                      # 100 Hz telemetry, every 10th tick, 0..18 s
    assert "closed_loop" in set(data["State"])
    assert math.isnan(data["Temperature (C)"].iloc[0])   # cold: no made-up -40 °C
    shown = data["Temperature (C)"].dropna()
    assert len(shown) > 50 and shown.min() >= 500.0      # nor the extrapolation below the ESR table
    last = data.iloc[-10:]
    assert ((last["Lambda"] - last["True lambda"]).abs() < 0.01).all()
    text = (tmp_path / "run.csv").read_text()
    assert "#\tFront end: sim:lsu49" in text and "#\tDuration: 18 s" in text


def test_worker_abort_on_the_emulated_rig_leaves_it_safe(tmp_path):
    with RigServer(flash_path=tmp_path / "flash.bin") as rig:
        procedure = LambdaProcedure(hal_url=f"{rig.path}?{TOLERANT}", duration_s=600.0, record_every=5,
                                    default_settings=True)
        results = Results(procedure, str(tmp_path / "rig.csv"))
        worker = Worker(results)
        worker.start()
        assert wait_for(lambda: rig.outputs()[1] > 0.0, 10 + SLACK_S), "the heater never came on"
        worker.stop()
        worker.join(timeout=30)
        assert wait_for(lambda: not worker.is_alive(), 30)
        assert procedure.status == Procedure.ABORTED
        assert wait_for(lambda: is_safe(rig), SLACK_S)
        assert len(Results.load(str(tmp_path / "rig.csv")).data) > 0
