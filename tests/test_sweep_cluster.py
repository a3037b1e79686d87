"""Sweeps on a real Dask LocalCluster (2 worker processes on 127.0.0.1, one per module): rows stored
as they finish and read back with pandas, identical to the same cases run in this process, a rerun
that does no work, a killed worker that loses nothing, a case that raises as a row, Ctrl-C keeps what
finished, the command line's progress lines, the report."""

from __future__ import annotations

import os
import signal

import pandas as pd
import pytest

distributed = pytest.importorskip("dask.distributed")

from lambdarig.cli import main  # noqa: E402
from lambdarig.sweep.cases import code_id, expand  # noqa: E402
from lambdarig.sweep.engine import run_sweep  # noqa: E402
from lambdarig.sweep.runner import run_batch  # noqa: E402
from lambdarig.sweep.spec import sweep_from_dict  # noqa: E402
from lambdarig.sweep.store import read_results  # noqa: E402

# Short cases: a cold LSU 4.9 is ready at ~10.3 s, so 12 s leaves a steady window (and ~0.1 s of CPU).
SMALL = {"name": "small", "duration_s": 16.0, "batch_size": 1,
         "axes": {"scenario": ["default", "step-response"], "fuel": ["gasoline", "e85"], "seed": [0, 1]}}
RUN_FACTS = ["wall_s", "worker"]   # facts of the run, not metrics: they differ from run to run


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None, silence_logs=40)
    dask_client = distributed.Client(cluster)
    try:
        yield dask_client
    finally:
        dask_client.close()
        cluster.close()


def metrics_only(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=RUN_FACTS).reset_index(drop=True)


@pytest.mark.slow
def test_a_sweep_stores_its_rows_and_a_rerun_does_no_work(client, tmp_path):
    spec = sweep_from_dict(SMALL, "small.toml")
    lines: list[str] = []

    class Lines:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            pass

    outcome = run_sweep(spec, tmp_path, client=client, stream=Lines(), every_s=0.0)
    assert (outcome.total, outcome.ran, outcome.errors, outcome.lost_batches) == (8, 8, 0, 0)
    assert any(line.startswith("sweep: 8/8 cases (100 %)") for line in lines), lines
    frame = read_results(tmp_path)
    assert len(frame) == 8 and list(frame["key"]) == sorted(frame["key"])
    assert (frame["error"] == "").all() and (frame["steady_windows"] >= 1).all()
    assert (frame["in_tolerance_share"] == 1.0).all() and (frame["false_faults"] == 0).all()
    parts = sorted(p.name for p in (tmp_path / "parts").iterdir())
    assert len(parts) == 8 and all(p.endswith(".parquet") for p in parts)   # one per batch, no temp left

    # The same cases in this process, in reverse order: bit-identical metrics.
    cases = expand(spec)
    serial = pd.DataFrame(list(reversed(run_batch(list(reversed(cases)), code_id()))))
    serial = serial.sort_values("key").reset_index(drop=True)[frame.columns]
    pd.testing.assert_frame_equal(metrics_only(frame), metrics_only(serial), check_exact=True, check_dtype=False)

    again = run_sweep(spec, tmp_path, client=client, stream=Lines())
    assert (again.ran, again.skipped) == (0, 8)
    assert len(list((tmp_path / "parts").iterdir())) == 8

    # A sweep's own LocalCluster with 1 worker: the same rows again.
    one = run_sweep(spec, tmp_path / "one", workers=1, stream=Lines())
    assert (one.workers, one.ran) == (1, 8)
    pd.testing.assert_frame_equal(metrics_only(frame), metrics_only(read_results(tmp_path / "one")),
                                  check_exact=True)


@pytest.mark.slow
def test_a_killed_worker_loses_no_finished_row(client, tmp_path):
    data = dict(SMALL, name="kill")
    spec = sweep_from_dict(data, "kill.toml")
    pids = client.run(os.getpid)
    killed: list[int] = []

    def kill_one(parts: int) -> None:
        if parts == 2 and not killed:
            pid = sorted(pids.values())[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    outcome = run_sweep(spec, tmp_path, client=client, stream=open(os.devnull, "w"), on_part=kill_one)
    assert killed
    assert outcome.lost_batches == 0 and outcome.ran == 8
    frame = read_results(tmp_path)
    assert len(frame) == 8 and frame["key"].is_unique and (frame["error"] == "").all()
    client.wait_for_workers(2, timeout=60)


def test_a_case_that_raises_is_a_row_and_ctrl_c_keeps_what_finished(client, tmp_path):
    element = tmp_path / "my-element.toml"
    from lambdarig.emulator.element_spec import element_path
    element.write_text(element_path("lsu49").read_text())
    data = dict(SMALL, axes={"element": ["lsu49", str(element)], "seed": [0, 1, 2]})
    spec = sweep_from_dict(data, "err.toml")
    element.write_text("this is not [toml")   # checked when the file was read, broken before it runs

    def stop(parts: int) -> None:
        if parts == 2:
            raise KeyboardInterrupt

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, out, client=client, stream=open(os.devnull, "w"), on_part=stop)
    assert len(read_results(out)) == 2
    outcome = run_sweep(spec, out, client=client, stream=open(os.devnull, "w"))
    assert outcome.skipped == 2 and outcome.ran == 4
    frame = read_results(out)
    assert len(frame) == 6
    broken = frame[frame["element"] == str(element)]
    assert (broken["error"].str.contains("my-element.toml")).all() and broken["steady_windows"].isna().all()
    assert (frame[frame["element"] == "lsu49"]["error"] == "").all()

    retried = run_sweep(spec, out, client=client, stream=open(os.devnull, "w"), retry_errors=True)
    assert (retried.ran, retried.errors, retried.skipped) == (3, 3, 3)
    assert len(read_results(out)) == 6


@pytest.mark.slow
def test_the_command_line_on_a_cluster_with_progress_lines_and_a_report(client, tmp_path, capsys):
    sweep_file = tmp_path / "cli.toml"
    sweep_file.write_text('duration_s = 16.0\nbatch_size = 1\n[axes]\nscenario = ["default"]\nseed = [0, 1, 2]\n'
                          '[variants.base]\n[variants.warm]\nheater.target_temp_c = 790.0\n')
    out = tmp_path / "res"
    address = client.scheduler.address
    argv = ["sweep", str(sweep_file), "--scheduler", address, "--out", str(out), "--csv", "--progress-every", "0.1"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "Dask dashboard" in captured.err
    assert "sweep: 6/6 cases (100 %)" in captured.err
    assert "6 cases ran (0 with an error)" in captured.out
    assert len(pd.read_csv(out / "results.csv")) == 6
    assert main(argv) == 0
    assert "nothing to do, all 6 cases are in" in capsys.readouterr().out

    png, page = tmp_path / "r.png", tmp_path / "r.html"
    assert main(["sweep", "report", str(out), "--png", str(png), "--html", str(page), "--worst", "2"]) == 0
    table = capsys.readouterr().out
    assert "6 cases, 0 with errors, 6 pass (100.0 %)" in table and "variant   warm" in table
    assert table.count("lambdarig sweep replay") == 2
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "data:image/png;base64," in page.read_text()

    key = read_results(out)["key"].iloc[0]
    assert main(["sweep", "replay", str(out), key[:8], "--log", str(tmp_path / "one.csv")]) == 0
    out = capsys.readouterr().out
    assert "replayed case " in out and "the same as the stored row" in out and "error" not in out
    assert (tmp_path / "one.csv").stat().st_size > 0


@pytest.mark.slow
def test_a_scheduler_that_goes_away_loses_no_finished_row(client, tmp_path):
    """A cluster of its own (`dask scheduler`, `dask worker` processes on 127.0.0.1), joined with
    `scheduler=`; the scheduler is killed after the first stored batch: the batches not finished are
    reported lost, what finished stays, and the rerun (here on the module's cluster) runs only the rest."""
    import json
    import subprocess
    import sys
    import time

    dask_cli = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    address_file = tmp_path / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen([*dask_cli, "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(address_file)], **quiet)
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not address_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(address_file.read_text())["address"]
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "1",
                                   "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"], **quiet)
        spec = sweep_from_dict(SMALL, "gone.toml")

        def kill_scheduler(parts: int) -> None:
            if parts == 1:
                scheduler.kill()

        outcome = run_sweep(spec, tmp_path / "out", scheduler=address, stream=open(os.devnull, "w"),
                            on_part=kill_scheduler)
        assert outcome.ran >= 1 and outcome.lost_batches >= 1 and outcome.ran + outcome.lost_batches == 8
        kept = read_results(tmp_path / "out")
        assert len(kept) == outcome.ran
        again = run_sweep(spec, tmp_path / "out", client=client, stream=open(os.devnull, "w"))
        assert (again.skipped, again.ran) == (outcome.ran, 8 - outcome.ran)
        assert len(read_results(tmp_path / "out")) == 8
    finally:
        for process in (worker, scheduler):   # SIGTERM first: a worker closes its own worker process
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=30)
