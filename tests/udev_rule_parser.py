"""A small udev rules parser and checker for tests (no PyPI linter exists; `udevadm verify` needs
systemd >= 254 and does not check that one rule's ATTRS keys belong to the same parent).

parse_rules(text) -> [Rule]: each rule is a list of Token(key, attr, op, value) with its line number.
check_rules(name, text) -> [problem text]: empty when the file passes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MATCH_OPS = ("==", "!=")
ASSIGN_OPS = ("=", "+=", "-=", ":=")

# Keys that may only be matched, only be assigned, or either (udev(7)).
MATCH_ONLY = {"ACTION", "DEVPATH", "KERNEL", "KERNELS", "SUBSYSTEM", "SUBSYSTEMS", "DRIVER", "DRIVERS",
              "ATTRS", "TAGS", "TEST", "PROGRAM", "RESULT", "CONST", "SYMLINK_MATCH"}
ASSIGN_ONLY = {"NAME", "OWNER", "GROUP", "MODE", "RUN", "LABEL", "GOTO", "IMPORT", "OPTIONS", "SECLABEL"}
EITHER = {"ENV", "ATTR", "SYSCTL", "TAG", "SYMLINK", "NAME"}
KEYS_WITH_ATTR = {"ATTR", "ATTRS", "ENV", "SYSCTL", "TEST", "IMPORT", "RUN", "SECLABEL", "CONST"}

# Which parent an ATTRS attribute lives on, for the same-parent rule.
USB_DEVICE_ATTRS = {"idVendor", "idProduct", "product", "manufacturer", "serial", "bcdDevice", "bDeviceClass",
                    "bDeviceSubClass", "bDeviceProtocol", "bNumInterfaces", "bConfigurationValue", "busnum",
                    "devnum", "devpath", "speed", "version", "removable"}
USB_INTERFACE_ATTRS = {"bInterfaceNumber", "bInterfaceClass", "bInterfaceSubClass", "bInterfaceProtocol",
                       "bAlternateSetting", "bNumEndpoints", "interface"}

TOKEN_RE = re.compile(r'(?P<key>[A-Z_]+)(?:\{(?P<attr>[^}]*)\})?(?P<op>==|!=|\+=|-=|:=|=)"(?P<value>(?:[^"\\]|\\.)*)"')
SUBST_RE = re.compile(r"%(?P<p>[a-zA-Z%])(?:\{[^}]*\})?|\$(?P<d>[a-z]+)(?:\{[^}]*\})?")
VALID_PERCENT = set("kKnpbMmsScPNDrE%")
VALID_DOLLAR = {"kernel", "number", "devpath", "id", "driver", "attr", "sysfs", "env", "major", "minor",
                "result", "parent", "name", "links", "root", "sys", "devnode", "tempnode"}


@dataclass(frozen=True)
class Token:
    key: str
    attr: str | None
    op: str
    value: str


@dataclass
class Rule:
    line: int
    tokens: list[Token] = field(default_factory=list)

    def get(self, key: str, attr: str | None = None, ops: tuple[str, ...] | None = None) -> list[Token]:
        return [t for t in self.tokens if t.key == key and (attr is None or t.attr == attr)
                and (ops is None or t.op in ops)]

    def value(self, key: str, attr: str | None = None, ops: tuple[str, ...] = MATCH_OPS) -> str | None:
        found = self.get(key, attr, ops)
        return found[0].value if found else None


class RuleSyntaxError(ValueError):
    pass


def logical_lines(text: str):
    """(first line number, text) with backslash continuations joined, comments and blanks skipped."""
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        yield start, pending + stripped
        pending = ""
    if pending:
        raise RuleSyntaxError(f"line {start}: the file ends inside a continued line")


def parse_line(number: int, text: str) -> Rule:
    rule = Rule(number)
    pos = 0
    while pos < len(text):
        match = TOKEN_RE.match(text, pos)
        if not match:
            raise RuleSyntaxError(f"line {number}: cannot parse {text[pos:pos + 40]!r} "
                                  '(expected KEY[{attr}]OP"value")')
        rule.tokens.append(Token(match["key"], match["attr"], match["op"], match["value"]))
        pos = match.end()
        if pos == len(text):
            break
        separator = re.compile(r",\s*").match(text, pos)
        if not separator:
            raise RuleSyntaxError(f"line {number}: a comma is expected between tokens at {text[pos:pos + 20]!r}")
        pos = separator.end()
        if pos == len(text):
            raise RuleSyntaxError(f"line {number}: the rule ends with a comma")
    return rule


def parse_rules(text: str) -> list[Rule]:
    return [parse_line(number, line) for number, line in logical_lines(text)]


def attrs_level(token: Token) -> str | None:
    """'device', 'interface' or None (a key that does not pin a USB parent)."""
    if token.key == "ATTRS":
        if token.attr in USB_DEVICE_ATTRS:
            return "device"
        if token.attr in USB_INTERFACE_ATTRS:
            return "interface"
        return f"unknown:{token.attr}"
    if token.key == "DRIVERS":
        return "device" if token.value == "usb" else "interface"
    if token.key == "SUBSYSTEMS" and token.value not in ("usb",):
        return f"subsystem:{token.value}"
    return None


def check_substitutions(rule: Rule, token: Token) -> list[str]:
    problems = []
    for match in SUBST_RE.finditer(token.value):
        if match["p"] and match["p"] not in VALID_PERCENT:
            problems.append(f"line {rule.line}: {token.key}: unknown substitution %{match['p']}")
        if match["d"] and match["d"] not in VALID_DOLLAR:
            problems.append(f"line {rule.line}: {token.key}: unknown substitution ${match['d']}")
    return problems


def check_rules(name: str, text: str) -> list[str]:
    try:
        rules = parse_rules(text)
    except RuleSyntaxError as exc:
        return [f"{name}: {exc}"]
    problems: list[str] = []
    labels = {}
    for rule in rules:
        for token in rule.get("LABEL"):
            labels.setdefault(token.value, rule.line)
    for rule in rules:
        if not rule.tokens:
            problems.append(f"line {rule.line}: empty rule")
        for token in rule.tokens:
            if token.key in MATCH_ONLY and token.key not in EITHER and token.op not in MATCH_OPS:
                problems.append(f"line {rule.line}: invalid operator {token.op!r} for {token.key} "
                                "(match key: == or !=)")
            elif token.key in ASSIGN_ONLY and token.key not in EITHER and token.op not in ASSIGN_OPS:
                problems.append(f"line {rule.line}: invalid operator {token.op!r} for {token.key} "
                                "(assignment key: =, += or :=)")
            elif token.key not in MATCH_ONLY | ASSIGN_ONLY | EITHER:
                problems.append(f"line {rule.line}: unknown key {token.key}")
            if token.key in KEYS_WITH_ATTR and token.key not in ("RUN", "IMPORT") and not token.attr:
                problems.append(f"line {rule.line}: {token.key} needs {{attribute}}")
            if token.attr is not None and token.key not in KEYS_WITH_ATTR:
                problems.append(f"line {rule.line}: {token.key} takes no {{attribute}}")
            if token.op in ASSIGN_OPS:
                problems += check_substitutions(rule, token)
            if token.key == "MODE" and token.op in ASSIGN_OPS and not re.fullmatch(r"0?[0-7]{3}", token.value):
                problems.append(f"line {rule.line}: MODE {token.value!r} is not an octal mode")
        for token in rule.get("GOTO"):
            if token.value not in labels:
                problems.append(f"line {rule.line}: GOTO={token.value!r} has no matching LABEL")
            elif labels[token.value] < rule.line:
                problems.append(f"line {rule.line}: GOTO={token.value!r} jumps backwards (udev only jumps forward)")
        levels = {level for level in map(attrs_level, rule.tokens) if level is not None}
        unknown = sorted(level for level in levels if level.startswith("unknown:"))
        if unknown:
            problems.append(f"line {rule.line}: ATTRS attribute(s) {', '.join(u[8:] for u in unknown)} not known to "
                            "the checker: add them to USB_DEVICE_ATTRS or USB_INTERFACE_ATTRS")
        elif len(levels) > 1:
            problems.append(f"line {rule.line}: ATTRS/SUBSYSTEMS/DRIVERS keys refer to different parents "
                            f"({', '.join(sorted(levels))}): the rule can never match")
    return [f"{name}: {p}" for p in problems]
