"""The CAN frames of protocol/can_frames.py against our own DBC files, decoded with cantools: every
field of the rusEFI and AEM layouts, the rounding and clamping, the ECU status frame."""

from __future__ import annotations

import math

import cantools
import pytest

from lambdarig.protocol import can_frames as cf


@pytest.fixture(scope="module")
def rusefi():
    return cantools.database.load_file(cf.dbc_path("rusefi_wideband"))


@pytest.fixture(scope="module")
def aem():
    return cantools.database.load_file(cf.dbc_path("aem_uego"))


def test_rusefi_standard_and_diag_decode_with_the_dbc(rusefi):
    frame = cf.rusefi_standard(0, 1.23456, True, 779.6)
    assert (frame.arbitration_id, frame.is_extended_id, len(frame.data)) == (0x190, False, 8)
    got = rusefi.decode_message(frame.arbitration_id, frame.data)
    assert got["Version"] == 0xA0 and got["Valid"] == 1 and got["TemperatureC"] == 780
    assert got["Lambda"] == pytest.approx(1.2346, abs=1e-9)
    diag = cf.rusefi_diag(0, 301.4, 0.4507, 0.5, cf.STATUS_RUNNING, 0.25)
    assert diag.arbitration_id == 0x191
    got = rusefi.decode_message(diag.arbitration_id, diag.data, decode_choices=False)
    assert got["Esr"] == 301 and got["NernstDc"] == pytest.approx(0.451) and got["Status"] == 2
    assert got["PumpDuty"] == pytest.approx(128 / 255) and got["HeaterDuty"] == pytest.approx(64 / 255)


def test_rusefi_index_moves_both_ids_by_two():
    assert cf.rusefi_ids(0) == (0x190, 0x191)
    assert cf.rusefi_ids(3) == (0x196, 0x197)


def test_values_are_clamped_and_nan_sends_zero():
    _, valid, lam, temp = cf.decode_rusefi_standard(cf.rusefi_standard(0, math.nan, False, -40.0).data)
    assert (valid, lam, temp) == (False, 0.0, 0)
    _, _, lam, _ = cf.decode_rusefi_standard(cf.rusefi_standard(0, math.inf, True, 780.0).data)
    assert lam == pytest.approx(6.5535)
    lam, o2, volts, _, _ = cf.decode_aem_uego(cf.aem_uego(0, 9.0, -99.0, 40.0, 0.0, lsu49=True, heater_locked=False,
                                                          free_air_cal=False, valid=False, fault=True).data)
    assert (lam, o2, volts) == (pytest.approx(6.5535), pytest.approx(-32.768), pytest.approx(25.5))


def test_ecu_status_round_trip(rusefi):
    frame = cf.ecu_status(13.8, True)
    assert frame.is_extended_id and frame.arbitration_id == 0x0EF50000
    assert rusefi.decode_message(frame.arbitration_id, frame.data) == {"BatteryVoltage": 13.8, "HeaterEnable": 1}
    assert cf.decode_ecu_status(frame.arbitration_id, True, frame.data) == cf.EcuStatus(pytest.approx(13.8), True)
    assert cf.decode_ecu_status(frame.arbitration_id, True, bytes([0, 0])) == cf.EcuStatus(None, False)
    # Not the ECU's: a standard id, another id, another length.
    assert cf.decode_ecu_status(frame.arbitration_id, False, frame.data) is None
    assert cf.decode_ecu_status(0x190, True, frame.data) is None
    assert cf.decode_ecu_status(frame.arbitration_id, True, frame.data + b"\0") is None


def test_aem_uego_big_endian_and_flags(aem):
    frame = cf.aem_uego(2, 0.8765, -3.21, 13.5, 9.2, lsu49=True, heater_locked=True, free_air_cal=True, valid=True,
                        fault=False)
    assert (frame.arbitration_id, frame.is_extended_id) == (0x182, True)
    assert frame.data[:2] == (8765).to_bytes(2, "big")
    got = aem.decode_message(0x180, frame.data, force_extended_id=True)
    assert got["Lambda"] == pytest.approx(0.8765) and got["Oxygen"] == pytest.approx(-3.21)
    assert got["SystemVolts"] == pytest.approx(13.5) and got["HeaterVolts"] == pytest.approx(9.2)
    assert (got["Lsu49Detected"], got["HeaterPidLocked"], got["UsingFreeAirCal"], got["LambdaValid"],
            got["SensorFault"]) == (1, 1, 1, 1, 0)
