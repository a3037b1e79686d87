"""One instrument, one role: the checks the VISA front end makes while it opens a station.

    check_distinct_resources(station)  before anything is opened: two roles whose resource names
                                       reach the same instrument (hal/resource_names.py)
    check_distinct_instruments(drivers) after *IDN?: two roles answering with the same maker,
                                       model and serial number (one instrument under two addresses)

Both raise IdentityError naming the roles and resources. No catalogue model serves two roles at
once (the SMUs have one channel, only the heater role takes a supply), so a shared instrument is
always a mistake in the station file.
"""

from __future__ import annotations

from collections.abc import Mapping

from lambdarig.protocol.instrument_identity import idn_fields
from lambdarig.protocol.station import Station

from .instruments import Instrument
from .instruments.identity import IdentityError
from .resource_names import duplicate_roles

NO_SERIALS = ("", "0")   # what instruments without a serial number answer in that field


def check_distinct_resources(station: Station) -> None:
    resources = {role: cfg.resource for role, cfg in station.roles().items()}
    for role, other_role, resource, other_resource in duplicate_roles(resources):
        same = "is the same instrument as" if resource != other_resource else "is also"
        raise IdentityError(f"{station.source}: {role}.resource {resource!r} {same} {other_role}.resource "
                            f"{other_resource!r}; each role needs its own instrument")


def check_distinct_instruments(drivers: Mapping[str, Instrument]) -> None:
    seen: dict[tuple[str, str, str], str] = {}
    for role, driver in drivers.items():
        fields = idn_fields(driver.idn)
        if fields.serial in NO_SERIALS:
            continue
        key = (fields.maker, fields.model, fields.serial.upper())
        if key in seen:
            other = drivers[seen[key]]
            raise IdentityError(f"{role} at {driver.resource_name} and {seen[key]} at {other.resource_name} are one "
                                f"instrument (*IDN? {driver.idn!r} on both); each role needs its own instrument")
        seen[key] = role
