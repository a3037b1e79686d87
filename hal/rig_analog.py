"""The host side of ANALOG_OUT (docs/protocol.md): the two 0-5 V outputs of a bench rig with
CAP_ANALOG_OUT, sent only when the firmware's volts change (not every tick), without waiting for the
answer; the answer, the volts the board's DAC really drives, is picked up on a later tick."""

from __future__ import annotations

from lambdarig.protocol.codes import ANALOG_OUT_MAX_V
from lambdarig.protocol.errors import WireError
from lambdarig.protocol.messages import AnalogOut, AnalogOutReply, Error, decode_reply

from .rig_link import RigLink


def _volts(value: float) -> float:
    """Within the protocol's 0..5 V (NaN: 0 V)."""
    return 0.0 if value != value else min(max(value, 0.0), ANALOG_OUT_MAX_V)


class AnalogOutSender:
    def __init__(self) -> None:
        self.sent: tuple[float, float] | None = None     # the last volts asked for
        self.driven_v: tuple[float, float] | None = None  # what the board says it drives
        self.messages = 0
        self.refused = 0                                  # ERROR answers (the board's text is in last_error)
        self.last_error = ""
        self._seq: int | None = None

    def reset(self) -> None:
        """A new link (reconnect, reset): send the present volts again."""
        self.sent = None
        self._seq = None

    def update(self, link: RigLink, out1_v: float, out2_v: float) -> None:
        self._collect(link)
        volts = (_volts(out1_v), _volts(out2_v))
        if volts == self.sent:
            return
        if self._seq is not None:
            link.take_reply(self._seq)        # stop waiting for an older answer
        self._seq = link.send_request(AnalogOut(*volts))
        self.sent = volts
        self.messages += 1

    def _collect(self, link: RigLink) -> None:
        if self._seq is None:
            return
        frame = link.take_reply(self._seq, forget=False)
        if frame is None:
            return
        link.take_reply(self._seq)
        self._seq = None
        try:
            reply = decode_reply(AnalogOut, frame)
        except WireError as exc:
            self.refused += 1
            self.last_error = str(exc)
            return
        if isinstance(reply, AnalogOutReply):
            self.driven_v = (reply.out1_v, reply.out2_v)
        elif isinstance(reply, Error):
            self.refused += 1
            self.last_error = reply.text
