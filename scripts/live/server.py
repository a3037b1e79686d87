"""The live view's web server: a small ASGI app (Starlette) on uvicorn, in a daemon thread.

Routes: `/` the page, `/static/...` its assets (shipped in the package: no CDN), `/events` the
telemetry as server-sent events. Every EVENT_INTERVAL_S the stream sends one JSON message with the
rows and events the page has not had yet (read as copies from the LiveFeed; the control loop is
never waited for). SSE rather than a WebSocket: the data flow one way, the browser reconnects by
itself, and it needs no extra library on either side.

The socket is bound here, in the caller's thread, before the server starts: a port in use is a
clear error at once (InputError naming the option), not a log line from another thread, and port 0
gives the free port the OS chose. Only 127.0.0.1: the page has no authentication, so it is never
offered to another machine.
"""

from __future__ import annotations

import asyncio
import errno
import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from lambdarig.common.errors import InputError, LambdarigError

from .feed import COLUMNS, LiveFeed

HOST = "127.0.0.1"
DEFAULT_PORT = 8765
STATIC = Path(__file__).parent / "static"
# 25 messages per second: above the 20 the page must get, and a batch is 4 rows at 100 Hz telemetry.
EVENT_INTERVAL_S = 0.04
# At most this many rows per message: a simulation without --realtime makes 10000+ rows per second.
MAX_ROWS_PER_MESSAGE = 3000
STARTUP_TIMEOUT_S = 30.0


def bind(port: int, option: str = "port") -> socket.socket:
    """A listening socket on 127.0.0.1:port (0: any free port); InputError when the port is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # a port left in TIME_WAIT is free
        sock.bind((HOST, port))
        sock.listen(64)
    except OSError as exc:
        sock.close()
        problem = (f"port {port} on {HOST} is in use" if exc.errno == errno.EADDRINUSE
                   else f"cannot listen on {HOST}:{port}: {exc.strerror or exc}")
        raise InputError("live view", option, problem,
                         allowed="a free port 1..65535, or 0 for any free port") from None
    return sock


class LiveServer:
    """Serves one LiveFeed on 127.0.0.1. `start()` returns once it accepts connections; `stop()` ends
    the streams and the thread."""

    def __init__(self, feed: LiveFeed, port: int = DEFAULT_PORT, *, title: str = "lambdarig",
                 option: str = "port"):
        self.feed = feed
        self.title = title
        self._closing = False
        self._sock = bind(port, option)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}/"
        config = uvicorn.Config(self._app(), log_config=None, log_level="warning", access_log=False,
                                lifespan="off", ws="none", http="h11", loop="asyncio",
                                timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="lambdarig-live", daemon=True)

    def _serve(self) -> None:
        self._server.run(sockets=[self._sock])

    def start(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._server.started:
            self.stop()
            raise LambdarigError(f"the live view did not start on {self.url} within {STARTUP_TIMEOUT_S:g} s")
        return self

    def stop(self) -> None:
        self._closing = True          # the event streams end, so the graceful shutdown does not wait
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        self._sock.close()

    # ---- the app --------------------------------------------------------------------------------
    def _app(self) -> Starlette:
        return Starlette(routes=[
            Route("/", self._index),
            Route("/info", self._info),
            Route("/events", self._events),
            Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        ], middleware=[
            # Only requests addressed to this machine by name: a web page elsewhere that points its
            # own host name at 127.0.0.1 (DNS rebinding) gets 400, not the telemetry.
            Middleware(TrustedHostMiddleware, allowed_hosts=[HOST, "localhost"]),
        ])

    async def _index(self, request: Request) -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def _info(self, request: Request) -> JSONResponse:
        return JSONResponse({"title": self.title, "columns": COLUMNS, "interval_s": EVENT_INTERVAL_S})

    async def _events(self, request: Request) -> StreamingResponse:
        return StreamingResponse(self._stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def _stream(self) -> AsyncIterator[str]:
        feed = self.feed
        row_seq = event_seq = 0
        ended_sent = False
        quiet_s = 0.0
        # The page learns the columns and the title from the first message; `retry` makes the
        # browser come back within a second after a broken connection.
        yield "retry: 1000\n" + _data({"title": self.title, "columns": COLUMNS})
        while not self._closing:
            rows = feed.rows_after(row_seq, MAX_ROWS_PER_MESSAGE)
            events = feed.events_after(event_seq)
            ended = feed.ended
            if rows or events or (ended and not ended_sent):
                if rows:
                    row_seq = rows[-1][0]
                if events:
                    event_seq = events[-1]["seq"]
                message: dict[str, object] = {"rows": rows, "events": events, "truth": feed.has_truth}
                if ended and not rows:
                    message["ended"] = ended   # after the last row, so the page has the run's end state
                    ended_sent = True
                yield _data(message)
                quiet_s = 0.0
            else:
                quiet_s += EVENT_INTERVAL_S
                if quiet_s >= 5.0:             # a comment now and then: a dead client shows as a failed write
                    yield ": keep-alive\n\n"
                    quiet_s = 0.0
            await asyncio.sleep(EVENT_INTERVAL_S)


def _data(message: dict[str, object]) -> str:
    return f"data: {json.dumps(message, separators=(',', ':'), allow_nan=False)}\n\n"
