"""The CAN port: a python-can bus, or a python-can log file, opened from one URL; frames out, the ECU's
status frames in. The HAL is the one part that talks to buses; what goes in the frames is
lambdarig.protocol.can_frames.

URLs (the `--can` option):

    virtual:CHANNEL            python-can's in-process virtual bus (tests, demos)
    socketcan:can0             any python-can interface as INTERFACE:CHANNEL (pcan:PCAN_USBBUS1,
    udp_multicast:239.0.0.1    udp_multicast:ADDRESS, ...), or INTERFACE alone for its configured channel
    run.asc | run.blf | run.log  a python-can log file (can.Logger): the frames are written there with
                               the run's time as their timestamps, so the log replays at the run's pace

A bad URL is an InputError naming --can, the interfaces and the nearest one; an interface that cannot be
opened (no such device, driver missing) is CanUnavailable, a FrontEndError (the command line's exit 3).
Once open, a send that fails (the interface went down, a closed bus, a full disk) is CanLost: the
caller reports it as an event and carries on without CAN.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lambdarig.common.errors import InputError, LambdarigError, nearest
from lambdarig.common.file_out import check_output_file
from lambdarig.common.validators import Place
from lambdarig.hal.types import FrontEndError
from lambdarig.protocol.can_frames import CanFrame, EcuStatus, decode_ecu_status

LOG_SUFFIXES = (".asc", ".blf", ".log")
INSTALL_HINT = "CAN needs python-can and cantools: pip install 'lambdarig[can]'"
MAX_RECEIVE_PER_POLL = 64      # frames drained per poll: a flooded bus cannot stall the control loop


class CanUnavailable(FrontEndError):
    """The CAN interface named could not be opened."""


class CanLost(LambdarigError):
    """The CAN interface stopped taking frames mid-run."""


def _can() -> Any:
    try:
        import can
    except ImportError:
        raise InputError("command line", "--can", INSTALL_HINT) from None
    return can


def interfaces() -> tuple[str, ...]:
    return tuple(sorted(_can().VALID_INTERFACES))


class CanPort:
    """One opened CAN URL. `send(frame, t_s)` writes a frame (t_s: its timestamp, seconds; None:
    now), `poll_ecu()` drains received frames without waiting and returns the ECU status frames among
    them, `close()` shuts the bus or flushes the log. `is_log` tells a log file from a live bus."""

    def __init__(self, url: str, source: str = "command line", field: str = "--can"):
        can = _can()
        self.url = url
        at = Place(source, field)
        text = url.strip()
        if not text:
            raise at.refuse("empty", allowed=self._allowed())
        self._bus: Any = None
        self._logger: Any = None
        self.is_log = Path(text).suffix.lower() in LOG_SUFFIXES
        if self.is_log:
            path = check_output_file(text, at, overwrite=True)
            try:
                self._logger = can.Logger(str(path))
            except (OSError, ValueError) as exc:
                raise at.refuse(f"cannot write {path}: {exc}",
                                allowed="a log file in an existing, writable folder") from None
            return
        interface, _, channel = text.partition(":")
        names = interfaces()
        if interface not in names:
            raise at.refuse(f"unknown CAN interface {interface!r} in {text!r}", allowed=self._allowed(),
                            suggestions=nearest(interface, names))
        try:
            kwargs: dict[str, Any] = {"interface": interface, "receive_own_messages": False}
            if channel:
                kwargs["channel"] = channel
            self._bus = can.Bus(**kwargs)
        except ImportError as exc:
            raise CanUnavailable(f"CAN interface {text!r}: its driver is not installed ({exc})") from None
        except (can.CanError, OSError, ValueError, TypeError) as exc:
            raise CanUnavailable(f"CAN interface {text!r} cannot be opened: {exc}") from None

    @property
    def bus(self) -> Any:
        """The python-can bus (None for a log file or once closed)."""
        return self._bus

    @staticmethod
    def _allowed() -> str:
        return ("INTERFACE:CHANNEL with INTERFACE one of " + ", ".join(interfaces())
                + "; or a log file " + "|".join(f"FILE{s}" for s in LOG_SUFFIXES))

    def send(self, frame: CanFrame, t_s: float | None = None) -> None:
        can = _can()
        message = can.Message(timestamp=time.time() if t_s is None else t_s, arbitration_id=frame.arbitration_id,
                              is_extended_id=frame.is_extended_id, data=frame.data,
                              is_rx=False)   # sent by the controller: a log shows Tx
        try:
            if self._logger is not None:
                self._logger.on_message_received(message)
            elif self._bus is not None:
                self._bus.send(message, timeout=0.005)
            else:
                raise CanLost(f"{self.url}: closed")
        except (can.CanError, OSError, ValueError) as exc:
            raise CanLost(f"{self.url}: {exc}") from None

    def poll_ecu(self) -> list[EcuStatus]:
        """The ECU status frames received since the last poll, oldest first (a log file: none)."""
        bus = self._bus
        if bus is None:
            return []
        can = _can()
        found = []
        try:
            for _ in range(MAX_RECEIVE_PER_POLL):
                message = bus.recv(timeout=0.0)
                if message is None:
                    break
                status = decode_ecu_status(message.arbitration_id, message.is_extended_id, bytes(message.data))
                if status is not None:
                    found.append(status)
        except (can.CanError, OSError, ValueError) as exc:
            raise CanLost(f"{self.url}: {exc}") from None
        return found

    def close(self) -> None:
        bus, self._bus = self._bus, None
        logger, self._logger = self._logger, None
        try:
            if bus is not None:
                bus.shutdown()
        finally:
            if logger is not None:
                logger.stop()

    def __enter__(self) -> CanPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
