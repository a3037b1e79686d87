"""Which VISA resource names reach the same instrument: `localhost` and `127.0.0.1`, `TCPIP` and
`TCPIP0`, `USB0::0x1AB1::...` and `USB::6833::...`, in any case, are one instrument, and a station
that gives it two roles would drive one instrument as two (the heater role opening the pump's SMU).

    instrument_address(resource) -> a hashable key; equal keys: the same instrument
    duplicate_roles({role: resource}) -> [(role, other_role, resource, other_resource)]

Host names are resolved (getaddrinfo, numeric addresses compared); a host that does not resolve is
compared by its name in lower case. Nothing is opened and nothing is sent. What this cannot see (an
instrument reachable under two different IP addresses, or over VXI-11 and a raw socket at once) is
caught after *IDN?: two roles answering with the same maker, model and serial number are refused too
(hal/instruments/identity.py).
"""

from __future__ import annotations

import os
import socket
from typing import Any

Address = tuple[Any, ...]


def _number(text: str | None) -> str:
    """'0x1AB1' and '6833' alike, as a decimal string (text as given when it is not a number)."""
    if text is None:
        return ""
    try:
        return str(int(text, 0))
    except ValueError:
        return text.strip().lower()


def _host(name: str) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return (name.strip().lower(),)
    return tuple(sorted({str(info[4][0]) for info in infos}))


def instrument_address(resource: str) -> Address:
    """A key equal for every spelling of the same instrument's resource name."""
    try:
        from pyvisa import rname
        parsed = rname.parse_resource_name(resource.strip())
    except Exception:
        return ("name", resource.strip().upper())
    if isinstance(parsed, rname.TCPIPSocket):
        return ("tcpip", _host(parsed.host_address), "socket", _number(parsed.port))
    if isinstance(parsed, rname.TCPIPInstr):
        return ("tcpip", _host(parsed.host_address), "instr", parsed.lan_device_name.lower())
    if isinstance(parsed, rname.GPIBInstr):
        return ("gpib", _number(parsed.board), _number(parsed.primary_address), _number(parsed.secondary_address))
    if isinstance(parsed, rname.USBInstr):
        return ("usb", _number(parsed.manufacturer_id), _number(parsed.model_code),
                parsed.serial_number.strip().lower(), _number(parsed.usb_interface_number))
    if isinstance(parsed, rname.ASRLInstr):
        board = str(parsed.board)
        return ("asrl", os.path.realpath(board) if board.startswith("/") else _number(board))
    return ("name", resource.strip().upper())


def _same_host(a: Address, b: Address) -> bool:
    """TCPIP keys: the same port or device on hosts sharing an address."""
    return a[0] == b[0] == "tcpip" and a[2:] == b[2:] and bool(set(a[1]) & set(b[1]))


def duplicate_roles(resources: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(role, earlier role, its resource, the earlier role's resource) for every role whose
    instrument another role already has."""
    seen: list[tuple[str, str, Address]] = []
    found = []
    for role, resource in resources.items():
        address = instrument_address(resource)
        for other_role, other_resource, other in seen:
            if address == other or _same_host(address, other):
                found.append((role, other_role, resource, other_resource))
                break
        seen.append((role, resource, address))
    return found
