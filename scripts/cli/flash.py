"""Flashing controller settings into a bench rig, and reading them back: the procedure behind
`lambdarig flash` and `lambdarig settings read|diff` (scripts/cli/cmd_flash.py, scripts/cli/cmd_settings.py).

The flash sequence (docs/settings.md):

  0. before the port is opened: the settings file is loaded and validated (unknown key, range,
     schema version: SettingsError naming the field and the allowed range);
  1. identity: protocol version, settings capability; the rig's serial must match --device-serial
     when given; the settings' sensor.element must match the rig's element unless forced;
  2. the image is built for this rig's serial number and decoded again (a self-check); it must fit
     a slot. Nothing has been written yet: every refusal above leaves the rig untouched;
  3. erase the inactive slot; 4. write the image in chunks of lambdarig.protocol.codes.MAX_WRITE bytes;
  5. read the inactive slot back and compare byte for byte (and decode it);
  6. verify: the rig's own check of the inactive slot (valid, length, CRC);
  7. commit with the image CRC: the one atomic switch of the active slot;
  8. confirm: SETTINGS_INFO shows the new CRC, length and a newer generation (0 follows 0xFFFFFFFF),
     the active slot reads back as the image, and HELLO still answers with the same serial number.

The active slot is never touched before step 7, so a failure (or a power loss) at any step leaves the
rig with valid settings: the old ones before the commit, the old or the new ones during it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field

from lambdarig.common.errors import InputError, nearest
from lambdarig.controller.settings import FIELDS, SCHEMA, SCHEMA_VERSION, Settings, SettingsError
from lambdarig.controller.settings_image import decode_image, decode_image_with_serial, encode_settings
from lambdarig.hal.address import PYSERIAL_SCHEMES, check_baudrate, frontend_url
from lambdarig.hal.types import FrontEndError
from lambdarig.protocol.codes import CAP_SETTINGS, MAX_WRITE
from lambdarig.protocol.commit_record import is_newer_generation
from lambdarig.protocol.framing import PROTOCOL_VERSION
from lambdarig.protocol.image import image_crc

# Per-sensor values a command measures on the sensor attached to a rig and stores in its flash, and the
# command that does. A settings file is written for a kind of sensor, not for the one on this rig, so a
# flash keeps these unless the file sets them or --reset-calibration is given (docs/settings.md).
RIG_CALIBRATION = {"conversion.span_correction": "lambdarig calibrate --free-air",
                   "conversion.pressure_k_kpa": "lambdarig calibrate --free-air --pressure-kpa P"}

STEPS = ("identity", "check", "erase", "write", "read back", "verify", "commit", "confirm")
FLASH_TIMEOUT_S = 0.5   # per request attempt: erase and write touch flash, slower than a PING on a board


class FlashFailed(FrontEndError):
    """A flash that failed after it started talking to the rig; says which step and what the rig
    holds now."""

    def __init__(self, step: str, message: str):
        self.step = step
        super().__init__(message)


def resolve_port(url: str) -> tuple[str, dict]:
    """(pyserial port, RigLink options) from --port: a device path, a pyserial URL, a serial
    front-end URL (serial:///dev/..., serial://socket://...) or 'auto' / 'serial:auto' (the one
    bench board found by its USB ids)."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("--port: give the rig's port, e.g. /dev/ttyACM0, serial:///dev/lambdarig-LR0001, "
                         "the path `lambdarig serve rig` prints, or auto")
    url = url.strip()
    # The one address grammar (lambdarig.hal.address); a port has no other meaning, so a name without
    # a scheme is a device too (a --link symlink in the current directory).
    url = f"serial://{url}" if ":" not in url.partition("?")[0] and url.lower() != "auto" else frontend_url(url)
    options: dict = {}
    port = url
    if not url.lower().startswith("serial:"):
        scheme = url.partition(":")[0]
        raise InputError("command line", "--port", f"{url!r} does not name a serial port",
                         allowed="a device path (/dev/ttyUSB0), serial:PORT[?baudrate=N], a pyserial URL "
                                 "(socket://, rfc2217://, loop://, hwgrep://) or auto",
                         suggestions=nearest(scheme, ("serial", *PYSERIAL_SCHEMES)))
    if url.lower().startswith("serial:"):
        from lambdarig.hal.serial_frontend import parse_serial_url
        port, query = parse_serial_url(url)
        for key, value in query.items():
            if key == "timeout_s":
                options["timeout_s"] = float(value)
            elif key == "retries":
                options["retries"] = int(value)
            elif key == "baudrate":
                options["baudrate"] = check_baudrate(value, "command line", "--port baudrate")
            elif key == "exclusive":
                raise ValueError("--port: flashing always takes the port exclusively; drop 'exclusive' from the URL")
            # rate_hz, watchdog_ms, link_timeout_s, reconnect: streaming options, no meaning here
    if port == "auto":
        from lambdarig.hal.ports import find_rig
        found = find_rig()
        port = found[len("serial://"):]
    return port, options


def open_rig(url: str, timeout_s: float = FLASH_TIMEOUT_S):
    """A RigLink on --port, opened exclusively (no `run` or second flash can share it)."""
    from lambdarig.hal.rig_link import RigLink
    port, options = resolve_port(url)
    options.setdefault("timeout_s", timeout_s)
    return RigLink(port, exclusive=True, **options)


@dataclass
class FlashReport:
    port: str
    serial_number: str
    element: str
    firmware_version: str
    image_length: int
    image_crc: int
    schema_version: int
    chunks: int
    slot_size: int
    active_slot_before: int | None
    active_slot_after: int | None
    generation_before: int
    generation_after: int
    previous_crc: int | None
    unchanged: bool               # the rig already held exactly this image (flashed anyway)
    forced_element: bool
    seconds: float
    steps: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)    # what the rig ran with -> what it holds now
    kept: list[Kept] = field(default_factory=list)          # calibration kept from the rig (RIG_CALIBRATION)
    unreadable: str = ""   # why the rig's previous settings could not be read ("" = they could)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["image_crc"] = f"0x{self.image_crc:08X}"
        data["previous_crc"] = None if self.previous_crc is None else f"0x{self.previous_crc:08X}"
        data["changes"] = [{"field": c.name, "before": c.rig, "after": c.file, "unit": c.unit} for c in self.changes]
        data["kept"] = [{"field": k.name, "value": k.value, "file_value": k.file_value, "by": k.by} for k in self.kept]
        data["ok"] = True
        return data


def check_rig_for(settings: Settings, identity, device_serial: str | None, force_element: bool) -> None:
    """Refusals that need the rig's identity; all before anything is written."""
    if identity.protocol_version != PROTOCOL_VERSION:
        raise FrontEndError(f"the rig speaks protocol version {identity.protocol_version}; this host speaks "
                            f"{PROTOCOL_VERSION}")
    if not identity.has(CAP_SETTINGS):
        raise FrontEndError(f"the rig {identity.serial_number!r} (firmware {identity.firmware_version}) has "
                            "no settings flash (capability 'settings' not reported)")
    if device_serial is not None and device_serial != identity.serial_number:
        raise SettingsError("--device-serial", f"the rig on this port is {identity.serial_number!r}, not "
                                               f"{device_serial!r}; nothing was written", "flash")
    element = settings.get("sensor.element")
    if identity.element and element != identity.element and not force_element:
        raise SettingsError("sensor.element", f"the settings are for element {element!r} but the rig "
                                              f"{identity.serial_number!r} has {identity.element!r}; nothing was "
                                              "written (give --force-element to flash them anyway)", "flash")


def build_image(settings: Settings, serial_number: str) -> bytes:
    image = encode_settings(settings, serial_number)
    # Self-check: the codec must round-trip (host-side settings such as sensor.profile_file stay on the host).
    if decode_image(image, serial_number) != settings.changed(sensor__profile_file=""):
        raise SettingsError("image", "the encoded image does not decode to the same settings (codec fault); "
                                     "nothing was written", "flash")
    return image


def flash_settings(link, settings: Settings, *, device_serial: str | None = None, force_element: bool = False,
                   file_sets: Collection[str] | None = None, reset_calibration: bool = False,
                   progress: Callable[[str], None] | None = None,
                   announce: Callable[[str], None] | None = None) -> FlashReport:
    """Run the flash sequence on an open RigLink. Refusals before writing raise SettingsError
    (ValueError) or FrontEndError; failures after raise FlashFailed naming the step. `announce`
    gets one line naming the rig (serial number, element, firmware, port) once every check passed
    and just before the first write: a reused port number cannot hide which board is written.

    `file_sets`: the names a settings file sets; the rig's calibration (RIG_CALIBRATION) it does not
    set is kept unless `reset_calibration`. None: `settings` are complete and written as they are
    (the calibration command's own flash)."""
    t0 = time.monotonic()
    steps: list[str] = []

    def done(step: str, text: str) -> None:
        steps.append(step)
        if progress is not None:
            progress(f"{step}: {text}")

    identity = link.identity()
    check_rig_for(settings, identity, device_serial, force_element)
    done("identity", f"{identity.serial_number} ({identity.element or 'element unknown'}, firmware "
                     f"{identity.firmware_version})")
    before = link.settings_info()
    current, unreadable = _current_settings(link, identity, before)
    kept: list[Kept] = []
    if file_sets is not None and current is not None:
        settings, kept = keep_calibration(current, settings, file_sets, reset_calibration)
    image = build_image(settings, identity.serial_number)
    crc = image_crc(image)
    if len(image) > before.slot_size:
        raise FrontEndError(f"the settings image has {len(image)} bytes; the rig's slots hold {before.slot_size}")
    done("check", f"image {len(image)} bytes, CRC 0x{crc:08X}, fits the {before.slot_size}-byte slot")

    port = getattr(link, "port", "")
    if announce is not None:
        announce(f"writing to rig {identity.serial_number} ({identity.element or 'element unknown'}, firmware "
                 f"{identity.firmware_version}) on {port or 'its port'}")
    step = "erase"
    keeps = (f"the rig's active settings were not touched (generation {before.generation})"
             if before.image_length else "the rig still has no settings")
    try:
        link.settings_erase()
        done(step, "inactive slot erased")
        step = "write"
        chunks = 0
        for offset in range(0, len(image), MAX_WRITE):
            link.settings_write(offset, image[offset:offset + MAX_WRITE])
            chunks += 1
        done(step, f"{len(image)} bytes in {chunks} chunk(s)")
        step = "read back"
        back = link.settings_read(1, 0, len(image))
        if back != image:
            where = next((i for i, (a, b) in enumerate(zip(back, image)) if a != b), min(len(back), len(image)))
            raise FlashFailed(step, f"flash failed at step 'read back': the inactive slot differs from the image "
                                    f"at byte {where} of {len(image)}; nothing was committed, {keeps}")
        decode_image(back, identity.serial_number)
        done(step, "inactive slot matches the image")
        step = "verify"
        verified = link.settings_verify()
        valid, length, rig_crc = verified.valid, verified.image_length, verified.image_crc
        if not (valid and length == len(image) and rig_crc == crc):
            raise FlashFailed(step, f"flash failed at step 'verify': the rig reports the inactive slot as "
                                    f"{'valid' if valid else 'invalid'}, {length} bytes, CRC 0x{rig_crc:08X}; "
                                    f"expected {len(image)} bytes, CRC 0x{crc:08X}; nothing was committed, {keeps}")
        done(step, f"the rig checks the inactive slot: valid, CRC 0x{rig_crc:08X}")
        step = "commit"
        link.settings_commit(crc)
        done(step, "acknowledged")
    except FlashFailed:
        raise
    except (FrontEndError, SettingsError) as exc:
        if step == "commit":
            consequence = ("the commit may or may not have happened: the rig holds either the old or the new "
                           "settings, both valid; check with `lambdarig settings read --port "
                           f"{port or 'PORT'}`")
        else:
            consequence = f"nothing was committed, {keeps}"
        raise FlashFailed(step, f"flash failed at step '{step}': {exc}; {consequence}") from exc

    step = "confirm"
    try:
        after = link.settings_info()
        problems = []
        if after.image_crc != crc or after.image_length != len(image):
            problems.append(f"active image CRC 0x{after.image_crc:08X}, {after.image_length} bytes "
                            f"(expected 0x{crc:08X}, {len(image)} bytes)")
        if not is_newer_generation(after.generation, before.generation):   # ordered across the 2^32 wrap
            problems.append(f"generation {after.generation} did not increase from {before.generation}")
        if not problems and link.settings_read_active() != image:
            problems.append("the active slot does not read back as the image")
        confirm_identity = link.identity()
        if confirm_identity.serial_number != identity.serial_number:
            problems.append(f"the rig now reports serial {confirm_identity.serial_number!r}, "
                            f"not {identity.serial_number!r}")
    except FrontEndError as exc:
        raise FlashFailed(step, f"flash: the commit was acknowledged but confirming failed: {exc}") from exc
    if problems:
        raise FlashFailed(step, "flash: the commit was acknowledged but the rig does not confirm it: "
                                + "; ".join(problems))
    done(step, f"active slot {after.active_slot}, generation {after.generation}, CRC 0x{after.image_crc:08X}")
    return FlashReport(
        port=port, serial_number=identity.serial_number, element=identity.element,
        firmware_version=identity.firmware_version, image_length=len(image), image_crc=crc,
        schema_version=SCHEMA_VERSION, chunks=chunks, slot_size=before.slot_size,
        active_slot_before=before.active_slot if before.image_length else None,
        active_slot_after=after.active_slot, generation_before=before.generation,
        generation_after=after.generation, previous_crc=before.image_crc if before.image_length else None,
        unchanged=bool(before.image_length) and before.image_crc == crc,
        forced_element=bool(identity.element) and settings.get("sensor.element") != identity.element,
        seconds=time.monotonic() - t0, steps=steps,
        changes=[] if current is None else diff_settings(current, settings), kept=kept, unreadable=unreadable)


# --- reading -----------------------------------------------------------------------------------------

@dataclass
class RigSettings:
    settings: Settings
    stored: bool              # False: the rig has no settings; `settings` are the defaults it would run with
    serial_number: str
    element: str
    generation: int
    image_serial: str = ""    # the serial the stored image was made for ("" = any)


def read_rig_settings(link) -> RigSettings:
    """The rig's active settings, decoded and validated for this rig's serial number; the defaults for
    its element when it has none (what `lambdarig run` would use)."""
    identity = link.identity()
    if not identity.has(CAP_SETTINGS):
        raise FrontEndError(f"the rig {identity.serial_number!r} has no settings flash")
    return _rig_settings(link, identity, link.settings_info())


def _current_settings(link, identity, info) -> tuple[Settings | None, str]:
    """(the settings the rig runs with now, "") before a flash; (None, why) when its stored image
    cannot be read (another schema, another rig's image): a flash is how such a rig is mended."""
    try:
        return _rig_settings(link, identity, info).settings, ""
    except SettingsError as exc:
        return None, str(exc)


def _rig_settings(link, identity, info) -> RigSettings:
    image = link.settings_read_active() if info.image_length else b""
    if not image:
        defaults = Settings({"sensor.element": identity.element} if identity.element in
                            FIELDS["sensor.element"].choices else {})
        return RigSettings(defaults, False, identity.serial_number, identity.element, info.generation)
    try:
        settings, made_for = decode_image_with_serial(image, identity.serial_number)
    except SettingsError as exc:
        raise SettingsError(exc.field, exc.problem, f"the rig {identity.serial_number!r}'s stored settings "
                                                    f"(generation {info.generation})") from None
    return RigSettings(settings, True, identity.serial_number, identity.element, info.generation, made_for)


@dataclass(frozen=True)
class Change:
    name: str
    rig: object
    file: object
    unit: str


@dataclass(frozen=True)
class Kept:
    name: str
    value: object        # the rig's, written again
    file_value: object   # what the file's defaults would have written
    by: str              # the command that stores it


def keep_calibration(rig: Settings, wanted: Settings, file_sets: Collection[str],
                     reset: bool) -> tuple[Settings, list[Kept]]:
    """`wanted` with the rig's calibration (RIG_CALIBRATION) where the file does not set it and it
    differs, unless `reset`; and what was kept."""
    kept = [Kept(name, rig.get(name), wanted.get(name), by) for name, by in RIG_CALIBRATION.items()
            if not reset and name not in file_sets and rig.get(name) != wanted.get(name)]
    if not kept:
        return wanted, []
    values = wanted.as_dict()
    values.update({k.name: k.value for k in kept})
    return Settings(values), kept


def diff_settings(rig: Settings, wanted: Settings) -> list[Change]:
    """The fields whose value differs, in schema order."""
    return [Change(f.name, rig.get(f.name), wanted.get(f.name), f.unit)
            for f in SCHEMA if f.in_image and rig.get(f.name) != wanted.get(f.name)]   # what a rig can hold


def value_text(value, other: object = None) -> str:
    """A value as a person reads it: a float to 6 significant digits (a measured calibration such as
    0.9858812242747164 shows as 0.985881), in full when that would hide its difference from `other`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        short = f"{value:.6g}"
        if float(short) == value:
            return repr(value)          # 780.0, 0.5: as written in a settings file
        if isinstance(other, float) and other != value and f"{other:.6g}" == short:
            return repr(value)
        return short
    return str(value)
