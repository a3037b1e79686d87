"""The udev rules, checked by a small parser (runs everywhere; udevadm verify needs systemd >= 254):
syntax and operators, one parent per rule, GOTO/LABEL, uaccess ordering, ModemManager ignore,
per-serial symlink, the instrument vendors, and the ids shared with hal/ports.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from udev_rule_parser import Rule, check_rules, parse_rules

from lambdarig.hal import ports

UDEV = Path(__file__).resolve().parents[1] / "udev"
BOARD_RULES = UDEV / "60-lambdarig.rules"
INSTRUMENT_RULES = UDEV / "60-lambdarig-instruments.rules"
RULE_FILES = sorted(UDEV.glob("*.rules"))
INSTRUMENT_VENDORS = {"05e6": "Keithley", "2a8d": "Keysight", "0957": "Agilent", "1ab1": "Rigol", "0699": "Tektronix"}
SEAT_RULES = ("71-seat.rules", "73-seat-late.rules")


def rules_of(path: Path) -> list[Rule]:
    return parse_rules(path.read_text())


def assigned(rule: Rule, key: str, attr: str | None = None) -> str | None:
    return rule.value(key, attr, ops=("=", "+=", ":="))


def test_both_files_exist():
    assert [p.name for p in RULE_FILES] == ["60-lambdarig-instruments.rules", "60-lambdarig.rules"]


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_every_line_is_a_valid_rule(path):
    assert check_rules(path.name, path.read_text()) == []


def test_concatenation_is_valid_too():
    # `lambdarig udev print` prints both files as one text: the labels must not collide.
    text = "\n".join(p.read_text() for p in RULE_FILES)
    assert check_rules("both", text) == []
    labels = [t.value for r in parse_rules(text) for t in r.get("LABEL")]
    assert len(labels) == len(set(labels)) == 2


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_action_guard_first_and_label_last(path):
    rules = rules_of(path)
    first, last = rules[0], rules[-1]
    assert first.value("ACTION", ops=("!=",)) == "add|change"
    label = assigned(first, "GOTO")
    assert label and assigned(last, "LABEL") == label
    assert len(last.tokens) == 1


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_uaccess_rules_sort_before_the_seat_rules(path):
    has_uaccess = any(t.value == "uaccess" for r in rules_of(path) for t in r.get("TAG", ops=("+=",)))
    assert has_uaccess
    for seat in SEAT_RULES:
        assert path.name < seat, f"{path.name} must sort before {seat} for TAG+=\"uaccess\" to work"


def board_tty_rules() -> list[Rule]:
    return [r for r in rules_of(BOARD_RULES)
            if r.value("SUBSYSTEM") == "tty" and r.value("ATTRS", "idVendor") == f"{ports.BENCH_VID:04x}"]


def test_board_rules_use_the_ids_that_ports_discovery_uses():
    rules = board_tty_rules()
    assert rules
    for rule in rules:
        assert rule.value("ATTRS", "idVendor") == f"{ports.BENCH_VID:04x}"
        assert rule.value("ATTRS", "idProduct") == f"{ports.BENCH_PID:04x}"
        assert rule.value("ATTRS", "product") == ports.BENCH_MARK + "*"


def test_board_permissions_uaccess_and_modemmanager_ignore():
    perms = [r for r in board_tty_rules() if assigned(r, "MODE")]
    assert len(perms) == 1
    rule = perms[0]
    assert assigned(rule, "MODE") == "0660"
    assert assigned(rule, "GROUP") == "dialout"
    assert assigned(rule, "TAG") == "uaccess"
    assert assigned(rule, "ENV", "ID_MM_DEVICE_IGNORE") == "1"
    assert rule.value("ATTRS", "serial") is None  # boards without a serial number get permissions too


def test_board_symlink_per_serial_number():
    links = [r for r in board_tty_rules() if r.get("SYMLINK", ops=("+=",))]
    assert len(links) == 1
    rule = links[0]
    assert assigned(rule, "SYMLINK") == "lambdarig-%s{serial}"
    assert ports.SYMLINK_PREFIX == "/dev/lambdarig-"
    assert rule.value("ATTRS", "serial") == "?*"  # no "lambdarig-" symlink for a board without a serial
    assert not rule.get("SYMLINK", ops=("=", ":="))  # add to other links, never replace them


def test_instrument_vendors_usb_nodes():
    rules = rules_of(INSTRUMENT_RULES)
    by_vendor = {r.value("ATTR", "idVendor"): r for r in rules if r.value("SUBSYSTEM") == "usb"}
    assert set(by_vendor) == set(INSTRUMENT_VENDORS)
    for vendor, rule in by_vendor.items():
        assert rule.value("ENV", "DEVTYPE") == "usb_device", vendor
        assert assigned(rule, "MODE") == "0660"
        assert assigned(rule, "GROUP") == "plugdev"
        assert assigned(rule, "TAG") == "uaccess"
        assert not rule.get("ATTRS")  # the usb device itself: ATTR, not a parent walk


def test_usbtmc_node_rule():
    rules = [r for r in rules_of(INSTRUMENT_RULES) if r.value("KERNEL") == "usbtmc[0-9]*"]
    assert len(rules) == 1
    assert assigned(rules[0], "MODE") == "0660" and assigned(rules[0], "GROUP") == "plugdev"
    # The guard must let the usbtmc nodes (class usbmisc) through.
    guard = [r for r in rules_of(INSTRUMENT_RULES) if r.value("SUBSYSTEM", ops=("!=",))]
    assert all("usbmisc" in r.value("SUBSYSTEM", ops=("!=",)).split("|") for r in guard)


# --- the checker itself catches what it claims to catch -------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ('SUBSYSTEM=="tty", ATTRS{idVendor}=="0483", ATTRS{bInterfaceNumber}=="00", MODE="0660"', "different parents"),
    ('SUBSYSTEM=="tty", ATTRS{idVendor}="0483", MODE="0660"', "invalid operator '=' for ATTRS"),
    ('SUBSYSTEM=="tty", MODE=="0660"', "invalid operator '==' for MODE"),
    ('SUBSYSTEM=="tty" MODE="0660"', "comma is expected"),
    ('SUBSYSTEM=="tty", MODE="0660",', "ends with a comma"),
    ('ACTION!="add", GOTO="nowhere"', "no matching LABEL"),
    ('SUBSYSTEM=="tty", ATTRS{idVendr}=="0483"', "not known to the checker"),
    ('SUBSYSTEM=="tty", MODE="rw-rw----"', "not an octal mode"),
    ('SUBSYSTEM=="tty", SYMLINK+="x-%q"', "unknown substitution %q"),
    ('SUBSYSTEM=="tty", FOO="1"', "unknown key FOO"),
    ("SUBSYSTEM=='tty'", "cannot parse"),
])
def test_checker_catches(text, expected):
    problems = check_rules("sample", text + "\n")
    assert any(expected in p for p in problems), problems


def test_checker_accepts_continuations_and_comments():
    text = '# a comment\n\nSUBSYSTEM=="tty", \\\n  ATTRS{idVendor}=="0483", MODE="0660"\n'
    assert check_rules("sample", text) == []
    assert parse_rules(text)[0].line == 3
