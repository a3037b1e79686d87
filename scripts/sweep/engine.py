"""The sweep driver: what is missing is cut into batches, run as Dask tasks, and each finished
batch is stored at once (store.py). Dask does the distributing, the rescheduling of a killed
worker's tasks and the dashboard; this module only decides what to run and keeps what comes back.

By default a LocalCluster on this machine: one worker process per core, one thread each (a case is
pure Python: threads would share one GIL), everything bound to 127.0.0.1. `scheduler` instead joins
an existing cluster (`dask scheduler` + `dask worker tcp://HOST:8786` on each machine, with the same
lambdarig installed: workers whose code id differs are refused).
"""

from __future__ import annotations

import logging
import math
import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from lambdarig.common.errors import LambdarigError

from .cases import code_id, expand
from .progress import Progress
from .runner import run_batch
from .spec import SweepSpec
from .store import ResultStore

DASK_INSTALL_HINT = "sweeps need Dask and pyarrow: pip install 'lambdarig[sweep]'"
# Cases per task, when the file does not say: about TASKS_PER_WORKER tasks per worker (so a killed
# worker loses little and the last tasks even out), within BATCH_LIMITS.
TASKS_PER_WORKER = 16
BATCH_LIMITS = (1, 32)
CODE_MISMATCH = "CodeMismatch"


class SweepError(LambdarigError):
    """The sweep cannot go on (workers with other code, no scheduler at the address)."""


@dataclass
class Outcome:
    total: int
    skipped: int
    ran: int = 0
    errors: int = 0
    lost_batches: int = 0
    lost_reasons: list[str] = field(default_factory=list)
    dashboard: str = ""
    workers: int = 0
    csv: Path | None = None


def auto_batch_size(cases: int, workers: int) -> int:
    size = math.ceil(cases / max(1, workers * TASKS_PER_WORKER))
    return min(max(size, BATCH_LIMITS[0]), BATCH_LIMITS[1])


def start_client(workers: int | None, scheduler: str | None):
    """A Dask client: on a new LocalCluster (127.0.0.1, processes, one thread each) or on the
    scheduler at the address. Returns (client, cluster or None)."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise SweepError(DASK_INSTALL_HINT) from None
    if scheduler is not None:
        try:
            return Client(scheduler, timeout="10s"), None
        except (OSError, TimeoutError) as exc:
            raise SweepError(f"no Dask scheduler answers at {scheduler}: {exc}") from None
    # The workers' own logs stay quiet (a killed or interrupted worker is handled here: lost batches
    # are counted and reported, what finished is stored).
    cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL)
    try:
        client = Client(cluster)
        from .worker_plugin import IgnoreCtrlC
        client.register_plugin(IgnoreCtrlC(), name="lambdarig-sweep-ctrl-c")
        return client, cluster
    except BaseException:
        cluster.close()
        raise



def run_sweep(spec: SweepSpec, out: str | Path, *, workers: int | None = None, scheduler: str | None = None,
              client: Any = None, retry_errors: bool = False, csv: bool = False, stream: TextIO = sys.stderr,
              every_s: float = 5.0, on_part: Callable[[int], None] | None = None) -> Outcome:
    """Run what is missing of the sweep into `out`. `client`: an existing dask.distributed Client to
    use (left open); otherwise one is started (LocalCluster, or `scheduler`) and closed at the end.
    `on_part(parts_stored)` is called after each stored batch. Ctrl-C: what is stored stays stored
    (KeyboardInterrupt goes on up, after the cluster is closed)."""
    cases = expand(spec)
    store = ResultStore(out, spec.metrics)
    code = code_id()
    store.open({"name": spec.name, "source": spec.source, "sweep": spec.raw, "code": code,
                "cases": len(cases)})
    done = store.done_keys(include_errors=not retry_errors)
    todo = [c for c in cases if c["key"] not in done]
    outcome = Outcome(total=len(cases), skipped=len(cases) - len(todo))
    if not todo:
        if csv:
            outcome.csv = store.write_csv()
        return outcome
    own_cluster = None
    own_client = client is None
    if own_client:
        client, own_cluster = start_client(workers, scheduler)
    try:
        outcome.dashboard = client.dashboard_link or ""
        outcome.workers = len(client.nthreads())
        stream.write(f"sweep {spec.name}: {len(cases)} cases, {outcome.skipped} already done, {len(todo)} to run "
                     f"on {outcome.workers} workers; Dask dashboard {outcome.dashboard or '(none)'}\n")
        stream.flush()
        _run(client, todo, spec, store, outcome, code, stream, every_s, on_part, csv)
    finally:
        if own_client:
            client.close()
        if own_cluster is not None:
            own_cluster.close()
        if csv:
            outcome.csv = store.write_csv()
    return outcome


def _run(client, todo: list[dict[str, Any]], spec: SweepSpec, store: ResultStore, outcome: Outcome, code: str,
         stream: TextIO, every_s: float, on_part: Callable[[int], None] | None, csv: bool) -> None:
    from dask.distributed import as_completed

    size = spec.batch_size or auto_batch_size(len(todo), max(1, outcome.workers))
    batches = [todo[i:i + size] for i in range(0, len(todo), size)]
    run_id = uuid.uuid4().hex[:8]   # task keys unique on a shared scheduler
    futures = [client.submit(run_batch, batch, code, key=f"lambdarig-sweep-{run_id}-{batch[0]['key']}", pure=False)
               for batch in batches]
    progress = Progress(outcome.total, outcome.skipped, stream, every_s=every_s)
    progress.start()
    parts = 0
    try:
        for future in as_completed(futures):
            try:
                rows = future.result()
            except Exception as exc:   # a task Dask gave up on (its worker died too often, scheduler gone)
                outcome.lost_batches += 1
                outcome.lost_reasons.append(f"{type(exc).__name__}: {exc}")
                continue
            mismatch = next((r["error"] for r in rows if r["error"].startswith(CODE_MISMATCH)), None)
            if mismatch:
                raise SweepError(mismatch)
            store.write_part(rows)
            if csv:
                store.append_csv(rows)
            parts += 1
            errors = sum(1 for r in rows if r["error"])
            outcome.ran += len(rows)
            outcome.errors += errors
            progress.add(len(rows), errors)
            if on_part is not None:
                on_part(parts)
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        progress.finish()
