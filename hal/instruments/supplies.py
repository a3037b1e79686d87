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

from lambdarig.protocol.instrument_models import KEYSIGHT_E3631A, KEYSIGHT_E36312A, RIGOL_DP832, SupplyModel

from ..types import FrontEndError
from .base import ON_OFF, Instrument, Param, Range, Validator

ON_OFF_TEXT = {True: "ON", False: "OFF"}.__getitem__


def _channel_limits(model: SupplyModel) -> dict[int, tuple[float, float]]:
    """Heater channel -> (max voltage, max current), from the catalogue."""
    return {n: (model.channel(n).max_voltage_v, model.channel(n).max_current_a) for n in model.heater_channels}


class Supply(Instrument):
    """A single channel of a programmable supply."""

    KIND = "supply"
    RESETS = False
    # channel -> (max voltage, max current)
    CHANNEL_LIMITS: dict[int, tuple[float, float]] = {}
    REFUSED_CHANNELS: dict[int, str] = {}
    MEAS_VOLT = ""
    MEAS_CURR = ""
    MEAS_BOTH = ""   # one query -> "V,I[,P]" or "V;I"

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
        self.set("output", True, check=True)

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
        errors = self._ramp_to_zero("voltage_v")
        try:
            self.write(self.PARAMS["output"].command(False, self.channel), force=True)
            self.settings["output"] = False
        except Exception as exc:
            errors.append(exc)
        self._finish_shutdown(errors)


class RigolDP832(Supply):
    MODEL = RIGOL_DP832.key
    DESCRIPTION = RIGOL_DP832.description
    CHANNELS = RIGOL_DP832.heater_channels
    CHANNEL_LIMITS = _channel_limits(RIGOL_DP832)
    REFUSED_CHANNELS = RIGOL_DP832.refused_channels
    PARAMS = {
        "voltage_v": Param(":SOUR{ch}:VOLT {:.3f}", None, "output voltage set-point"),
        "current_limit_a": Param(":SOUR{ch}:CURR {:.3f}", None, "current limit"),
        "output": Param(":OUTP CH{ch},{}", ON_OFF, "channel output", send=ON_OFF_TEXT),
    }
    MEAS_VOLT = ":MEAS:VOLT? CH{ch}"
    MEAS_CURR = ":MEAS:CURR? CH{ch}"
    MEAS_BOTH = ":MEAS:ALL? CH{ch}"      # V,I,P

    def mode(self) -> str:
        """CV, CC or UR (unregulated), from the instrument."""
        return self.query(f":OUTP:MODE? CH{self.channel}").strip().upper()


class KeysightE36312A(Supply):
    MODEL = KEYSIGHT_E36312A.key
    DESCRIPTION = KEYSIGHT_E36312A.description
    CHANNELS = KEYSIGHT_E36312A.heater_channels
    CHANNEL_LIMITS = _channel_limits(KEYSIGHT_E36312A)
    REFUSED_CHANNELS = KEYSIGHT_E36312A.refused_channels
    PARAMS = {
        "voltage_v": Param("VOLT {:.3f}, (@{ch})", None, "output voltage set-point"),
        "current_limit_a": Param("CURR {:.3f}, (@{ch})", None, "current limit"),
        "output": Param("OUTP {}, (@{ch})", ON_OFF, "channel output", send=ON_OFF_TEXT),
    }
    MEAS_VOLT = "MEAS:VOLT? (@{ch})"
    MEAS_CURR = "MEAS:CURR? (@{ch})"
    MEAS_BOTH = "MEAS:VOLT? (@{ch});:MEAS:CURR? (@{ch})"


class KeysightE3631A(Supply):
    MODEL = KEYSIGHT_E3631A.key
    DESCRIPTION = KEYSIGHT_E3631A.description
    CHANNELS = KEYSIGHT_E3631A.heater_channels
    CHANNEL_LIMITS = _channel_limits(KEYSIGHT_E3631A)
    REFUSED_CHANNELS = KEYSIGHT_E3631A.refused_channels
    PARAMS = {
        "voltage_v": Param("INST:NSEL {ch};:VOLT {:.3f}", None, "output voltage set-point"),
        "current_limit_a": Param("INST:NSEL {ch};:CURR {:.3f}", None, "current limit"),
        "output": Param("OUTP {}", ON_OFF, "output (all outputs of the E3631A)", send=ON_OFF_TEXT),
    }
    MEAS_VOLT = "INST:NSEL {ch};:MEAS:VOLT?"
    MEAS_CURR = "INST:NSEL {ch};:MEAS:CURR?"
    MEAS_BOTH = "INST:NSEL {ch};:MEAS:VOLT?;:MEAS:CURR?"
