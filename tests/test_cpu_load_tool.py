"""The load tool the suite is shown to hold under (tests/tools/cpu_load.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parent / "tools" / "cpu_load.py"


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=60)


def test_runs_the_command_under_load_and_passes_its_exit_code_on():
    done = run_tool("--workers", "1", "--", sys.executable, "-c", "import sys; sys.exit(3)")
    assert done.returncode == 3, done.stderr
    assert "1 spinning process(es)" in done.stderr and "exit code 3" in done.stderr


def test_bad_worker_count_is_refused_naming_the_option():
    done = run_tool("--workers", "0", "--", sys.executable, "-c", "pass")
    assert done.returncode == 2 and "--workers 0: must be at least 1" in done.stderr
