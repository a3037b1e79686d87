"""One address grammar for every option that names a front end or a rig port (`--hal`, `--port`,
`lambdarig.run(...)`): what a user types becomes a front-end URL the registry opens.

    /dev/ttyUSB0, ./pty0, COM3            -> serial:///dev/ttyUSB0 ...   (a bare device path)
    /dev/ttyUSB0?baudrate=921600          -> serial:///dev/ttyUSB0?baudrate=921600
    socket://127.0.0.1:5000, rfc2217://…,
    loop://, hwgrep://0483:5740, spy://…  -> serial://socket://127.0.0.1:5000 ... (any pyserial URL)
    auto                                  -> serial:auto                 (the one bench board found)
    serial:…, visa:…, sim:…, plugin:…     -> unchanged

Anything else with a scheme is left as is, so the registry refuses an unknown scheme as bad input
(exit 2) naming the known ones and the nearest. Kept apart from the registry so flashing (which
needs a port, not a front end) reads the same grammar.
"""

from __future__ import annotations

import re

from lambdarig.common.errors import InputError

# pyserial's URL handlers (serial.protocol_handler_packages: serial.urlhandler.protocol_<name>).
PYSERIAL_SCHEMES = ("socket", "rfc2217", "loop", "hwgrep", "spy", "alt", "cp2110")
_WINDOWS_PORT = re.compile(r"(?i)COM\d+\Z")


def is_device_path(text: str) -> bool:
    """A bare serial device: an absolute or ./ ../ relative path, or a Windows COMn port."""
    head = text.partition("?")[0]
    return head.startswith(("/", "./", "../")) or bool(_WINDOWS_PORT.match(head))


def pyserial_scheme(text: str) -> str | None:
    """The pyserial URL scheme of `text` ('socket' for socket://host:port), else None."""
    head, sep, _ = text.partition("://")
    return head.lower() if sep and head.lower() in PYSERIAL_SCHEMES else None


def frontend_url(text: str) -> str:
    """The front-end URL for what a user typed (see the module docstring); stripped, else unchanged."""
    if not isinstance(text, str):
        return text
    address = text.strip()
    if address.lower() == "auto":
        return "serial:auto"
    if is_device_path(address) or pyserial_scheme(address) is not None:
        return f"serial://{address}"
    return address


# Baud rates a board on a UART bridge may run at (termios' standard rates and the common fast ones
# of FTDI/CP210x/CH340 bridges). On USB CDC-ACM, a pty or a socket the rate is ignored by the device.
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600,
             1000000, 1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000)
DEFAULT_BAUDRATE = 1_000_000


def nearest_baudrate(value: float) -> int:
    return min(BAUDRATES, key=lambda rate: abs(rate - value))


def check_baudrate(value: object, source: str, field: str = "baudrate") -> int:
    """`value` (an int or its text) as a baud rate from BAUDRATES; InputError naming the allowed
    rates and the nearest one otherwise."""
    text = value.strip() if isinstance(value, str) else value
    rate: object = text
    if isinstance(text, str):
        try:
            rate = int(text, 10)
        except ValueError:
            rate = None
    if isinstance(rate, bool) or not isinstance(rate, int) or rate not in BAUDRATES:
        near = (str(nearest_baudrate(rate)),) if isinstance(rate, int) and not isinstance(rate, bool) else ("921600",)
        raise InputError(source, field, f"{value!r} is not a supported baud rate",
                         allowed=", ".join(str(r) for r in BAUDRATES), suggestions=near)
    return rate
