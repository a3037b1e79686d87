"""Seeded fuzz of the wire protocol from both ends (issue 16), each bounded to a few seconds:

- the rig: random, mutated and valid-but-hostile frames and raw garbage into the emulated rig's
  request handling; every answer is a frame the protocol allows (ERROR, ACK or the typed reply),
  nothing raises, the outputs stay finite and within the board's limits, and over a real pty the
  rig still answers afterwards and makes its outputs safe when the fuzzing host leaves;
- the host: a hostile peer on a real pty answers RigLink's requests with random, mutated or
  misnumbered replies, and loop:// feeds it random frames between requests; RigLink raises only its
  own errors (FrontEndError: RigError, LinkLost), and its queues stay bounded.
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
import tty

import serial
from test_protocol_fuzz import _mutated, _random_bytes
from test_protocol_messages import EXAMPLES

from lambdarig.emulator.serial_rig import RigServer
from lambdarig.hal.rig_link import SAMPLE_QUEUE, RigLink
from lambdarig.hal.types import FrontEndError
from lambdarig.protocol import codes
from lambdarig.protocol.framing import FrameReader, encode_frame
from lambdarig.protocol.messages import (
    MESSAGES,
    REQUESTS,
    Error,
    Hello,
    Identity,
    Request,
    SampleMessage,
    SetPoint,
    decode,
)

SEED = 16_2026
RIG_CASES = 20_000
HOST_CALLS = 300
BUDGET_S = 20.0             # a bound for a loaded machine; unloaded each part takes about a second
REQUEST_PAYLOADS = [m.pack() for m in EXAMPLES if isinstance(m, Request)]
REPLY_EXAMPLES = [m for m in EXAMPLES if not isinstance(m, Request)]


def _frame_for_the_rig(rng: random.Random, seq: int) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:                                   # a known request type, random payload
        return encode_frame(rng.choice(list(REQUESTS)), seq, _random_bytes(rng, rng.randrange(0, 40)))
    if kind == 1:                                   # a valid request's payload, mutated
        return encode_frame(rng.choice(list(REQUESTS)), seq, _mutated(rng, rng.choice(REQUEST_PAYLOADS))[:500])
    if kind == 2:                                   # any type at all
        return encode_frame(rng.randrange(256), seq, _random_bytes(rng, rng.randrange(0, 80)))
    if kind == 3:                                   # a valid example request
        return rng.choice([m for m in EXAMPLES if isinstance(m, Request)]).encode(seq)
    data = _random_bytes(rng, rng.randrange(1, 300))  # raw garbage, with or without a delimiter
    return data if rng.random() < 0.5 else data + b"\x00"


def _check_outputs(rig: RigServer) -> None:
    pump_a, duty, _ = rig.outputs()
    assert math.isfinite(pump_a) and rig.pump_min_a <= pump_a <= rig.pump_max_a, pump_a
    assert math.isfinite(duty) and 0.0 <= duty <= 1.0, duty


def test_fuzz_into_the_rigs_request_handling(tmp_path):
    rng = random.Random(SEED)
    rig = RigServer(scenario="free-air", flash_path=tmp_path / "flash.bin")   # its handler, not its thread
    replies = FrameReader()
    answered = errors = 0
    t0 = time.monotonic()
    try:
        rig._host_present = True
        for case in range(RIG_CASES):
            rig._handle_bytes(_frame_for_the_rig(rng, case & 0xFFFF))
            for frame in replies.feed(bytes(rig._tx)):
                message = decode(frame)                 # the rig sends only what the protocol allows
                answered += 1
                errors += isinstance(message, Error)
                assert frame.type in (codes.ACK, codes.ERROR, codes.SAMPLE) or frame.type & 0x80, frame
            rig._tx.clear()
            _check_outputs(rig)
            assert time.monotonic() - t0 < BUDGET_S, f"{case} cases in {BUDGET_S} s"
        assert replies.dropped == 0
        assert answered > RIG_CASES // 3 and errors > RIG_CASES // 10, (answered, errors)
        assert rig.counters.flash_failures == 0
    finally:
        rig.close()


def test_fuzz_over_a_pty_then_the_rig_answers_and_goes_safe_when_the_host_leaves(tmp_path):
    rng = random.Random(SEED + 1)
    rig = RigServer(scenario="free-air", flash_path=tmp_path / "flash.bin", watchdog_ms=0).start()
    try:
        port = serial.Serial(rig.path, timeout=0)
        for case in range(600):
            port.write(_frame_for_the_rig(rng, case))
            if case % 50 == 0:
                port.read(65536)                        # keep the rig's output moving
        port.write(b"\x00" + SetPoint(1e-3, 0.5).encode(0xBEEE) + Hello().encode(0xBEEF))
        reader = FrameReader()
        identity = None
        end = time.monotonic() + 5.0
        while identity is None and time.monotonic() < end:
            for frame in reader.feed(port.read(65536)):
                if frame.type == Identity.TYPE and frame.seq == 0xBEEF:
                    identity = Identity.unpack(frame.payload)
            time.sleep(0.001)
        assert identity is not None and rig._thread is not None and rig._thread.is_alive()
        assert rig.counters.rx_frames > 300 and rig.counters.rx_dropped > 50, rig.counters
        _check_outputs(rig)
        assert rig.outputs()[1] == 0.5, "the rig applies a valid set-point after the fuzz"
        port.close()
        end = time.monotonic() + 1.0
        while rig.outputs()[:2] != (0.0, 0.0) and time.monotonic() < end:
            time.sleep(0.001)
        assert rig.outputs()[:2] == (0.0, 0.0)
    finally:
        rig.stop()


class HostileRig:
    """A peer on a real pty that answers each request frame with a fuzzed reply."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        os.close(slave)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def reply(self, request_type: int, seq: int) -> bytes:
        rng = self.rng
        kind = rng.randrange(6)
        if kind == 0:                                   # the right typed reply, mutated
            cls = REQUESTS.get(request_type)
            reply = cls.REPLY if cls is not None and cls.REPLY is not None else None
            example = next((m for m in REPLY_EXAMPLES if reply is not None and isinstance(m, reply)), None)
            payload = _mutated(rng, example.pack()) if example is not None else _random_bytes(rng, 3)
            return encode_frame(request_type | 0x80, seq, payload[:500])
        if kind == 1:                                   # any rig message, mutated, with our seq
            example = rng.choice(REPLY_EXAMPLES)
            return encode_frame(example.TYPE, seq, _mutated(rng, example.pack())[:500])
        if kind == 2:                                   # any type, random payload
            return encode_frame(rng.randrange(256), seq, _random_bytes(rng, rng.randrange(0, 100)))
        if kind == 3:                                   # a valid reply with the wrong seq, and samples
            sample = SampleMessage(rng.getrandbits(32), *(rng.uniform(-1e9, 1e9) for _ in range(7)),
                                   rng.randrange(256), rng.randrange(1 << 16))
            return sample.encode(rng.randrange(1 << 16)) + rng.choice(REPLY_EXAMPLES).encode((seq + 1) & 0xFFFF)
        if kind == 4:                                   # garbage, then a valid example reply
            return _random_bytes(rng, rng.randrange(1, 200)) + b"\x00" + rng.choice(REPLY_EXAMPLES).encode(seq)
        return b""                                      # silence

    def run(self) -> None:
        reader = FrameReader()
        while not self.stop.is_set():
            try:
                data = os.read(self.master, 4096)
            except OSError:
                time.sleep(0.001)                       # no host has the pty open right now
                continue
            for frame in reader.feed(data):
                if frame.type != codes.SETPOINT:
                    os.write(self.master, self.reply(frame.type, frame.seq))

    def close(self) -> None:
        self.stop.set()
        os.close(self.master)


def test_fuzz_replies_into_the_host_riglink_raises_only_its_own_errors():
    rng = random.Random(SEED + 2)
    peer = HostileRig(random.Random(SEED + 3))
    calls = {"identity": lambda link: link.identity(), "ping": lambda link: link.ping(),
             "settings_info": lambda link: link.settings_info(),
             "settings_read_active": lambda link: link.settings_read_active(),
             "settings_read": lambda link: link.settings_read(rng.randrange(2), 0, rng.randrange(600)),
             "settings_verify": lambda link: link.settings_verify(),
             "settings_commit": lambda link: link.settings_commit(rng.getrandbits(32)),
             "set_watchdog": lambda link: link.set_watchdog(100), "start_stream": lambda link: link.start_stream(500),
             "read_sample": lambda link: link.read_sample(0.01), "pop_samples": lambda link: link.pop_samples(),
             "async_errors": lambda link: link.async_errors()}
    outcomes: dict[str, int] = {}
    t0 = time.monotonic()
    try:
        link = RigLink(peer.path, timeout_s=0.03, retries=1)
        try:
            for _ in range(HOST_CALLS):
                name = rng.choice(list(calls))
                try:
                    calls[name](link)
                    outcome = "ok"
                except FrontEndError as exc:              # RigError, LinkLost, a bad reply: ours
                    outcome = type(exc).__name__
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
                assert len(link._replies) <= len(link._waiting) + 1 and len(link._samples) <= SAMPLE_QUEUE
                assert time.monotonic() - t0 < BUDGET_S
        finally:
            link.close()
    finally:
        peer.close()
    assert outcomes.get("ok", 0) > 0 and sum(v for k, v in outcomes.items() if k != "ok") > 0, outcomes


def test_fuzz_frames_into_the_host_between_requests():
    rng = random.Random(SEED + 4)
    examples = REPLY_EXAMPLES + [m for m in EXAMPLES if isinstance(m, Request)]
    with RigLink("loop://", timeout_s=0.01, retries=0) as link:
        for case in range(3000):
            example = rng.choice(examples)
            kind = case % 3
            if kind == 0:
                data = encode_frame(example.TYPE, rng.randrange(1 << 16), _mutated(rng, example.pack())[:500])
            elif kind == 1:
                data = encode_frame(rng.randrange(256), rng.randrange(1 << 16), _random_bytes(rng, rng.randrange(80)))
            else:
                data = _random_bytes(rng, rng.randrange(1, 400))
            link._write(data, "fuzzing")
            link.poll(0.0)
            link.pop_samples()
            for error in link.async_errors():
                assert isinstance(error, FrontEndError) and "\x1b" not in str(error)
        assert len(link._async_errors) <= 64 and len(link._samples) <= SAMPLE_QUEUE
    assert MESSAGES  # the decoders above are the protocol's own
