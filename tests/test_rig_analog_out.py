"""ANALOG_OUT on the bench-rig protocol: the message's layout and limits, the emulated rig's DAC
(CAP_ANALOG_OUT, 12-bit steps, answering with the volts it drives), and the serial front end sending
the firmware's volts only when they change, over the real pty."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest
from realtime import wait_for

import lambdarig
from lambdarig.emulator.serial_rig import ANALOG_DAC_STEPS
from lambdarig.hal.registry import open_frontend
from lambdarig.hal.types import Command
from lambdarig.protocol.codes import ANALOG_OUT, CAP_ANALOG_OUT, E_OUT_OF_RANGE
from lambdarig.protocol.errors import WireError
from lambdarig.protocol.framing import Frame
from lambdarig.protocol.messages import AnalogOut, AnalogOutReply, decode_request

TOLERANT = "link_timeout_s=1.0&watchdog_ms=1000"
STEP_V = 5.0 / ANALOG_DAC_STEPS


def test_analog_out_layout_and_limits():
    assert ANALOG_OUT == 0x11 and CAP_ANALOG_OUT == 1 << 8
    assert AnalogOut(1.0, 2.5).pack() == struct.pack("<ff", 1.0, 2.5)
    assert AnalogOut.unpack(struct.pack("<ff", 0.0, 5.0)) == AnalogOut(0.0, 5.0)
    assert AnalogOut.REPLY is AnalogOutReply and AnalogOutReply.TYPE == 0x91
    for bad in ((math.nan, 1.0), (1.0, 5.01), (-0.1, 1.0), (math.inf, 0.0)):
        with pytest.raises(WireError) as info:
            decode_request(Frame(ANALOG_OUT, 7, struct.pack("<ff", *bad)))
        assert info.value.code == E_OUT_OF_RANGE and "V" in str(info.value)


def test_the_wire_example_on_the_protocol_page():
    doc = " ".join((Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text().split())
    assert AnalogOut(1.0, 2.5).encode(5).hex(" ") in doc
    assert AnalogOutReply(1.0, 2.5).encode(5).hex(" ") in doc


def test_the_rig_drives_its_dac_and_the_host_sends_only_changes(rig):
    fe = open_frontend(f"serial://{rig.path}?{TOLERANT}")
    try:
        assert "analog_out" in fe.info().details["capabilities"]
        command = Command(0.0, 0.0, True, 1.2345, 4.321)
        for _ in range(200):                 # 0.4 s of ticks with the same volts
            fe.wait_until(fe.now() + 0.002)
            fe.sample()
            fe.apply(command)
        assert fe.analog.messages == 1
        expected = (round(1.2345 / STEP_V) * STEP_V, round(4.321 / STEP_V) * STEP_V)
        assert wait_for(lambda: rig.analog_out_v == pytest.approx(expected, abs=1e-9))
        command.analog_out1_v = 9.0            # beyond 5 V: the host sends the protocol's limit
        fe.apply(command)
        assert fe.analog.messages == 2

        def driven():
            fe.wait_until(fe.now() + 0.002)
            fe.sample()
            fe.apply(command)
            return fe.analog.driven_v
        assert wait_for(lambda: (driven() or (0, 0))[0] == pytest.approx(5.0, abs=1e-6))
        assert fe.analog.driven_v == pytest.approx(rig.analog_out_v, abs=1e-6) and fe.analog.refused == 0
    finally:
        fe.close()


def test_run_on_the_rig_drives_the_invalid_value_while_lambda_is_not_valid(rig):
    result = lambdarig.run(f"serial://{rig.path}?{TOLERANT}", duration_s=1.0, use_stored_settings=False,
                           settings={"analog.out1_invalid_v": 0.5, "analog.out2_invalid_v": 4.5},
                           progress=lambda text: None)
    assert not result.interrupted
    assert rig.analog_out_v == pytest.approx((round(0.5 / STEP_V) * STEP_V, round(4.5 / STEP_V) * STEP_V))
    rows = [row for row in result.samples if row["state"] != "stopped"]
    assert rows and all((row["analog_out1_v"], row["analog_out2_v"]) == (0.5, 4.5) for row in rows[1:])
