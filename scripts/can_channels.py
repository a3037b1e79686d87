"""CAN output of a run of several sensors (`--can URL` with `--element A --element B` or `--hal U1 --hal
U2`): one bus, one CanOutput per channel, as a rusEFI dual board or the AEM 4-channel box puts every
sensor on one bus.

CAN index: channel i sends with index `[can] index` of its own settings + i (channel 0 with the
defaults sends 0x190/0x191 and AEM 0x180, channel 1 0x192/0x193 and 0x181). With one settings file
for all, `[can] index = 4` moves the whole box to 4, 5, ...; two indices that come out equal, or one
above the setting's maximum, are refused before anything runs.

Heater allow: rusEFI's ECU status frame (extended 0x0EF50000) carries one heater-enable bit for the
whole board; mck1117/wideband keeps one allow for all channels (firmware/can.h `GetHeaterAllowed()`
has no channel argument). So every ECU frame received goes to every channel's firmware instance,
each stamped with its own channel's time (EcuFanout: the bus is drained once, each channel takes
its copy).

Pacing (`--can-pace X` on a live bus): one pace for the run, kept by channel 0's output; the
channels share one clock, so all of them send at X times real time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from lambdarig.controller.core import Controller
from lambdarig.controller.settings import SCHEMA
from lambdarig.hal.can_bus import CanPort
from lambdarig.protocol.can_frames import CanFrame, EcuStatus

from .can_output import CanOutput
from .inputs import Caller

CAN_INDEX_MAX = int(next(f.hi for f in SCHEMA if f.section == "can" and f.key == "index" and f.hi is not None))


class EcuFanout:
    """One CanPort shared by several channels: `view(i)` is channel i's port. Sending goes straight
    to the bus; an ECU poll by any channel drains the bus once and queues each frame for every
    channel, so each channel's firmware sees every ECU frame exactly once."""

    def __init__(self, port: CanPort, count: int):
        self.port = port
        self.pending: list[list[EcuStatus]] = [[] for _ in range(count)]

    def poll_for(self, channel: int) -> list[EcuStatus]:
        found = self.port.poll_ecu()
        if found:
            for queue in self.pending:
                queue.extend(found)
        mine, self.pending[channel] = self.pending[channel], []
        return mine

    def view(self, channel: int) -> _ChannelPort:
        return _ChannelPort(self, channel)


class _ChannelPort:
    """What CanOutput uses of a CanPort, for one channel of an EcuFanout."""

    def __init__(self, fanout: EcuFanout, channel: int):
        self._fanout = fanout
        self._channel = channel
        self.url = fanout.port.url
        self.is_log = fanout.port.is_log

    def send(self, frame: CanFrame, t_s: float | None = None) -> None:
        self._fanout.port.send(frame, t_s)

    def poll_ecu(self) -> list[EcuStatus]:
        return self._fanout.poll_for(self._channel)


def channel_can_indices(controllers: Sequence[Controller], caller: Caller) -> list[int]:
    """Each channel's CAN index ([can] index + channel index), refused in one line when two collide or
    one is out of range."""
    indices = [c.settings.can.index + i for i, c in enumerate(controllers)]
    for i, index in enumerate(indices):
        if index > CAN_INDEX_MAX:
            raise caller.refuse("settings", f"channel {i} would send with CAN index {index} "
                                            f"([can] index {index - i} + channel {i})",
                                allowed=f"[can] index + channel index 0..{CAN_INDEX_MAX}; with {len(indices)} "
                                        f"channels [can] index {CAN_INDEX_MAX - len(indices) + 1} or less")
        if index in indices[:i]:
            other = indices.index(index)
            raise caller.refuse("settings", f"channels {other} and {i} would both send with CAN index {index} "
                                            f"([can] index of each + its channel index)",
                                allowed="[can] index values that keep index + channel index distinct; "
                                        "e.g. the same [can] index for every channel")
    return indices


def channel_outputs(port: CanPort, controllers: Sequence[Controller], indices: Sequence[int], *,
                    virtual_time: bool, pace: float, progress: Callable[[str], None],
                    wall_clock: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], None] = time.sleep) -> list[CanOutput]:
    """One CanOutput per channel on one bus, channel i sending with indices[i]. `--can-pace` holds
    for the whole run: the channels run tick by tick on one clock, so channel 0's output paces them
    all (each tick it waits for the wall clock, then every channel sends); the others do not wait
    again."""
    fanout = EcuFanout(port, len(controllers))
    outputs = []
    for i, controller in enumerate(controllers):
        output = CanOutput(fanout.view(i), controller, virtual_time=virtual_time,  # type: ignore[arg-type]
                           pace=pace, progress=progress, wall_clock=wall_clock, sleep=sleep)
        output.index = indices[i]
        output.paced = output.paced and i == 0
        outputs.append(output)
    return outputs


def channels_can_summary(outputs: Sequence[CanOutput]) -> dict:
    """The run's `can` summary: the bus once, then per channel its index and counts."""
    first = outputs[0]
    return {"url": first.port.url, "format": first.format,
            "frames_sent": sum(o.frames_sent for o in outputs),
            "ecu_frames": first.ecu_frames,   # every channel takes every ECU frame
            "channels": [{"channel_index": i, "can_index": o.index, "format": o.format, "frames_sent": o.frames_sent,
                          "ecu_frames": o.ecu_frames, "lost": o.lost or None} for i, o in enumerate(outputs)],
            "lost": next((o.lost for o in outputs if o.lost), None)}
