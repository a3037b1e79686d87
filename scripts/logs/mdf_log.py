"""The MDF4 log (ASAM MDF 4.10, written with asammdf): one channel group whose master is time (s),
one channel per log channel with its unit and comment, and the run's metadata in the file header
(start time as absolute UTC; the metadata as JSON in the header comment's TX).

Rows are kept as raw values and handed to asammdf per chunk as numpy arrays (`MDF.extend`), which
puts them in its temporary file, so a long run does not grow in memory; the file itself is written
at close. Text channels (state, fault) are stored as integer codes with a value-to-text conversion,
as MDF tools show enumerations.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from lambdarig.controller.diagnostics import CODES
from lambdarig.controller.statemachine import State

from .base import LogWriter
from .channels import Channel, ChannelsTaker, RowTaker
from .metadata import finished, to_json, with_channels

MDF_INSTALL_HINT = "MDF4 logs need asammdf: pip install 'lambdarig[mdf]'"
UNKNOWN_TEXT = "?"   # a state or code the table below does not know (a newer firmware's)


def check_mdf_available() -> None:
    """ValueError with the install hint when asammdf is missing."""
    try:
        import asammdf  # noqa: F401
    except ImportError:
        raise ValueError(MDF_INSTALL_HINT) from None


def text_codes(channel: Channel) -> list[str]:
    """The texts a text channel can take, in code order (code 0 first)."""
    if channel.attr == "state":
        return [s.value for s in State]
    return [""] + sorted(CODES)


class MdfLog(LogWriter):
    kind = "mf4"

    def __init__(self, path: str | Path, channels: Sequence[Channel], t0_s: float = 0.0,
                 limits: dict[str, float] | None = None, metadata: dict[str, Any] | None = None,
                 taker: RowTaker | ChannelsTaker | None = None):
        from asammdf import MDF

        super().__init__(path, channels, t0_s, limits, metadata, taker)
        self.metadata = with_channels(metadata or {}, self.channels, "mf4")
        self._mdf: Any = MDF(version="4.10")
        self._codes = {c.name: {text: i for i, text in enumerate(text_codes(c))}
                       for c in self.channels if c.fmt == "s"}
        self._appended = False
        try:
            with open(self.path, "wb"):   # the file exists from the start, as the CSV does
                pass
        except OSError as exc:
            self._fail()
            raise self.error(exc) from None

    def _arrays(self, columns: list[list[Any]]) -> list[np.ndarray]:
        arrays = []
        for c, col in zip(self.channels, columns):
            if c.fmt == "s":
                codes = self._codes[c.name]
                unknown = len(codes)
                arrays.append(np.array([codes.get(v, unknown) for v in col], dtype=np.uint8))
            elif c.fmt == "i":
                arrays.append(np.array(col, dtype=np.int8))
            else:
                arrays.append(np.array(col, dtype=np.float64))
        return arrays

    def _write_chunk(self, columns: list[list[Any]], n: int) -> None:
        from asammdf import Signal

        arrays = self._arrays(columns)
        time_s = arrays[0]   # the t_s channel is the master
        if not self._appended:
            signals = [Signal(samples=a, timestamps=time_s, name=c.name, unit=c.unit, comment=c.comment,
                              conversion=self._conversion(c))
                       for c, a in zip(self.channels[1:], arrays[1:])]
            self._mdf.append(signals, comment="lambdarig telemetry")
            self._appended = True
        else:
            self._mdf.extend(0, [(time_s, None)] + [(a, None) for a in arrays[1:]])

    def _conversion(self, channel: Channel) -> dict[str, Any] | None:
        if channel.fmt != "s":
            return None
        conv: dict[str, Any] = {}
        for text, code in self._codes[channel.name].items():
            conv[f"val_{code}"] = code
            conv[f"text_{code}"] = text.encode()
        conv["default"] = UNKNOWN_TEXT.encode()
        return conv

    def _finish(self) -> None:
        mdf = self._mdf
        meta = finished(self.metadata, self.rows)   # rows and end_utc, as the text logs' sidecars have them
        start = meta.get("start_utc")
        header = mdf.header
        header.start_time = datetime.fromisoformat(start) if start else datetime.now(UTC)
        # The comment first: setting it replaces the common properties that author & co. go into.
        header.comment = _hd_comment(meta)
        header.author = "lambdarig"
        header.project = f"lambdarig {meta.get('lambdarig_version', '')}".strip()
        element = meta.get("element")
        header.subject = ", ".join(element) if isinstance(element, list) else str(element or "")
        # asammdf names what it saves .mf4 whatever the suffix asked for: save beside the log under
        # a temporary .mf4 name and rename it over the log (also: the log is whole or absent).
        tmp = self.path.with_name(f".{self.path.name}.tmp.mf4")
        try:
            saved = Path(mdf.save(tmp, overwrite=True))
            os.replace(saved, self.path)
        finally:
            mdf.close()
            if tmp.exists():
                tmp.unlink()

    def _fail(self) -> None:
        super()._fail()
        try:
            self._mdf.close()
        except Exception:   # noqa: BLE001 - dropping a file that already failed
            pass


# Shown as the file's properties by MDF tools (asammdf's GUI): the metadata's short facts, and the
# settings as a tree. The whole metadata is the comment's text (TX), as JSON.
HEADER_PROPERTIES = ("lambdarig_version", "start_utc", "element", "unit", "age_h", "rig_serial", "scenario", "seed")


def _hd_comment(meta: dict[str, Any]) -> str:
    import xml.etree.ElementTree as ET

    root = ET.Element("HDcomment")
    ET.SubElement(root, "TX").text = to_json(meta)
    common = ET.SubElement(root, "common_properties")
    for key in HEADER_PROPERTIES:
        value = meta.get(key)
        if value is not None:
            ET.SubElement(common, "e", name=key).text = ", ".join(map(str, value)) if isinstance(value, list) \
                else str(value)
    frontend = meta.get("frontend")
    if isinstance(frontend, dict):
        ET.SubElement(common, "e", name="frontend").text = f"{frontend.get('name')} ({frontend.get('kind')})"
    settings = meta.get("settings")
    if isinstance(settings, dict):
        tree = ET.SubElement(common, "tree", name="settings")
        for name, value in settings.items():
            ET.SubElement(tree, "e", name=name).text = str(value)
    return ET.tostring(root, encoding="unicode")


def read_metadata(mdf: Any) -> dict[str, Any]:
    """The metadata dict back from an opened asammdf.MDF written here."""
    import json
    import xml.etree.ElementTree as ET

    comment = mdf.header.comment
    try:
        node = ET.fromstring(comment).find("TX")
        text = node.text if node is not None else comment
    except ET.ParseError:
        text = comment
    return json.loads(text or "{}")
