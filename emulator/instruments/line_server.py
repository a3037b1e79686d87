"""The line server of an emulated instrument: one TCP listener on a loopback address, a thread per
connection, '\\n'-terminated request lines ('\\r' before it is ignored), one reply line per request
that has one, with failure injection for client tests (silence, disconnect, refuse, delay).

Bounded against hostile clients: at most MAX_CONNECTIONS open connections (more are closed at once,
so 2,000 connection attempts cannot make 2,000 threads), and at most MAX_LINE_BYTES per line: a
longer line is discarded up to its terminator, `on_overflow()` is called once for it (the station
queues -223 "Too much data"), and the connection goes on serving the next line.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable

MAX_LINE_BYTES = 4096          # a real instrument's input buffer is of this order; ours need < 200
MAX_CONNECTIONS = 8            # per instrument (a LAN instrument serves a handful of sockets)
RECV_BYTES = 65536
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only


def check_loopback(host: str) -> str:
    """The host as an IPv4 loopback address (the servers never listen beyond this machine)."""
    text = "127.0.0.1" if host == "localhost" else host
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"host {host!r}: the emulated instruments bind a loopback address only "
                         "(127.0.0.1)") from None
    if address.version != 4 or not address.is_loopback:
        raise ValueError(f"host {host!r}: the emulated instruments bind a loopback address only (127.0.0.1)")
    return text


class LineServer:
    """A threaded TCP server on a loopback address: one '\\n'-terminated request line at a time per
    connection, `handler(line) -> reply or None`.

    Failure injection: `silent` (input is read and dropped: nothing runs, nothing answers),
    `disconnect()` (close the open connections; new ones are accepted), `refuse` (close each new
    connection at once), `delay_s` (wait before each reply).
    """

    def __init__(self, handler: Callable[[str], str | None], host: str = "127.0.0.1", port: int = 0,
                 name: str = "scpi", on_overflow: Callable[[], None] | None = None):
        self.handler = handler
        self.on_overflow = on_overflow
        self.refused_connections = 0
        self.name = name
        self.silent = False
        self.refuse = False
        self.delay_s = 0.0
        host = check_loopback(host)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, port))
        except OSError as exc:
            self._sock.close()
            raise OSError(exc.errno, f"{name}: cannot listen on {host}:{port}: {exc.strerror}") from None
        self._sock.listen(8)
        self._sock.settimeout(0.1)
        self.address: tuple[str, int] = self._sock.getsockname()[:2]
        self._stop = threading.Event()
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.address[1]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._accept_loop, name=f"{self.name}-accept", daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            if self.refuse or self._stop.is_set():
                _close(conn)
                continue
            with self._conns_lock:
                full = len(self._conns) >= MAX_CONNECTIONS
            if full:
                self.refused_connections += 1
                _close(conn)
                continue
            conn.settimeout(None)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._conns_lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name=f"{self.name}-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        pending = bytearray()     # the start of a line whose terminator has not come yet
        discarding = False        # inside a line that outgrew MAX_LINE_BYTES: dropped up to its '\n'
        try:
            while not self._stop.is_set():
                try:
                    data = conn.recv(RECV_BYTES)
                except OSError:
                    break
                if not data:
                    break
                if _QUICKACK is not None:
                    # Acknowledge at once: a client that does not set TCP_NODELAY (pyvisa-py) holds
                    # its next small write (Nagle) until this ACK, which a delayed ACK would
                    # postpone by ~40 ms. Linux clears the flag after use, so set it every time.
                    try:
                        conn.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
                    except OSError:
                        pass
                start = 0
                # Scan each received byte once (index based: no copying of the rest per line).
                while True:
                    end = data.find(b"\n", start)
                    if end < 0:
                        break
                    if discarding:
                        discarding = False
                    elif len(pending) + end - start > MAX_LINE_BYTES:
                        self._overflow()
                    else:
                        pending += data[start:end]
                        self._answer(conn, bytes(pending))
                    pending.clear()
                    start = end + 1
                if not discarding:
                    pending += data[start:]
                    if len(pending) > MAX_LINE_BYTES:
                        self._overflow()
                        pending.clear()
                        discarding = True
        except OSError:
            pass
        finally:
            with self._conns_lock:
                self._conns.discard(conn)
            _close(conn)

    def _overflow(self) -> None:
        if self.silent or self.on_overflow is None:
            return
        self.on_overflow()

    def _answer(self, conn: socket.socket, raw: bytes) -> None:
        if self.silent:
            return
        line = raw.rstrip(b"\r").decode("latin-1")
        if not line.strip():
            return
        reply = self.handler(line)
        if reply is None:
            return
        if self.delay_s > 0.0:
            time.sleep(self.delay_s)
        if self.silent:
            return
        conn.sendall(reply.encode("latin-1", "replace") + b"\n")

    def disconnect(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            _close(conn)

    def stop(self) -> None:
        self._stop.set()
        _close(self._sock)
        self.disconnect()
        if self._thread is not None:
            self._thread.join(timeout=1.0)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
