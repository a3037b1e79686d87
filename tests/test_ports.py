"""Port discovery with pyserial's own ListPortInfo objects (pyserial never lists ptys, so real
discovery cannot be exercised with the emulated rig): VID/PID and product matching, udev symlinks
folded into their tty, which port is picked, and `lambdarig ports`."""

from __future__ import annotations

import json

import pytest
from rig_cli_helpers import main
from serial.tools.list_ports_common import ListPortInfo

from lambdarig.hal import ports
from lambdarig.hal.types import FrontEndError


def usb_port(device, vid, pid, serial=None, product=None, manufacturer=None, location="1-1:1.0"):
    """A ListPortInfo filled the way pyserial's Linux SysFS fills a USB tty."""
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.serial_number = vid, pid, serial
    info.product, info.manufacturer, info.location = product, manufacturer, location
    info.apply_usb_info()
    return info


def link(device, target):
    """A symlink entry as comports(include_links=True) gives it in pyserial 3.5: no USB data."""
    info = ListPortInfo(device, skip_link_detection=True)
    info.hwid = f"LINK={target} LINK={target}"
    return info


def builtin(device):
    return ListPortInfo(device, skip_link_detection=True)


def board(device="/dev/ttyACM0", serial="LR-0001", location="1-1:1.0"):
    return usb_port(device, 0x0483, 0x5740, serial, "lambdarig bench board", "lambdarig project", location)


FTDI = usb_port("/dev/ttyUSB0", 0x0403, 0x6001, "A10K2XYZ", "FT232R USB UART", "FTDI")
CP210X = usb_port("/dev/ttyUSB1", 0x10C4, 0xEA60, "0001", "CP2102 USB to UART Bridge Controller", "Silicon Labs")
CH340 = usb_port("/dev/ttyUSB2", 0x1A86, 0x7523, None, "USB Serial", None)
NUCLEO = usb_port("/dev/ttyACM5", 0x0483, 0x5740, "3471387C3033", "STM32 Virtual ComPort", "STMicroelectronics")
ARDUINO = usb_port("/dev/ttyACM7", 0x2341, 0x0043, "7573", "Arduino Uno", "Arduino")


def test_board_is_matched_by_ids_and_product():
    found = ports.discover([builtin("/dev/ttyS0"), FTDI, board(), NUCLEO, CP210X, CH340, ARDUINO])
    kinds = {c.device: c.kind for c in found}
    assert kinds == {"/dev/ttyACM0": "lambdarig", "/dev/ttyUSB0": "adapter", "/dev/ttyUSB1": "adapter",
                     "/dev/ttyUSB2": "adapter", "/dev/ttyACM5": "adapter", "/dev/ttyACM7": "usb"}
    assert found[0].device == "/dev/ttyACM0"  # boards first
    by_device = {c.device: c for c in found}
    assert by_device["/dev/ttyUSB0"].adapter == "FTDI"
    assert by_device["/dev/ttyUSB1"].adapter == "SiLabs CP210x"
    assert by_device["/dev/ttyUSB2"].adapter == "WCH CH340"
    assert "not a lambdarig board" in by_device["/dev/ttyACM5"].adapter
    assert by_device["/dev/ttyACM0"].usb_id == "0483:5740"
    assert by_device["/dev/ttyACM0"].serial_number == "LR-0001"


def test_manufacturer_mark_is_enough_and_case_is_ignored(monkeypatch, capsys):
    info = usb_port("/dev/ttyACM1", 0x0483, 0x5740, "X", "Sensor Controller", "LambdaRig Labs")
    found = ports.discover([info])[0]
    assert found.kind == "lambdarig"
    # ...but the udev rule's glob (product "lambdarig*") does not match it: `ports` says so.
    assert not found.udev_rule_matches
    assert ports.discover([board()])[0].udev_rule_matches
    monkeypatch.setattr(ports, "system_ports", lambda: [info])
    assert main(["ports"], monkeypatch) == 0
    assert "udev rules do not match: USB product must start with 'lambdarig'" in capsys.readouterr().out


def test_builtin_ports_only_with_all():
    assert ports.discover([builtin("/dev/ttyS0")]) == []
    assert ports.discover([builtin("/dev/ttyS0")], include_all=True)[0].kind == "other"


def test_find_rig_picks_the_one_board_and_prefers_its_udev_link():
    listing = [FTDI, board(), link("/dev/lambdarig-LR-0001", "/dev/ttyACM0"), link("/dev/serial-ftdi", "/dev/ttyUSB0")]
    assert ports.find_rig(listing) == "serial:///dev/lambdarig-LR-0001"
    found = ports.discover(listing)
    assert found[0].links == ("/dev/lambdarig-LR-0001",)
    assert found[0].udev_link == "/dev/lambdarig-LR-0001"
    assert found[1].links == ("/dev/serial-ftdi",)


def test_find_rig_without_udev_link_uses_the_tty():
    assert ports.find_rig([board("/dev/ttyACM3")]) == "serial:///dev/ttyACM3"


def test_no_board_names_the_adapters_and_never_picks_them():
    with pytest.raises(FrontEndError) as info:
        ports.find_rig([FTDI, NUCLEO])
    text = str(info.value)
    assert "no lambdarig bench board found" in text
    assert "/dev/ttyUSB0" in text and "A10K2XYZ" in text and "/dev/ttyACM5" in text
    assert "pseudo-terminal" in text


def test_no_ports_at_all():
    with pytest.raises(FrontEndError, match="no lambdarig bench board found"):
        ports.find_rig([])


def test_several_boards_are_refused_naming_each():
    listing = [board("/dev/ttyACM0", "LR-0001", "1-1:1.0"), board("/dev/ttyACM1", "LR-0002", "1-2:1.0"),
               link("/dev/lambdarig-LR-0002", "/dev/ttyACM1")]
    with pytest.raises(FrontEndError) as info:
        ports.find_rig(listing)
    text = str(info.value)
    assert "2 lambdarig bench boards" in text
    assert "LR-0001" in text and "/dev/ttyACM0" in text
    assert "/dev/lambdarig-LR-0002" in text


def test_real_pyserial_listing_runs():
    # Whatever this machine has (often only ttyS*), discovery must not fail on pyserial's objects.
    for candidate in ports.discover(include_all=True):
        assert candidate.device.startswith("/dev/")


def test_cli_listing(monkeypatch, capsys):
    listing = [FTDI, board(), link("/dev/lambdarig-LR-0001", "/dev/ttyACM0"), builtin("/dev/ttyS0")]
    monkeypatch.setattr(ports, "system_ports", lambda: listing)
    assert main(["ports"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "lambdarig bench boards:" in out
    board_line = next(line for line in out.splitlines() if "/dev/ttyACM0" in line)
    assert board_line.lstrip().startswith("*")
    for text in ("0483:5740", "LR-0001", "lambdarig bench board", "/dev/lambdarig-LR-0001"):
        assert text in board_line
    assert "other serial adapters (never picked automatically):" in out
    assert "0403:6001" in out and "[FTDI]" in out
    assert "/dev/ttyS0" not in out
    assert "run would pick: serial:///dev/lambdarig-LR-0001" in out


def test_cli_listing_without_board_says_why(monkeypatch, capsys):
    monkeypatch.setattr(ports, "system_ports", lambda: [CH340])
    assert main(["ports"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "(none)" in out
    assert "run would pick: nothing. no lambdarig bench board found" in out


def test_cli_json(monkeypatch, capsys):
    listing = [board(), FTDI]
    monkeypatch.setattr(ports, "system_ports", lambda: listing)
    assert main(["ports", "--json", "--all"], monkeypatch) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["pick"] == "serial:///dev/ttyACM0"
    assert data["pick_error"] is None
    first = data["ports"][0]
    assert first["kind"] == "lambdarig" and first["vid"] == 0x0483 and first["pid"] == 0x5740
    assert first["usb_id"] == "0483:5740" and first["serial_number"] == "LR-0001"
    assert first["udev_link"] is None and first["links"] == [] and first["udev_rule_matches"] is True
    monkeypatch.setattr(ports, "system_ports", lambda: [board("/dev/ttyACM0", "A"), board("/dev/ttyACM1", "B")])
    assert main(["ports", "--json"], monkeypatch) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["pick"] is None and "2 lambdarig bench boards" in data["pick_error"]
