"""`lambdarig udev print|install`: the printed rules, copying into a directory, reloading through
udevadm (a stand-in script on PATH: this machine has no running udev), udevadm missing, and a
destination that cannot be written (exit 2 with the exact sudo commands)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from rig_cli_helpers import main
from udev_rule_parser import check_rules

from lambdarig.cli import cmd_udev

UDEV = Path(__file__).resolve().parents[1] / "udev"
NAMES = ["60-lambdarig-instruments.rules", "60-lambdarig.rules"]


def test_rule_files_come_from_the_repository():
    files = cmd_udev.rule_files()
    assert [f.name for f in files] == NAMES
    for rule in files:
        assert rule.path == UDEV / rule.name
        assert rule.text == (UDEV / rule.name).read_text()


def test_rule_files_fall_back_to_the_installed_package(tmp_path, monkeypatch):
    # Installed without the repository layout next to scripts/: importlib.resources of `lambdarig.udev`.
    pytest.importorskip("lambdarig.udev")
    monkeypatch.setattr(cmd_udev, "__file__", str(tmp_path / "scripts" / "cmd_udev.py"))
    files = cmd_udev.rule_files()
    assert [f.name for f in files] == NAMES
    assert all(f.text == (UDEV / f.name).read_text() for f in files)


def test_print_all_is_one_valid_rules_text(monkeypatch, capsys):
    assert main(["udev", "print"], monkeypatch) == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert f"# ===== {name} (install as /etc/udev/rules.d/{name}) =====" in out
        assert (UDEV / name).read_text() in out
    assert check_rules("printed", out) == []


def test_print_one_file_exactly(monkeypatch, capsys):
    assert main(["udev", "print", "60-lambdarig.rules"], monkeypatch) == 0
    assert capsys.readouterr().out == (UDEV / "60-lambdarig.rules").read_text()


def test_print_unknown_file_is_a_usage_error(monkeypatch, capsys):
    assert main(["udev", "print", "99-nope.rules"], monkeypatch) == 2
    err = capsys.readouterr().err
    assert "99-nope.rules" in err and "60-lambdarig.rules" in err


def test_install_into_a_staging_directory_copies_without_reloading(tmp_path, monkeypatch, capsys):
    dest = tmp_path / "etc" / "udev" / "rules.d"   # created on the way, each folder named
    assert main(["udev", "install", "--dest", str(dest), "--parents"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert f"created   {tmp_path / 'etc'}/" in out and f"created   {dest}/" in out
    for name in NAMES:
        target = dest / name
        assert target.read_text() == (UDEV / name).read_text()
        assert stat.S_IMODE(target.stat().st_mode) == 0o644
        assert f"installed {target}" in out
    assert f"not reloading udev (udev does not read rules from {dest})" in out
    assert sorted(p.name for p in dest.iterdir()) == NAMES  # no temporary files left
    assert main(["udev", "install", "--dest", str(dest)], monkeypatch) == 0
    assert capsys.readouterr().out.count("unchanged") == 2


def test_install_replaces_an_outdated_copy(tmp_path, monkeypatch, capsys):
    (tmp_path / NAMES[1]).write_text("# old\n")
    assert main(["udev", "install", "--dest", str(tmp_path)], monkeypatch) == 0
    assert f"updated   {tmp_path / NAMES[1]}" in capsys.readouterr().out
    assert (tmp_path / NAMES[1]).read_text() == (UDEV / NAMES[1]).read_text()


def test_dry_run_changes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cmd_udev, "UDEV_RULE_DIRS", (str(tmp_path),))
    assert main(["udev", "install", "--dest", str(tmp_path), "--dry-run"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []
    assert f"would copy 60-lambdarig.rules -> {tmp_path / '60-lambdarig.rules'} (mode 0644)" in out
    assert "would run: udevadm control --reload-rules" in out
    assert "would run: udevadm trigger --subsystem-match=tty" in out


def fake_udevadm(bin_dir: Path, log: Path, fail_on: str = "") -> None:
    """A stand-in for the system tool udevadm: logs its arguments, fails on a given verb."""
    bin_dir.mkdir()
    script = bin_dir / "udevadm"
    script.write_text("#!/bin/sh\n"
                      f'echo "$*" >> "{log}"\n'
                      f'if [ -n "{fail_on}" ] && [ "$1" = "{fail_on}" ]; then\n'
                      '  echo "Failed to send reload request: No such file or directory" >&2; exit 1\nfi\n')
    script.chmod(0o755)


def test_install_into_a_rules_directory_reloads_and_triggers(tmp_path, monkeypatch, capsys):
    dest = tmp_path / "rules.d"
    log = tmp_path / "udevadm.log"
    fake_udevadm(tmp_path / "bin", log)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(cmd_udev, "UDEV_RULE_DIRS", (str(dest),))
    assert main(["udev", "install", "--dest", str(dest)], monkeypatch) == 0
    out = capsys.readouterr().out
    assert log.read_text().splitlines() == [
        "control --reload-rules", "trigger --subsystem-match=tty --subsystem-match=usb --subsystem-match=usbmisc"]
    assert "ran       udevadm control --reload-rules" in out
    assert "replug" in out


def test_no_reload_option(tmp_path, monkeypatch, capsys):
    log = tmp_path / "udevadm.log"
    fake_udevadm(tmp_path / "bin", log)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    dest = tmp_path / "rules.d"
    monkeypatch.setattr(cmd_udev, "UDEV_RULE_DIRS", (str(dest),))
    assert main(["udev", "install", "--dest", str(dest), "--no-reload"], monkeypatch) == 0
    assert not log.exists()
    assert "not reloading udev (--no-reload given)" in capsys.readouterr().out


def test_failed_reload_exits_1_with_the_commands(tmp_path, monkeypatch, capsys):
    dest = tmp_path / "rules.d"
    fake_udevadm(tmp_path / "bin", tmp_path / "udevadm.log", fail_on="control")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(cmd_udev, "UDEV_RULE_DIRS", (str(dest),))
    assert main(["udev", "install", "--dest", str(dest)], monkeypatch) == 1
    err = capsys.readouterr().err
    assert "`udevadm control --reload-rules` failed: Failed to send reload request" in err
    assert "sudo udevadm control --reload-rules" in err
    assert (dest / NAMES[0]).is_file()  # the copy stands


def test_udevadm_missing_still_installs_and_says_how_to_reload(tmp_path, monkeypatch, capsys):
    dest = tmp_path / "rules.d"
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(cmd_udev, "UDEV_RULE_DIRS", (str(dest),))
    assert main(["udev", "install", "--dest", str(dest)], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "udevadm not found" in out
    assert "sudo udevadm control --reload-rules" in out
    assert "sudo udevadm trigger --subsystem-match=tty" in out
    assert sorted(p.name for p in dest.iterdir()) == NAMES


def unwritable_dir(tmp_path: Path) -> Path:
    """A directory this process cannot write: a read-only one for a normal user; for root, a procfs
    directory (root bypasses file modes, not a read-only file system)."""
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        return locked
    candidate = Path("/proc/1")
    if not candidate.is_dir() or os.access(candidate, os.W_OK):
        pytest.skip("no directory that root cannot write here")
    return candidate


def test_unwritable_destination_prints_the_sudo_commands(tmp_path, monkeypatch, capsys):
    dest = unwritable_dir(tmp_path)
    monkeypatch.setattr(cmd_udev.os, "geteuid", lambda: 1000)  # as a normal user sees it
    try:
        assert main(["udev", "install", "--dest", str(dest)], monkeypatch) == 2
    finally:
        if dest.parent == tmp_path:
            dest.chmod(0o755)
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err
    assert "(you are not root)" in err
    assert f"sudo lambdarig udev install --dest {dest}" in err
    files = " ".join(str(UDEV / name) for name in NAMES)
    assert f"sudo install -m 0644 -t {dest} {files}" in err
    assert "sudo udevadm control --reload-rules" in err
    assert "sudo udevadm trigger --subsystem-match=tty --subsystem-match=usb --subsystem-match=usbmisc" in err


def test_unwritable_destination_as_root_names_the_reason(tmp_path, monkeypatch, capsys):
    if os.geteuid() != 0:
        pytest.skip("needs root: for a normal user the previous test covers it")
    dest = unwritable_dir(tmp_path)
    assert main(["udev", "install", "--dest", str(dest / "rules.d")], monkeypatch) == 2
    err = capsys.readouterr().err
    assert "even as root" in err and "cannot create" in err
