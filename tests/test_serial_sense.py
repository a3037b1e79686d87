"""A mixed-potential element on the bench rig: its measuring-cell voltage rides in every SAMPLE as
the optional trailing field (CAP_SENSE), over the real pty; wideband rigs send the 35-byte SAMPLE."""

from __future__ import annotations

import math

import pytest
from realtime import RigProcess, wait_for

from lambdarig.emulator.serial_rig import RigServer
from lambdarig.hal.rig_link import RigLink
from lambdarig.protocol.codes import CAP_SENSE

pytestmark = pytest.mark.usefixtures("no_gc_pauses")  # on the wall clock: see tests/conftest.py


def _stream(element: str, tmp_path):
    with RigServer(element=element, scenario="hc-steps", flash_path=tmp_path / "flash.bin") as rig:
        link = RigLink(rig.path)
        try:
            identity = link.identity()
            link.start_stream(200)
            assert wait_for(lambda: link.poll(0.005) >= 0 and link.samples_received > 10)
            samples = link.pop_samples()
            link.stop_stream()
        finally:
            link.close()
    return identity, samples


def test_hc_rig_streams_the_measuring_cell(tmp_path):
    identity, samples = _stream("hc-mixed", tmp_path)
    assert identity.capabilities & CAP_SENSE
    assert len(samples) > 10
    assert all(math.isfinite(s.sample.sense_v) for s in samples)


def test_wideband_rig_sends_no_sense_field(tmp_path):
    identity, samples = _stream("lsu49", tmp_path)
    assert not identity.capabilities & CAP_SENSE
    assert len(samples) > 10
    assert all(math.isnan(s.sample.sense_v) for s in samples)


HC_500_PPM = """name = "hc 500 ppm"
description = "lean exhaust with 500 ppm HC"
duration_s = 30
lambda = 1.5
hc_ppm = 500
gas_temp_c = 400
flow_mps = 10
"""


@pytest.mark.slow
def test_hc_element_runs_on_the_rig_through_the_serial_front_end(tmp_path):
    """The firmware's hc mode over the real serial link: warm-up and closed loop in real time on the
    emulated hc-mixed rig in 500 ppm HC at lambda 1.5, with HC readings once valid. The rig runs in
    its own process (tests/realtime.py), and the link tolerates a loaded machine's stalls."""
    from hc_calibration import hc_values

    from lambdarig.controller.core import Controller
    from lambdarig.controller.profiles import settings_for_element
    from lambdarig.controller.runtime import Runtime
    from lambdarig.hal.registry import open_frontend

    scenario = tmp_path / "hc-500.toml"
    scenario.write_text(HC_500_PPM)
    with RigProcess(tmp_path / "flash.bin", element="hc-mixed", scenario=str(scenario)) as rig:
        fe = open_frontend(f"serial://{rig.path}?link_timeout_s=1.0&watchdog_ms=1000")
        statuses = []
        try:
            ctl = Controller(settings_for_element("hc-mixed", hc_values()))   # the HC curve has no default
            result = Runtime(fe, ctl, [lambda st, _t: statuses.append(st)]).run(16.0)
        finally:
            fe.close()
    assert not result.link_lost, result.summary()
    assert result.faults == [], result.faults
    valid = [st.hc_ppm for st in statuses if st.lambda_valid and st.t_s > 15.0]
    # ±15 %: the curve is calibrated on another unit (tests/hc_calibration.py; docs/hc-sensor.md).
    assert valid and all(425.0 < ppm < 575.0 for ppm in valid), valid[-5:]
