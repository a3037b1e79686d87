"""Text a device sent (a serial number, an element name, an error text, a USB descriptor) made safe
to print: a device can send anything, and a terminal obeys escape sequences (colours, cursor moves,
a rewritten title, a cleared screen). ANSI escape sequences are removed whole; any other control or
format character (C0, DEL, C1, bidi overrides) becomes U+FFFD, so what was sent stays visible as
something odd rather than vanishing."""

from __future__ import annotations

import re
import unicodedata

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), and two-character ESC sequences.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]|\x9b[0-?]*[ -/]*[@-~]")
REPLACEMENT = "\ufffd"


def printable_device_text(text: str) -> str:
    """`text` without escape sequences and with every other control or format character replaced."""
    text = ANSI_ESCAPE.sub("", text)
    return "".join(REPLACEMENT if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in text)
