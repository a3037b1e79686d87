"""Suite-wide test settings: the report header says how busy the machine was, because the
real-time tests (tests/realtime.py) must hold on a loaded machine as well as on an idle one."""

from __future__ import annotations

import os

from realtime import SLACK_S


def pytest_report_header(config) -> list[str]:
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    return [f"lambdarig real-time tests: {os.cpu_count()} core(s), load average {load}, "
            f"scheduling slack {SLACK_S:g} s (LAMBDARIG_TEST_SLACK_S)"]
