"""A Dask worker plugin for the sweep's own LocalCluster: its workers ignore SIGINT. Ctrl-C on a
terminal reaches the whole process group; the client then stops the sweep and closes its cluster in
order, instead of every worker dying on its own in the middle of a task. (Imports Dask: loaded only
when a sweep starts a cluster.)"""

from __future__ import annotations

import signal
import threading

from distributed.diagnostics.plugin import WorkerPlugin


class IgnoreCtrlC(WorkerPlugin):
    idempotent = True

    def setup(self, worker) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
