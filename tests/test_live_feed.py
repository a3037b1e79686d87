"""The live view without a browser: the feed a real simulation fills, the server's page, assets and
event stream over real HTTP on 127.0.0.1, real-time pacing, and the command line's options
(`--live-port` in use or malformed: one line, exit 2; `--live --json`: stdout keeps its one JSON)."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import socket
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the live view needs the live extra: pip install 'lambdarig[live]'")
pytest.importorskip("uvicorn", reason="the live view needs the live extra: pip install 'lambdarig[live]'")

import lambdarig  # noqa: E402
from lambdarig.cli import main  # noqa: E402
from lambdarig.live import LiveFeed, LiveServer  # noqa: E402
from lambdarig.live.feed import COLUMNS  # noqa: E402

FAULT_SCENARIO = """
name = "live-fault"
description = "a short run with a heater_open fault"
duration_s = 4
lambda = 1.0

[[fault]]
t_s = 2.0
kind = "heater_open"
clear_s = 3.5
"""


@pytest.fixture
def fault_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "live-fault.toml"
    path.write_text(FAULT_SCENARIO)
    return path


def test_the_feed_holds_the_rows_and_the_events_of_a_run(fault_scenario):
    feed = LiveFeed()
    result = lambdarig.simulate(scenario=str(fault_scenario), sinks=[feed], keep_samples=False)
    rows = feed.rows_after(0, 100000)
    # One row per telemetry tick (100 Hz) plus the last one at the end of the run.
    assert len(rows) == 4 * 100 + 2
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0][COLUMNS.index("t_s")] == 0.0
    assert rows[-1][COLUMNS.index("state")] == "stopped"
    assert all(r[COLUMNS.index("true_lambda")] == 1.0 for r in rows)
    json.dumps(rows, allow_nan=False)   # NaN and infinity became null: the rows are JSON as they are
    events = feed.events_after(0)
    faults = [e for e in events if e["kind"] == "fault"]
    assert [e["code"] for e in faults] == ["heater_open"]
    assert faults[0]["text"] == "heater circuit open: no current while driven"
    assert abs(faults[0]["t_s"] - result.summary["faults"][0]["t_s"]) < 0.011
    assert [e["code"] for e in events if e["kind"] == "state"][:2] == ["wait_supply", "condensation"]
    # Only the newest rows when a reader asks for fewer; nothing newer than the last one.
    assert feed.rows_after(0, 5) == rows[-5:]
    assert feed.rows_after(rows[-1][0], 100) == []


def test_the_feed_is_bounded():
    feed = LiveFeed(max_rows=50, max_events=5)
    lambdarig.simulate(duration_s=2.0, sinks=[feed], keep_samples=False)
    rows = feed.rows_after(0, 1000)
    assert len(rows) == 50 and rows[-1][0] == 202
    assert len(feed.events_after(0)) <= 5


def _get(port: int, path: str, host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": host} if host else {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _sse_messages(port: int, count: int) -> list[dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    messages: list[dict] = []
    try:
        conn.request("GET", "/events")
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type", "").startswith("text/event-stream")
        while len(messages) < count:
            line = response.readline()
            if not line:
                break
            if line.startswith(b"data: "):
                messages.append(json.loads(line[6:]))
    finally:
        conn.close()
    return messages


def test_the_server_serves_the_page_its_assets_and_the_stream_on_localhost_only(fault_scenario):
    feed = LiveFeed()
    lambdarig.simulate(scenario=str(fault_scenario), sinks=[feed], keep_samples=False)
    feed.end("run ended: final state stopped")
    server = LiveServer(feed, port=0, title="test run").start()
    try:
        assert server.url == f"http://127.0.0.1:{server.port}/"
        assert server._sock.getsockname()[0] == "127.0.0.1"
        status, _, page = _get(server.port, "/")
        assert status == 200 and b"static/uPlot.iife.min.js" in page
        # Every asset the page names is served by the package itself: no other host is named.
        assert b"http://" not in page and b"https://" not in page
        for asset in ("uPlot.iife.min.js", "uPlot.min.css", "live.js", "live.css"):
            status, _, body = _get(server.port, f"/static/{asset}")
            assert status == 200 and len(body) > 500, asset
        # A page elsewhere whose host name points at 127.0.0.1 (DNS rebinding) is refused.
        assert _get(server.port, "/events", host=f"evil.example:{server.port}")[0] == 400
        assert _get(server.port, "/", host=f"localhost:{server.port}")[0] == 200
        first, second, third = _sse_messages(server.port, 3)
        assert first["columns"] == list(COLUMNS) and first["title"] == "test run"
        assert second["truth"] is True
        # Everything already made comes at once (up to the per-message cap), then the end.
        assert len(second["rows"]) == 402 and second["rows"][0][0] == 1
        assert any(e["code"] == "heater_open" for e in second["events"])
        assert third == {"rows": [], "events": [], "truth": True, "ended": "run ended: final state stopped"}
    finally:
        server.stop()


def test_realtime_paces_virtual_time_to_the_wall_clock_and_changes_nothing_else():
    fast = lambdarig.simulate(duration_s=1.0, seed=3)
    start = time.perf_counter()
    paced = lambdarig.simulate(duration_s=1.0, seed=3, realtime=2.0)
    wall_s = time.perf_counter() - start
    assert wall_s >= 0.5 - 0.011   # a lower bound only: the pacer sleeps, a busy machine only adds
    assert repr(paced.samples) == repr(fast.samples)   # repr: NaN == NaN


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_a_live_port_in_use_is_one_line_and_exit_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, out, err = run_cli("simulate", "--duration", "0.5", "--live", "--live-port", str(port))
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"lambdarig: error: live view: --live-port: port {port} on 127.0.0.1 is in use "
        f"(allowed: a free port 1..65535, or 0 for any free port)"]


@pytest.mark.parametrize("option, value", [("--live-port", "http"), ("--live-port", "70000"),
                                           ("--live-linger", "-1"), ("--realtime-factor", "0")])
def test_bad_live_options_are_one_line_naming_the_option_and_exit_2(option, value):
    code, out, err = run_cli("simulate", "--duration", "0.5", option, value)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"{option}:" in lines[0] and "allowed:" in lines[0], lines


def test_live_with_json_keeps_stdout_to_the_one_json_object():
    code, out, err = run_cli("simulate", "--duration", "0.3", "--live", "--live-port", "0", "--live-linger", "0",
                             "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["final_state"] == "stopped"
    assert summary["wall_s"] >= 0.3 - 0.011   # --live on simulate implies --realtime
    assert err.startswith("live view: http://127.0.0.1:")


def test_run_takes_the_live_view_too():
    code, out, err = run_cli("run", "--hal", "sim:lsu49", "--duration", "0.5", "--live", "--live-port", "0",
                             "--live-linger", "0", "--json")
    assert code == 0 and json.loads(out)["final_state"] == "stopped"
    assert err.startswith("live view: http://127.0.0.1:")


def test_the_command_line_names_the_servers_default_port():
    from lambdarig.cli import live_view
    from lambdarig.live import DEFAULT_PORT

    assert live_view.DEFAULT_PORT == DEFAULT_PORT   # kept apart so the CLI loads without the live extra
