"""CAN frames a wideband controller sends and receives, as their published definitions lay them out:
pure encode and decode, no bus. Both ends agree on these (our firmware's CAN output, an ECU, the
tests that decode our frames with the DBC files in `protocol/dbc/`), so they live in the protocol leaf.

rusEFI wideband format (rusEFI's wideband firmware, github mck1117/wideband: for_rusefi/wideband_can.h,
firmware/can.cpp; rusEFI's wideband-can.dbc). 11-bit ids, little-endian (the STM32's own byte order),
every 10 ms:

    0x190 + 2*index  StandardData, 8 bytes: Version u8 (0xA0), Valid u8 (1 = closed loop),
                     Lambda u16 (x 0.0001), TemperatureC u16 (°C), pad u16
    0x191 + 2*index  DiagData, 8 bytes: Esr u16 (Ω), NernstDc u16 (x 0.001 V), PumpDuty u8 (x 1/255),
                     Status u8 (wbo::Status), HeaterDuty u8 (x 1/255), pad u8

and from the ECU, extended id 0x0EF50000 (WB_MGS_ECU_STATUS), 2 bytes: battery voltage u8 (x 0.1 V),
byte 1 bit 0 heater enable.

AEM X-Series UEGO format (AEM manual 30-0300, "CAN bus" section; as rusEFI's AemXSeriesLambda decodes
it): extended id 0x180 + index, 8 bytes, big-endian, every 10 ms: lambda u16 (x 0.0001), O2 s16
(x 0.001 %), system volts u8 (x 0.1 V), heater volts u8 (x 0.1 V), byte 6 flags (bit 1 Bosch LSU 4.9
detected, bit 4 heater PID locked, bit 5 using free-air cal, bit 6 free-air cal required, bit 7 lambda
data valid), byte 7 flags (bit 6 sensor fault, bit 7 fatal error).

Written from those definitions; the code here is ours. Values are rounded to the nearest step (the
rusEFI firmware truncates) and clamped to the field, a NaN sends 0.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

# --- rusEFI ----------------------------------------------------------------------------------------
RUSEFI_BASE_ID = 0x190              # WB_DATA_BASE_ADDR: StandardData at base + 2*index, DiagData + 1
RUSEFI_VERSION = 0xA0               # RUSEFI_WIDEBAND_VERSION: an ECU checks it before trusting the frame
RUSEFI_ECU_STATUS_ID = 0x0EF50000   # WB_MGS_ECU_STATUS, extended
RUSEFI_LAMBDA_LSB = 0.0001
RUSEFI_NERNST_LSB_V = 0.001
RUSEFI_PERIOD_S = 0.010             # WBO_TX_PERIOD_MS
RUSEFI_MAX_INDEX = 0x37             # 0x190 + 2*index + 1 stays at or below 0x1FF

# wbo::Status
STATUS_PREHEAT = 0
STATUS_WARMUP = 1
STATUS_RUNNING = 2
STATUS_DID_NOT_HEAT = 3
STATUS_OVERHEAT = 4
STATUS_UNDERHEAT = 5

_STANDARD = struct.Struct("<BBHHH")
_DIAG = struct.Struct("<HHBBBB")
_ECU_STATUS = struct.Struct("<BB")

# --- AEM -------------------------------------------------------------------------------------------
AEM_BASE_ID = 0x180                 # extended; sensor n at 0x180 + n
AEM_LAMBDA_LSB = 0.0001
AEM_O2_LSB_PCT = 0.001
AEM_VOLTS_LSB_V = 0.1
AEM_MAX_INDEX = 15
AEM_LSU49_DETECTED = 1 << 1         # byte 6
AEM_HEATER_PID_LOCKED = 1 << 4
AEM_FREE_AIR_CAL = 1 << 5
AEM_FREE_AIR_CAL_REQUIRED = 1 << 6
AEM_LAMBDA_VALID = 1 << 7
AEM_SENSOR_FAULT = 1 << 6           # byte 7
AEM_FATAL_ERROR = 1 << 7
_AEM = struct.Struct(">HhBBBB")

FORMATS = ("rusefi", "aem", "both")


@dataclass(frozen=True, slots=True)
class CanFrame:
    """One frame to send: id, whether the id is extended (29-bit), data bytes."""

    arbitration_id: int
    is_extended_id: bool
    data: bytes


def _step(value: float, lsb: float, lo: int, hi: int) -> int:
    """value / lsb rounded to the nearest step and clamped to [lo, hi]; NaN gives 0."""
    if value != value:
        return 0
    if math.isinf(value):
        return hi if value > 0 else lo
    n = round(value / lsb)
    return lo if n < lo else hi if n > hi else n


def rusefi_ids(index: int) -> tuple[int, int]:
    """The StandardData and DiagData ids of sensor `index`."""
    base = RUSEFI_BASE_ID + 2 * index
    return base, base + 1


def rusefi_standard(index: int, lambda_value: float, valid: bool, temp_c: float) -> CanFrame:
    data = _STANDARD.pack(RUSEFI_VERSION, 1 if valid else 0, _step(lambda_value, RUSEFI_LAMBDA_LSB, 0, 0xFFFF),
                          _step(temp_c, 1.0, 0, 0xFFFF), 0)
    return CanFrame(rusefi_ids(index)[0], False, data)


def rusefi_diag(index: int, esr_ohm: float, nernst_v: float, pump_duty: float, status: int,
                heater_duty: float) -> CanFrame:
    data = _DIAG.pack(_step(esr_ohm, 1.0, 0, 0xFFFF), _step(nernst_v, RUSEFI_NERNST_LSB_V, 0, 0xFFFF),
                      _step(pump_duty, 1 / 255, 0, 255), status & 0xFF, _step(heater_duty, 1 / 255, 0, 255), 0)
    return CanFrame(rusefi_ids(index)[1], False, data)


def decode_rusefi_standard(data: bytes) -> tuple[int, bool, float, int]:
    """(version, valid, lambda, temperature °C) of a StandardData frame."""
    version, valid, lam, temp, _ = _STANDARD.unpack(bytes(data[:8]).ljust(8, b"\0"))
    return version, valid == 1, lam * RUSEFI_LAMBDA_LSB, temp


@dataclass(frozen=True, slots=True)
class EcuStatus:
    """rusEFI's ECU status frame: battery volts (None when the ECU's number is bogus, below 5 V, as
    the wideband firmware treats it) and the heater enable bit."""

    battery_v: float | None
    heater_enable: bool


def ecu_status(battery_v: float, heater_enable: bool) -> CanFrame:
    """The frame an ECU sends (for ECU-side scripts and tests)."""
    return CanFrame(RUSEFI_ECU_STATUS_ID, True,
                    _ECU_STATUS.pack(_step(battery_v, 0.1, 0, 255), 1 if heater_enable else 0))


def decode_ecu_status(arbitration_id: int, is_extended_id: bool, data: bytes) -> EcuStatus | None:
    """The ECU status in a received frame, or None when the frame is not one (as the wideband
    firmware: extended id 0x0EF50000 with exactly 2 data bytes)."""
    if not is_extended_id or arbitration_id != RUSEFI_ECU_STATUS_ID or len(data) != 2:
        return None
    volts = data[0] * 0.1
    return EcuStatus(volts if volts >= 5.0 else None, bool(data[1] & 0x01))


def aem_uego(index: int, lambda_value: float, o2_pct: float, system_v: float, heater_v: float, *,
             lsu49: bool, heater_locked: bool, free_air_cal: bool, valid: bool, fault: bool) -> CanFrame:
    flags6 = ((AEM_LSU49_DETECTED if lsu49 else 0) | (AEM_HEATER_PID_LOCKED if heater_locked else 0)
              | (AEM_FREE_AIR_CAL if free_air_cal else 0) | (AEM_LAMBDA_VALID if valid else 0))
    flags7 = AEM_SENSOR_FAULT if fault else 0
    data = _AEM.pack(_step(lambda_value, AEM_LAMBDA_LSB, 0, 0xFFFF), _step(o2_pct, AEM_O2_LSB_PCT, -0x8000, 0x7FFF),
                     _step(system_v, AEM_VOLTS_LSB_V, 0, 255), _step(heater_v, AEM_VOLTS_LSB_V, 0, 255), flags6, flags7)
    return CanFrame(AEM_BASE_ID + index, True, data)


def decode_aem_uego(data: bytes) -> tuple[float, float, float, bool, bool]:
    """(lambda, O2 %, system volts, lambda valid, sensor fault) of an AEM UEGO frame."""
    lam, o2, sys_v, _heater_v, flags6, flags7 = _AEM.unpack(bytes(data[:8]))
    return (lam * AEM_LAMBDA_LSB, o2 * AEM_O2_LSB_PCT, sys_v * AEM_VOLTS_LSB_V, bool(flags6 & AEM_LAMBDA_VALID),
            bool(flags7 & AEM_SENSOR_FAULT))


def dbc_path(name: str) -> Path:
    """A shipped DBC file: "rusefi_wideband" or "aem_uego"."""
    resource = resources.files("lambdarig.protocol").joinpath("dbc", f"{name}.dbc")
    return Path(str(resource))
