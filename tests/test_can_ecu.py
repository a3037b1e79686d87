"""The ECU side on a python-can bus: an ECU that withholds heater-enable keeps the sensor cold; once
it enables heating it sees valid lambda in our rusEFI frames, decoded with our DBC file.

python-can's `virtual` bus works within one process, so the firmware runs `lambdarig.simulate` in a
thread (virtual time paced to the wall clock, can_pace x real time) while the test is the ECU on the
same channel. The allow timeout is set above SLACK_S so a loaded machine that keeps the ECU thread
off the CPU cannot withdraw the allow; the 250 ms default is checked in virtual time by
test_controller_heater_allow.py."""

from __future__ import annotations

import threading
import time
import uuid

import can
import cantools
import pytest
from realtime import SLACK_S

import lambdarig
from lambdarig.protocol import can_frames as cf

PACE = 3.0   # x real time


def send(bus, frame: cf.CanFrame) -> None:
    bus.send(can.Message(arbitration_id=frame.arbitration_id, is_extended_id=frame.is_extended_id, data=frame.data))


@pytest.mark.slow
def test_ecu_withholds_heat_then_enables_and_sees_valid_lambda():
    channel = f"lambdarig-ecu-{uuid.uuid4().hex}"
    db = cantools.database.load_file(cf.dbc_path("rusefi_wideband"))
    ecu = can.Bus(interface="virtual", channel=channel, receive_own_messages=False)
    stop = threading.Event()
    results: list = []
    settings = {"can.heater_allow": "can", "can.heater_allow_timeout_s": min(5.0, 2.0 * SLACK_S * PACE)}

    def firmware():
        try:
            results.append(lambdarig.simulate(duration_s=60.0, seed=1, settings=settings, can=f"virtual:{channel}",
                                              can_pace=PACE, should_stop=stop.is_set, progress=lambda text: None))
        except BaseException as exc:   # the test fails on it below
            results.append(exc)

    def frames_for(wall_s: float, enable: bool, until) -> list[dict]:
        """Be the ECU (status frames every 10 ms) and collect the sensor's StandardData until
        until(collected) or wall_s passes."""
        seen = []
        deadline = time.monotonic() + wall_s
        next_send = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() >= next_send:
                send(ecu, cf.ecu_status(13.8, enable))
                next_send = time.monotonic() + 0.01
            msg = ecu.recv(timeout=0.005)
            if msg is not None and msg.arbitration_id == 0x190 and not msg.is_extended_id:
                seen.append(db.decode_message(0x190, msg.data))
                if until(seen):
                    break
        return seen

    thread = threading.Thread(target=firmware, daemon=True)
    thread.start()
    try:
        # 5 s of the run (500 frames, one per 10 ms of its time) with the engine not running.
        held = frames_for(60.0, enable=False, until=lambda seen: len(seen) > 500)
        assert len(held) > 500
        assert all(f["Valid"] == 0 for f in held)
        assert max(f["TemperatureC"] for f in held) < 300      # cold: condensation voltage at most
        running = frames_for(60.0, enable=True, until=lambda seen: seen[-1]["Valid"] == 1)
        assert running and running[-1]["Valid"] == 1
        assert 0.9 < running[-1]["Lambda"] < 1.1 and running[-1]["TemperatureC"] > 650
    finally:
        stop.set()
        thread.join(30.0)
        ecu.shutdown()
    result = results[0]
    assert not isinstance(result, BaseException), result
    assert result.summary["can"]["ecu_frames"] > 100 and result.summary["can"]["lost"] is None
    states = [(row["t_s"], row["state"], row["heater_allowed"]) for row in result.samples]
    first_allowed = next(t for t, _, allowed in states if allowed)
    assert first_allowed > 4.0
    assert {state for t, state, _ in states if t < first_allowed} <= {"wait_supply", "condensation"}
    ready = result.summary["time_to_ready_s"]
    assert ready is not None and first_allowed + 9.0 < ready < first_allowed + 15.0
