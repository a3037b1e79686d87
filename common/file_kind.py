"""What a path that is not a regular file is, in words, for the readers' and writers' refusals."""

from __future__ import annotations

import stat


def file_kind(mode: int) -> str:
    """'a directory', 'a FIFO (named pipe)', 'a device', 'a socket' or 'not a regular file', from st_mode."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
