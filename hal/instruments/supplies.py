"""Programmable supplies for the heater: one channel, set voltage, current limit, output, measure V/I.

Supplies are not sent *RST: the other channels of a multi-channel supply may power something else.
Setup clears the status (*CLS), sets the channel's current limit, sets 0 V and switches the channel on.

Rigol DP832 (CH1/CH2 0-30 V 0-3 A, CH3 0-5 V 0-3 A):
    voltage :SOUR<n>:VOLT <v>    current limit :SOUR<n>:CURR <a>    output :OUTP CH<n>,ON|OFF
    measure :MEAS:ALL? CH<n> (V,I,P in one query; also :MEAS:VOLT? CH<n>, :MEAS:CURR? CH<n>)
    mode    :OUTP:MODE? CH<n> (CV/CC/UR)
Keysight E36312A (CH1 0-6 V 0-5 A, CH2/CH3 0-25 V 0-1 A):
    voltage VOLT <v>, (@<n>)     current limit CURR <a>, (@<n>)    output OUTP ON|OFF, (@<n>)
    measure MEAS:VOLT? (@<n>);:MEAS:CURR? (@<n>) (one message, two replies "V;I")
Keysight E3631A (1 = P6V 0-6 V 0-5 A, 2 = P25V 0-25 V 0-1 A; 3 = N25V is a negative output, refused):
    voltage INST:NSEL <n>;:VOLT <v>   current limit INST:NSEL <n>;:CURR <a>   output OUTP ON|OFF (ALL outputs)
    measure INST:NSEL <n>;:MEAS:VOLT?;:MEAS:CURR? (one message, "V;I")

Mode (CV/CC): `mode()` asks the DP832; every model also infers it from a measurement
(`infer_mode`): current at the limit and voltage below the set-point -> CC.
"""

from __future__ import annotations

from lambdarig.protocol.instrument_models import (
    KEYSIGHT_E3631A,
    KEYSIGHT_E36312A,
    RIGOL_DP832,
    CatalogueEntry,
    SupplyModel,
)

from ..types import FrontEndError
from .base import ON_OFF, Instrument, Param, Range, Validator

ON_OFF_TEXT = {True: "ON", False: "OFF"}.__getitem__
OVP_MARGIN = 0.05            # OVP this far above heater.voltage_limit_v ...
OVP_MARGIN_V = 0.5           # ... and at least this far
OCP_MARGIN = 0.1             # OCP this far above heater.current_limit_a (the CC limit) ...
OCP_MARGIN_A = 0.05          # ... plus this
PROTECTION_HEADROOM = 1.1    # the instruments take protection levels up to 10 % above the rating


def _channel_limits(model: SupplyModel) -> dict[int, tuple[float, float]]:
    """Heater channel -> (max voltage, max current), from the catalogue."""
    return {n: (model.channel(n).max_voltage_v, model.channel(n).max_current_a) for n in model.heater_channels}


class Supply(Instrument):
    """A single channel of a programmable supply; a model's heater channels, their limits and the
    refused channels come from its catalogue entry (`class RigolDP832(Supply, catalogue=RIGOL_DP832)`)."""

    KIND = "supply"
    RESETS = False
    # channel -> (max voltage, max current)
    CHANNEL_LIMITS: dict[int, tuple[float, float]] = {}
    REFUSED_CHANNELS: dict[int, str] = {}
    MEAS_VOLT = ""
    MEAS_CURR = ""
    MEAS_BOTH = ""   # one query -> "V,I[,P]" or "V;I"

    @classmethod
    def _take_from_catalogue(cls, catalogue: CatalogueEntry) -> None:
        if not isinstance(catalogue, SupplyModel):
            raise TypeError(f"{cls.__name__}: a supply's catalogue entry is a SupplyModel, "
                            f"not {type(catalogue).__name__}")
        cls.CHANNELS = catalogue.heater_channels
        cls.CHANNEL_LIMITS = _channel_limits(catalogue)
        cls.REFUSED_CHANNELS = catalogue.refused_channels

    def param_validator(self, name: str) -> Validator:
        if self.channel is None:  # Instrument.__init__ refuses a supply without one of CHANNELS
            raise ValueError(f"{self.role} ({self.MODEL}): no channel; one of {', '.join(map(str, self.CHANNELS))}")
        vmax, imax = self.CHANNEL_LIMITS[self.channel]
        if name == "voltage_v":
            return Range(0.0, vmax, "V")
        if name == "current_limit_a":
            return Range(0.0, imax, "A")
        return super().param_validator(name)

    def setup(self, *, current_limit_a: float, voltage_v: float = 0.0) -> None:
        self.validate("current_limit_a", current_limit_a)
        self.validate("voltage_v", voltage_v)
        self.reset()
        self.set("current_limit_a", current_limit_a, check=True)
        self.set("voltage_v", voltage_v, check=True)
        self.arm_protection()
        self.set("output", True, check=True)

    # Protection the instrument enforces by itself, armed at setup from the station's limits: it
    # still holds when the host is gone (kill -9), which the host's own checks do not. Templates:
    # level (str.format with the level and ch) and switch-on ("" when the instrument has it always
    # on, or none at all when the template is "").
    OVP_LEVEL = ""
    OVP_ON = ""
    OCP_LEVEL = ""
    OCP_ON = ""

    def protection_levels(self) -> tuple[float | None, float | None]:
        """(OVP volts, OCP amps) from the station limits, a margin above them so normal operation
        (the set-point at the limit, CC at the current limit) never trips; None without a limit."""
        vmax, imax = self.CHANNEL_LIMITS[self.channel] if self.channel in self.CHANNEL_LIMITS else (None, None)
        ovp = ocp = None
        if "voltage_v" in self.limits and vmax is not None:
            limit = self.limits["voltage_v"][1]
            ovp = min(limit + max(OVP_MARGIN_V, OVP_MARGIN * limit), vmax * PROTECTION_HEADROOM)
        if "current_limit_a" in self.limits and imax is not None:
            limit = self.limits["current_limit_a"][1]
            ocp = min(limit * (1.0 + OCP_MARGIN) + OCP_MARGIN_A, imax * PROTECTION_HEADROOM)
        return ovp, ocp

    def arm_protection(self) -> None:
        """Set and switch on over-voltage and over-current protection where the model has it."""
        ovp, ocp = self.protection_levels()
        for level, level_cmd, on_cmd, key in ((ovp, self.OVP_LEVEL, self.OVP_ON, "ovp_v"),
                                              (ocp, self.OCP_LEVEL, self.OCP_ON, "ocp_a")):
            if level is None or not level_cmd:
                continue
            self.command(level_cmd.format(level, ch=self.channel), check=True, **{key: round(level, 3)})
            if on_cmd:
                self.command(on_cmd.format(ch=self.channel), check=True)

    def set_voltage(self, volts: float) -> float:
        return self.set("voltage_v", volts)

    @property
    def voltage_set_v(self) -> float:
        return self.settings.get("voltage_v", 0.0)

    def output(self, on: bool) -> None:
        self.set("output", on)

    def measure_voltage(self) -> float:
        return self.query_float(self.MEAS_VOLT.format(ch=self.channel))

    def measure_current(self) -> float:
        return self.query_float(self.MEAS_CURR.format(ch=self.channel))

    def measure(self) -> tuple[float, float]:
        """Output voltage and current in one query (MEAS_BOTH)."""
        command = self.MEAS_BOTH.format(ch=self.channel)
        reply = self.query(command)
        try:
            values = [float(part) for part in reply.replace(";", ",").split(",")]
        except ValueError:
            values = []
        if len(values) < 2:
            raise FrontEndError(f"{self.who()}: reply {reply!r} to {command!r} is not a voltage and a current")
        return values[0], values[1]

    def infer_mode(self, volts: float, amps: float) -> str:
        """CC when the current is at the limit and the voltage below the set-point, else CV."""
        limit = self.settings.get("current_limit_a")
        if limit and amps >= 0.98 * limit and volts < self.voltage_set_v - 0.02:
            return "CC"
        return "CV"

    def safe_shutdown(self) -> None:
        """Ramp the voltage to 0 in a few steps, then the output off (best effort, every step tried)."""
        self._ramp_down_and_switch_off("voltage_v")


class RigolDP832(Supply, catalogue=RIGOL_DP832):
    PARAMS = {
        "voltage_v": Param(":SOUR{ch}:VOLT {:.3f}", None, "output voltage set-point"),
        "current_limit_a": Param(":SOUR{ch}:CURR {:.3f}", None, "current limit"),
        "output": Param(":OUTP CH{ch},{}", ON_OFF, "channel output", send=ON_OFF_TEXT),
    }
    MEAS_VOLT = ":MEAS:VOLT? CH{ch}"
    MEAS_CURR = ":MEAS:CURR? CH{ch}"
    MEAS_BOTH = ":MEAS:ALL? CH{ch}"      # V,I,P
    OVP_LEVEL = ":OUTP:OVP:VAL CH{ch},{:.3f}"
    OVP_ON = ":OUTP:OVP CH{ch},ON"
    OCP_LEVEL = ":OUTP:OCP:VAL CH{ch},{:.3f}"
    OCP_ON = ":OUTP:OCP CH{ch},ON"

    def mode(self) -> str:
        """CV, CC or UR (unregulated), from the instrument."""
        return self.query(f":OUTP:MODE? CH{self.channel}").strip().upper()


class KeysightE36312A(Supply, catalogue=KEYSIGHT_E36312A):
    PARAMS = {
        "voltage_v": Param("VOLT {:.3f}, (@{ch})", None, "output voltage set-point"),
        "current_limit_a": Param("CURR {:.3f}, (@{ch})", None, "current limit"),
        "output": Param("OUTP {}, (@{ch})", ON_OFF, "channel output", send=ON_OFF_TEXT),
    }
    MEAS_VOLT = "MEAS:VOLT? (@{ch})"
    MEAS_CURR = "MEAS:CURR? (@{ch})"
    MEAS_BOTH = "MEAS:VOLT? (@{ch});:MEAS:CURR? (@{ch})"
    # OVP is always on in the E36312A; its OCP trips as soon as the channel goes CC (a cold heater
    # does, by design), so it is left off: the current limit itself bounds the current.
    OVP_LEVEL = "VOLT:PROT {:.3f}, (@{ch})"


class KeysightE3631A(Supply, catalogue=KEYSIGHT_E3631A):
    PARAMS = {
        "voltage_v": Param("INST:NSEL {ch};:VOLT {:.3f}", None, "output voltage set-point"),
        "current_limit_a": Param("INST:NSEL {ch};:CURR {:.3f}", None, "current limit"),
        "output": Param("OUTP {}", ON_OFF, "output (all outputs of the E3631A)", send=ON_OFF_TEXT),
    }
    MEAS_VOLT = "INST:NSEL {ch};:MEAS:VOLT?"
    MEAS_CURR = "INST:NSEL {ch};:MEAS:CURR?"
    MEAS_BOTH = "INST:NSEL {ch};:MEAS:VOLT?;:MEAS:CURR?"
