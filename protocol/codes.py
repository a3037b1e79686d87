"""The numbers of the bench-rig protocol: message types, error codes, capability and status bits,
and the limits every length on the wire is bounded by (docs/protocol.md sections 4, 5 and 9)."""

from __future__ import annotations

# --- message types ---------------------------------------------------------------------------------
# Requests from the host are 0x01..0x3F; the rig answers a request of type T with T | 0x80, or with
# ERROR. SETPOINT is not answered (the rig echoes its seq in every SAMPLE instead).
HELLO = 0x01
STREAM_START = 0x02
STREAM_STOP = 0x03
PING = 0x04
SETPOINT = 0x10
ANALOG_OUT = 0x11       # the two 0-5 V analog outputs (with CAP_ANALOG_OUT); answered with the volts driven
SETTINGS_INFO = 0x20
SETTINGS_READ = 0x21
SETTINGS_ERASE = 0x22
SETTINGS_WRITE = 0x23
SETTINGS_VERIFY = 0x24
SETTINGS_COMMIT = 0x25
RESET = 0x30
WATCHDOG = 0x31
TRIM_READ = 0x32        # the sensor's trim resistor, measured by the board (CAP_TRIM)
SAMPLE = 0x40           # streamed by the rig
ACK = 0x7F              # an answer that carries no data
ERROR = 0xFF


def reply_type(request_type: int) -> int:
    """The type of the typed reply to a request (IDENTITY is HELLO's: 0x81)."""
    return request_type | 0x80


# --- error codes carried by ERROR ------------------------------------------------------------------
E_UNKNOWN_TYPE = 1
E_BAD_LENGTH = 2
E_OUT_OF_RANGE = 3
E_NOT_ERASED = 4
E_IMAGE_INVALID = 5
E_CRC_MISMATCH = 6
E_BUSY = 7
E_FLASH_FAILED = 8      # the flash itself failed (a write or read error): nothing was committed
ERROR_NAMES = {E_UNKNOWN_TYPE: "E_UNKNOWN_TYPE", E_BAD_LENGTH: "E_BAD_LENGTH", E_OUT_OF_RANGE: "E_OUT_OF_RANGE",
               E_NOT_ERASED: "E_NOT_ERASED", E_IMAGE_INVALID: "E_IMAGE_INVALID",
               E_CRC_MISMATCH: "E_CRC_MISMATCH", E_BUSY: "E_BUSY", E_FLASH_FAILED: "E_FLASH_FAILED"}
ERROR_TEXT = {E_UNKNOWN_TYPE: "unknown message type", E_BAD_LENGTH: "bad payload length",
              E_OUT_OF_RANGE: "value out of range", E_NOT_ERASED: "flash not erased at that offset",
              E_IMAGE_INVALID: "settings image invalid", E_CRC_MISMATCH: "image CRC does not match",
              E_BUSY: "busy", E_FLASH_FAILED: "flash operation failed"}

# --- capability bits (IDENTITY) --------------------------------------------------------------------
CAP_RI = 1 << 0            # measures the Nernst cell's ESR
CAP_HEATER_SENSE = 1 << 1  # measures heater voltage and current
CAP_PUMP_V = 1 << 2        # measures the pump-driver voltage
CAP_WATCHDOG = 1 << 3
CAP_SETTINGS = 1 << 4      # two-slot settings flash
CAP_SENSE = 1 << 5         # a second cell voltage (mixed-potential measuring cell): sense_v in SAMPLE
CAP_TRIM = 1 << 6          # measures the sensor's trim resistor (connector pin IA/RT): TRIM_READ
CAP_PRESSURE = 1 << 7      # an exhaust-pressure input (reserved: not implemented yet)
CAP_ANALOG_OUT = 1 << 8    # two 0-5 V analog outputs (ANALOG_OUT)
CAPABILITY_NAMES = {CAP_RI: "ri", CAP_HEATER_SENSE: "heater_sense", CAP_PUMP_V: "pump_v",
                    CAP_WATCHDOG: "watchdog", CAP_SETTINGS: "settings", CAP_SENSE: "sense",
                    CAP_TRIM: "trim", CAP_PRESSURE: "pressure", CAP_ANALOG_OUT: "analog_out"}

# --- status bits (SAMPLE) --------------------------------------------------------------------------
STATUS_WATCHDOG_TRIPPED = 1 << 0   # outputs were made safe by the watchdog since the last SETPOINT
STATUS_OUTPUTS_SAFE = 1 << 1       # heater off and pump 0 right now

# --- SETPOINT flags --------------------------------------------------------------------------------
FLAG_EXCITATION = 1 << 0           # bits 1..7 are reserved and must be 0

# --- limits ----------------------------------------------------------------------------------------
MAX_READ = 256                     # bytes one SETTINGS_READ may ask for
MAX_WRITE = 256                    # data bytes one SETTINGS_WRITE may carry
MAX_ERROR_TEXT = 200               # bytes of text in an ERROR
SLOT_SIZE_UNIT = 256               # SETTINGS_INFO carries the slot size in units of 256 bytes, in a u16
MAX_SLOT_SIZE = 0xFFFF * SLOT_SIZE_UNIT
NO_ACTIVE_SLOT = 0xFF              # SETTINGS_INFO's active_slot when the rig has no settings
ANALOG_OUT_MAX_V = 5.0             # ANALOG_OUT volts are 0..this
