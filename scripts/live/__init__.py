"""The live view (`--live` on `lambdarig simulate` and `run`): a page on 127.0.0.1 with rolling plots
of the telemetry, the controller state and the faults as they happen.

- `LiveFeed`: the telemetry sink the control loop feeds (a bounded deque; no lock, no I/O).
- `LiveServer(feed, port)`: the page and its server-sent events, on uvicorn in a daemon thread.

From Python:

    from lambdarig.live import LiveFeed, LiveServer
    feed = LiveFeed()
    server = LiveServer(feed, port=0).start()      # server.url: http://127.0.0.1:PORT/
    try:
        lambdarig.simulate(sinks=[feed], realtime=1.0)
    finally:
        server.stop()

Needs the `live` extra (`pip install 'lambdarig[live]'`: Starlette and uvicorn). The page's assets
(uPlot 1.6.32, MIT) ship in the package under static/.
"""

from __future__ import annotations

from .feed import LiveFeed
from .server import DEFAULT_PORT, HOST, LiveServer

__all__ = ["LiveFeed", "LiveServer", "DEFAULT_PORT", "HOST"]
