"""The protocol's one error: bytes that do not decode, or a value the protocol does not allow."""

from __future__ import annotations

from lambdarig.common.errors import LambdarigError

from .codes import E_BAD_LENGTH


class WireError(LambdarigError, ValueError):
    """A frame or payload that cannot be decoded (bad COBS, CRC, version, length, a value out of the
    protocol's range). `code` is the ERROR code a rig answers it with (E_BAD_LENGTH, E_OUT_OF_RANGE,
    E_UNKNOWN_TYPE), so a receiver passes the refusal on without a table of its own."""

    def __init__(self, message: str, code: int = E_BAD_LENGTH):
        self.code = code
        super().__init__(message)
