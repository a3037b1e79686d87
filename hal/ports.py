"""Port discovery: which serial ports are lambdarig bench boards, and which one `run` would pick.

Uses pyserial's `serial.tools.list_ports.comports(include_links=True)`, matching by USB ids, the
same ids as the udev rules in udev/60-lambdarig.rules:

- a lambdarig bench board: VID 0x0483 (STMicroelectronics), PID 0x5740 (CDC virtual COM port) and
  "lambdarig" in its USB product or manufacturer string (other STM32 boards share 0483:5740);
- other serial adapters (FTDI, SiLabs CP210x, WCH CH340, Prolific PL2303, a plain 0483:5740 VCP):
  listed so a user sees them, never picked automatically;
- anything else with a USB id: "other USB serial"; ports without USB ids (ttyS*): only with all=True.

Symlinks (udev's `SYMLINK+=`, e.g. /dev/lambdarig-<serial>) come from `include_links=True` as extra
entries that pyserial 3.5 fills with no USB data, only `hwid = "LINK=<target> LINK=<target>"`; they
are folded into the port they point to. `find_rig()` returns `serial://<path>` for exactly one board,
using its udev symlink when there is one (stable across re-plugging and re-enumeration), else its
tty. Pseudo-terminals (the emulated rig of `lambdarig serve rig`) are never listed by pyserial: use
the path that `serve rig` prints.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from lambdarig.common.device_text import printable_device_text

from .types import FrontEndError

BENCH_VID = 0x0483
BENCH_PID = 0x5740
BENCH_MARK = "lambdarig"
SYMLINK_PREFIX = "/dev/lambdarig-"

# (vid, pid or None for any pid) -> name. A 0483:5740 without the lambdarig mark lands here too.
ADAPTERS: dict[tuple[int, int | None], str] = {
    (0x0403, None): "FTDI",
    (0x10C4, 0xEA60): "SiLabs CP210x",
    (0x1A86, 0x7523): "WCH CH340",
    (0x067B, 0x2303): "Prolific PL2303",
    (BENCH_VID, BENCH_PID): "STM32 virtual COM port (not a lambdarig board)",
}

KIND_BOARD = "lambdarig"
KIND_ADAPTER = "adapter"
KIND_USB = "usb"
KIND_OTHER = "other"

_LINK_RE = re.compile(r"LINK=(\S+)")


class PortInfo(Protocol):
    """What discovery reads of a port: pyserial's ListPortInfo, or a test's stand-in. Link entries
    also carry `hwid` ("LINK=<target>"), read where present."""

    @property
    def device(self) -> str: ...
    @property
    def vid(self) -> int | None: ...
    @property
    def pid(self) -> int | None: ...
    @property
    def serial_number(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def manufacturer(self) -> str | None: ...
    @property
    def product(self) -> str | None: ...
    @property
    def location(self) -> str | None: ...


@dataclass(frozen=True)
class PortCandidate:
    device: str                    # the tty node, e.g. /dev/ttyACM0
    kind: str                      # KIND_BOARD, KIND_ADAPTER, KIND_USB or KIND_OTHER
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    description: str = ""
    manufacturer: str | None = None
    product: str | None = None
    location: str | None = None
    adapter: str = ""              # adapter family for KIND_ADAPTER
    links: tuple[str, ...] = field(default_factory=tuple)  # symlinks to the device (udev SYMLINK+=)

    @property
    def usb_id(self) -> str:
        return "" if self.vid is None else f"{self.vid:04x}:{(self.pid or 0):04x}"

    @property
    def udev_link(self) -> str | None:
        """The rules' stable symlink /dev/lambdarig-<serial>, when present."""
        if self.serial_number:
            wanted = SYMLINK_PREFIX + self.serial_number
            if wanted in self.links:
                return wanted
        board_links = [link for link in self.links if link.startswith(SYMLINK_PREFIX)]
        return board_links[0] if board_links else None

    @property
    def udev_rule_matches(self) -> bool:
        """Whether udev/60-lambdarig.rules matches this board: its glob ATTRS{product}=="lambdarig*" is
        case-sensitive and anchored, narrower than the discovery match (manufacturer also counts)."""
        return (self.kind == KIND_BOARD and self.vid == BENCH_VID and self.pid == BENCH_PID
                and _text(self.product).startswith(BENCH_MARK))

    @property
    def path(self) -> str:
        """The path to open: the udev symlink when there is one, else the tty."""
        return self.udev_link or self.device

    @property
    def url(self) -> str:
        return "serial://" + self.path

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["links"] = list(self.links)
        data.update(usb_id=self.usb_id, udev_link=self.udev_link, udev_rule_matches=self.udev_rule_matches,
                    url=self.url)
        return data


def _text(value: object) -> str:
    return printable_device_text(value) if isinstance(value, str) else ""


def _optional_text(value: str | None) -> str | None:
    """A USB descriptor string as shown: without the escape sequences a device may put in it."""
    return None if value is None else printable_device_text(value)


def classify(vid: int | None, pid: int | None, product: str | None, manufacturer: str | None) -> tuple[str, str]:
    """(kind, adapter name) for a port's USB ids and strings."""
    if vid is None:
        return KIND_OTHER, ""
    if vid == BENCH_VID and pid == BENCH_PID and (
            BENCH_MARK in _text(product).lower() or BENCH_MARK in _text(manufacturer).lower()):
        return KIND_BOARD, ""
    name = ADAPTERS.get((vid, pid)) or ADAPTERS.get((vid, None))
    if name:
        return KIND_ADAPTER, name
    return KIND_USB, ""


def _link_target(info: PortInfo) -> str | None:
    """Where a link entry of comports(include_links=True) points, or None for a real port."""
    match = _LINK_RE.search(_text(getattr(info, "hwid", "")))
    if match:
        return match.group(1)
    device = getattr(info, "device", None)
    if device and os.path.islink(device):
        return os.path.realpath(device)
    return None


def system_ports() -> list[PortInfo]:
    """pyserial's ports, with udev symlinks."""
    from serial.tools import list_ports  # imported here: the rest of hal/ports.py needs no pyserial
    return list(list_ports.comports(include_links=True))


def discover(ports: Iterable[PortInfo] | None = None, include_all: bool = False) -> list[PortCandidate]:
    """Classify ports (default: the system's), boards first, then adapters, other USB, others;
    sorted by device within each kind. `ports`: ListPortInfo-like objects (tests pass their own)."""
    ports = system_ports() if ports is None else list(ports)
    real: list[PortInfo] = []
    links: dict[str, list[str]] = {}
    for info in ports:
        target = _link_target(info)
        if target is not None:
            links.setdefault(target, []).append(info.device)
        else:
            real.append(info)
    out: list[PortCandidate] = []
    for info in real:
        kind, adapter = classify(info.vid, info.pid, info.product, info.manufacturer)
        if kind == KIND_OTHER and not include_all:
            continue
        own = set(links.get(info.device, ()))
        real_path = os.path.realpath(info.device)
        if real_path != info.device:
            own.update(links.get(real_path, ()))
        out.append(PortCandidate(
            device=info.device, kind=kind, vid=info.vid, pid=info.pid, serial_number=_optional_text(info.serial_number),
            description=_text(info.description), manufacturer=_optional_text(info.manufacturer),
            product=_optional_text(info.product),
            location=info.location, adapter=adapter, links=tuple(sorted(own))))
    order = {KIND_BOARD: 0, KIND_ADAPTER: 1, KIND_USB: 2, KIND_OTHER: 3}
    out.sort(key=lambda c: (order[c.kind], _natural(c.device)))
    return out


def _natural(text: str) -> list[int | str]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def boards(candidates: Iterable[PortCandidate]) -> list[PortCandidate]:
    return [c for c in candidates if c.kind == KIND_BOARD]


def describe(candidate: PortCandidate) -> str:
    serial = f"serial {candidate.serial_number}" if candidate.serial_number else "no serial number"
    ident = f"USB {candidate.usb_id}" if candidate.usb_id else "no USB id"
    return f"{candidate.path} ({ident}, {serial}, {candidate.description or 'n/a'})"


def pick(candidates: list[PortCandidate]) -> PortCandidate:
    """The one lambdarig board among `candidates`; FrontEndError naming what was found otherwise."""
    found = boards(candidates)
    if len(found) == 1:
        return found[0]
    if found:
        names = "; ".join(describe(c) for c in found)
        raise FrontEndError(f"{len(found)} lambdarig bench boards found: {names}; choose one with "
                            f"serial://{found[0].path} (--hal for run, --port for flash and settings)")
    others = [c for c in candidates if c.kind in (KIND_ADAPTER, KIND_USB)]
    hint = (f"; other serial ports (not picked automatically): {'; '.join(describe(c) for c in others)}"
            if others else "")
    raise FrontEndError(f"no lambdarig bench board found (USB {BENCH_VID:04x}:{BENCH_PID:04x} with "
                        f"'{BENCH_MARK}' in its product name){hint}. Give the port explicitly, e.g. "
                        f"serial:///dev/ttyACM0 (--hal for run, --port for flash and settings); an emulated rig "
                        f"(`lambdarig serve rig`) is a pseudo-terminal, never listed: use the path it prints")


def find_rig(ports: Iterable[PortInfo] | None = None) -> str:
    """URL `serial://<path>` of the one lambdarig bench board attached (its udev symlink if present).
    FrontEndError if there is none or more than one, naming them."""
    return pick(discover(ports)).url
