"""How each catalogue model answers *IDN?: the maker (first field) and the model (second field), so
the VISA front end can check whom it talks to before it sends anything that changes state.

    idn_fields("KEITHLEY INSTRUMENTS INC.,MODEL 2400,1234567,C30") -> IdnFields(maker, model, serial, firmware)
    identity_matches("keithley2400", idn) -> bool
    model_of_idn(idn) -> "keithley2400" or None (which catalogue model an *IDN? reply is)

Makers are compared by prefix and models exactly, both case-insensitively ("MODEL 2400" and "2400"
alike), and the makers include the names a model was sold under (HP, Agilent, Keysight).
"""

from __future__ import annotations

from dataclasses import dataclass

from .instrument_models import MODELS


@dataclass(frozen=True)
class ModelIdentity:
    makers: tuple[str, ...]   # the first *IDN? field starts with one of these (upper case)
    models: tuple[str, ...]   # the second field is one of these (upper case, "MODEL " dropped)


@dataclass(frozen=True)
class IdnFields:
    maker: str
    model: str
    serial: str
    firmware: str

    @property
    def is_idn(self) -> bool:
        """Shaped like an *IDN? reply: maker and model given."""
        return bool(self.maker and self.model)


KEYSIGHT_MAKERS = ("KEYSIGHT", "AGILENT", "HEWLETT-PACKARD", "HP")
IDENTITIES: dict[str, ModelIdentity] = {
    "keithley2400": ModelIdentity(("KEITHLEY",), ("2400",)),
    "keithley2450": ModelIdentity(("KEITHLEY", "TEKTRONIX"), ("2450",)),
    "rigol_dp832": ModelIdentity(("RIGOL",), ("DP832", "DP832A")),
    "keysight_e36312a": ModelIdentity(KEYSIGHT_MAKERS, ("E36312A",)),
    "keysight_e3631a": ModelIdentity(KEYSIGHT_MAKERS, ("E3631A",)),
    "keysight_34465a": ModelIdentity(KEYSIGHT_MAKERS, ("34465A",)),
}
assert set(IDENTITIES) == set(MODELS), "every catalogue model needs its *IDN? identity"


def idn_fields(idn: str) -> IdnFields:
    parts = [part.strip() for part in idn.split(",")]
    parts += [""] * (4 - len(parts))
    model = parts[1].upper()
    if model.startswith("MODEL "):
        model = model[len("MODEL "):].strip()
    return IdnFields(parts[0].upper(), model, parts[2], parts[3])


def identity_matches(model_key: str, idn: str) -> bool:
    identity = IDENTITIES[model_key]
    fields = idn_fields(idn)
    return fields.model in identity.models and fields.maker.startswith(identity.makers)


def model_of_idn(idn: str) -> str | None:
    for key in IDENTITIES:
        if identity_matches(key, idn):
            return key
    return None


__all__ = ["ModelIdentity", "IdnFields", "IDENTITIES", "idn_fields", "identity_matches", "model_of_idn"]
