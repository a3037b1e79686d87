"""`udevadm verify` on the rule files, where the udevadm at hand has it (systemd >= 254).

Which udevadm: $LAMBDARIG_UDEVADM (e.g. a wrapper around a bookworm-backports udevadm extracted
without installing it; see docs/ports-and-udev.md), else the one on PATH. Skipped, with the reason
and the installed version, when there is none or it is older than 254 (Debian 12 ships 252:
"Unknown command verb verify"). The parser test (test_udev_rules.py) runs everywhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

UDEV = Path(__file__).resolve().parents[1] / "udev"
RULE_FILES = sorted(str(p) for p in UDEV.glob("*.rules"))


def udevadm() -> str:
    chosen = os.environ.get("LAMBDARIG_UDEVADM") or shutil.which("udevadm")
    if not chosen:
        pytest.skip("udevadm is not installed (no systemd/udev here; set LAMBDARIG_UDEVADM to a udevadm >= 254)")
    return chosen


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([udevadm(), *argv], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def verify_available() -> None:
    version = run("--version").stdout.strip() or "unknown"
    probe = run("verify", "--help")
    if probe.returncode != 0:
        reason = (probe.stderr or probe.stdout).strip().splitlines()
        pytest.skip(f"udevadm {version} has no 'verify' (needs systemd >= 254): {reason[0] if reason else ''}")


def test_rule_files_pass_udevadm_verify(verify_available):
    assert len(RULE_FILES) == 2
    done = run("verify", "--resolve-names=never", *RULE_FILES)
    assert done.returncode == 0, done.stdout + done.stderr


def test_udevadm_verify_catches_a_broken_file(verify_available, tmp_path):
    # Proof that the verifier is real: the classic mistakes fail it.
    bad = tmp_path / "60-bad.rules"
    bad.write_text('ACTION!="add", GOTO="nowhere"\nSUBSYSTEM=="tty", ATTRS{idVendor}="0483", MODE="0660"\n')
    done = run("verify", "--resolve-names=never", str(bad))
    assert done.returncode != 0
    text = done.stdout + done.stderr
    assert "Invalid operator for ATTRS" in text
    assert "no matching label" in text
