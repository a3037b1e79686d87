"""The host end decodes with the protocol's classes: over pyserial's loop:// transport (what the link
writes comes back to it), a SAMPLE of any other layout is dropped and counted, the optional sense_v
is read when present, an unsolicited ERROR is kept for async_errors(), and a reply of the wrong type
is a clear error, not a crash."""

from __future__ import annotations

import math

import pytest

from lambdarig.hal.rig_link import RigError, RigLink
from lambdarig.hal.types import FrontEndError
from lambdarig.protocol.codes import E_OUT_OF_RANGE, SAMPLE, SETPOINT
from lambdarig.protocol.framing import encode_frame
from lambdarig.protocol.messages import Error, Ping, SampleMessage


@pytest.fixture
def link():
    with RigLink("loop://", timeout_s=0.05, retries=0) as loop_link:
        yield loop_link


def test_samples_decoded_with_the_shared_class(link):
    plain = SampleMessage(1000, 0.5, 0.001, 300.0, 9.5, 1.25, 13.5, 0.375, 0, 7)
    with_sense = SampleMessage(3000, 0.5, 0.001, 300.0, 9.5, 1.25, 13.5, 0.375, 0, 7, sense_v=0.25)
    link._write(plain.encode(1) + with_sense.encode(2), "injecting samples")
    link._write(encode_frame(SAMPLE, 3, plain.pack() + b"\x00"), "injecting a 36-byte SAMPLE")
    link._write(encode_frame(SAMPLE, 4, plain.pack()[:-1]), "injecting a 34-byte SAMPLE")
    link.poll(0.2)
    samples = link.pop_samples()
    assert [s.seq for s in samples] == [1, 2] and link.dropped == 2
    first, second = samples[0].sample, samples[1].sample
    assert first.t_s == pytest.approx(1e-3) and math.isnan(first.sense_v) and first.heater_a == 1.25
    assert second.sense_v == 0.25 and samples[1].applied_seq == 7


def test_unsolicited_error_and_wrong_reply_type(link):
    link._write(Error(E_OUT_OF_RANGE, SETPOINT, "heater duty 1.5: 0..1").encode(5), "injecting an ERROR")
    link.poll(0.2)
    errors = link.async_errors()
    assert len(errors) == 1 and isinstance(errors[0], RigError)
    assert "SETPOINT (seq 5)" in str(errors[0]) and "heater duty 1.5" in str(errors[0])
    # loop:// answers a PING with the PING itself: a reply of the wrong type
    with pytest.raises(FrontEndError, match=r"bad reply to PING: unexpected reply type 0x04 to PING"):
        link.request(Ping())
