"""`lambdarig udev print|install`: the udev rules for the bench board and USB-TMC instruments.

The rule files in the repository's udev/ directory are the source (installed as the package data of
the `udev` package). `print` writes them out (both files together are one valid rules text);
`install` copies them into a rules directory (default /etc/udev/rules.d), then reloads udev and
triggers the tty/usb/usbmisc devices so plugged-in boards get the new names and permissions.

Exit codes of `install`:
  0  files installed (or already identical) and, for a directory udev reads, udev reloaded; also 0
     when `udevadm` is not installed (a chroot or image build): the output says to reload by hand;
     and 0 for a --dest udev does not read (a staging directory): nothing to reload;
  1  files installed but `udevadm control --reload-rules` or `udevadm trigger` failed (its message
     and the commands to run by hand are printed);
  2  the destination cannot be written (not root): nothing copied, the exact sudo commands printed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_DEST = "/etc/udev/rules.d"
# Directories udev reads rules from: installing elsewhere (a staging tree) needs no reload.
UDEV_RULE_DIRS = ("/etc/udev/rules.d", "/run/udev/rules.d", "/usr/lib/udev/rules.d", "/lib/udev/rules.d",
                  "/usr/local/lib/udev/rules.d")
RELOAD = ("udevadm", "control", "--reload-rules")
TRIGGER = ("udevadm", "trigger", "--subsystem-match=tty", "--subsystem-match=usb", "--subsystem-match=usbmisc")
UDEVADM_TIMEOUT_S = 30.0


class RuleFile:
    def __init__(self, name: str, text: str, path: Path | None):
        self.name = name
        self.text = text
        self.path = path          # on disk (repository or installed package), None inside a zip


def rule_files() -> list[RuleFile]:
    """The rule files, sorted by name: from the repository's udev/ when running from a checkout,
    else from the installed package `lambdarig.udev` (importlib.resources)."""
    repo = Path(__file__).resolve().parents[1] / "udev"
    found = sorted(repo.glob("*.rules")) if repo.is_dir() else []
    if found:
        return [RuleFile(p.name, p.read_text(), p) for p in found]
    try:
        from importlib import resources
        entries = sorted((e for e in resources.files("lambdarig.udev").iterdir() if e.name.endswith(".rules")),
                         key=lambda e: e.name)
    except (ImportError, ModuleNotFoundError, FileNotFoundError, TypeError) as exc:
        raise ValueError(f"the udev rules are not installed with this lambdarig ({exc}); "
                         "reinstall the package or use the files in the repository's udev/ directory") from None
    files = []
    for entry in entries:
        path = Path(str(entry)) if isinstance(entry, Path) or Path(str(entry)).is_file() else None
        files.append(RuleFile(entry.name, entry.read_text(), path))
    if not files:
        raise ValueError("no udev rule files found in the installed package 'udev'")
    return files


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("udev", help="print or install the udev rules (board symlink, permissions)",
                                   description=__doc__.splitlines()[0])
    actions = parser.add_subparsers(dest="udev_action", metavar="ACTION")
    actions.required = True
    show = actions.add_parser("print", help="print the rule files",
                              description="Print the rule files; together they are one valid rules text.")
    show.add_argument("name", nargs="?", default=None, metavar="FILE",
                      help="print only this file (e.g. 60-lambdarig.rules)")
    show.set_defaults(func=run_print)
    install = actions.add_parser("install", help="copy the rules, reload udev, trigger devices",
                                 description="Copy the rule files into --dest, then `udevadm control "
                                             "--reload-rules` and `udevadm trigger`. Needs root for /etc.")
    install.add_argument("--dest", default=DEFAULT_DEST, metavar="DIR",
                         help=f"rules directory (default {DEFAULT_DEST})")
    install.add_argument("--parents", action="store_true",
                         help="create missing parent folders of --dest too (like mkdir -p; each one is named); "
                              "without it only --dest itself is created, inside a folder that exists")
    install.add_argument("--dry-run", action="store_true", help="say what would be done, change nothing")
    install.add_argument("--no-reload", action="store_true", help="copy only; do not run udevadm")
    install.set_defaults(func=run_install)


def run(args: argparse.Namespace) -> int:
    return args.func(args)


def run_print(args: argparse.Namespace) -> int:
    files = rule_files()
    if args.name is not None:
        chosen = [f for f in files if f.name == args.name]
        if not chosen:
            raise ValueError(f"udev print: no rule file {args.name!r}; known: {', '.join(f.name for f in files)}")
        sys.stdout.write(chosen[0].text)
        return 0
    for index, rule in enumerate(files):
        if index:
            sys.stdout.write("\n")
        sys.stdout.write(f"# ===== {rule.name} (install as {DEFAULT_DEST}/{rule.name}) =====\n")
        sys.stdout.write(rule.text if rule.text.endswith("\n") else rule.text + "\n")
    return 0


def manual_commands(files: list[RuleFile], dest: str) -> list[str]:
    """The exact commands a user runs (with sudo) to do what `install` does."""
    quoted_dest = shlex.quote(dest)
    if all(f.path is not None for f in files):
        commands = [f"sudo install -m 0644 -t {quoted_dest} " + " ".join(shlex.quote(str(f.path)) for f in files)]
    else:
        commands = [f"lambdarig udev print {shlex.quote(f.name)} | sudo tee {shlex.quote(os.path.join(dest, f.name))} "
                    f">/dev/null" for f in files]
    return commands + reload_commands()


def reload_commands() -> list[str]:
    return ["sudo " + " ".join(RELOAD), "sudo " + " ".join(TRIGGER)]


def _reads_rules(dest: Path) -> bool:
    try:
        resolved = dest.resolve()
    except OSError:
        return False
    return any(resolved == Path(d).resolve() for d in UDEV_RULE_DIRS)


def _missing_folders(dest: Path) -> list[Path]:
    """The folders that would have to be created for dest, outermost first."""
    missing = []
    for folder in (dest, *dest.parents):
        if folder.exists():
            break
        missing.append(folder)
    return missing[::-1]


def _writable(dest: Path, parents: bool) -> tuple[bool, str]:
    """(can we write into dest, why not). Creates dest when its parent exists (and the missing
    parents too with --parents), naming each folder it creates: a typo in --dest must not quietly
    grow a tree at the root of the file system."""
    if dest.exists() and not dest.is_dir():
        return False, f"{dest} exists and is not a directory"
    missing = _missing_folders(dest)
    if len(missing) > 1 and not parents:
        raise ValueError(f"udev install: folder {missing[0]} does not exist (nor "
                         f"{', '.join(str(m) for m in missing[1:])}): nothing created; give an existing rules "
                         "directory, or --parents to create them")
    for folder in missing:
        try:
            folder.mkdir()
        except OSError as exc:
            return False, f"cannot create {folder}: {exc.strerror}"
        print(f"created   {folder}/")
    if not os.access(dest, os.W_OK | os.X_OK):
        return False, f"{dest} is not writable"
    return True, ""


def _copy(rule: RuleFile, dest: Path) -> str:
    """Atomic copy (temporary file + rename), mode 0644; 'installed', 'updated' or 'unchanged'."""
    target = dest / rule.name
    data = rule.text.encode()
    if target.is_file():
        try:
            if target.read_bytes() == data:
                return "unchanged"
        except OSError:
            pass
        status = "updated"
    else:
        status = "installed"
    fd, tmp = tempfile.mkstemp(prefix=f".{rule.name}.", dir=dest)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return status


def _udevadm(argv: tuple[str, ...]) -> tuple[bool, str]:
    path = shutil.which(argv[0])
    if path is None:  # checked by the caller, but PATH can change in between
        return False, f"{argv[0]} not found on PATH"
    try:
        done = subprocess.run([path, *argv[1:]], capture_output=True, text=True, timeout=UDEVADM_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return done.returncode == 0, (done.stderr or done.stdout).strip()


def run_install(args: argparse.Namespace) -> int:
    files = rule_files()
    dest = Path(args.dest).expanduser()
    reload_needed = _reads_rules(dest) and not args.no_reload
    if args.dry_run:
        missing = _missing_folders(dest)
        if len(missing) > 1 and not args.parents:
            print(f"would refuse: folder {missing[0]} does not exist (--parents creates it)")
            return 0
        for folder in missing:
            print(f"would create {folder}/")
        for rule in files:
            print(f"would copy {rule.name} -> {dest / rule.name} (mode 0644)")
        if reload_needed:
            print("would run: " + " ".join(RELOAD))
            print("would run: " + " ".join(TRIGGER))
        else:
            print("would not reload udev: " + ("--no-reload" if args.no_reload else f"udev does not read {dest}"))
        existing = next((p for p in (dest, *dest.parents) if p.exists()), None)
        if existing is None or not os.access(existing, os.W_OK | os.X_OK):
            print(f"note: {existing or dest} is not writable by you: run it with sudo")
        return 0

    ok, why = _writable(dest, args.parents)
    if not ok:
        commands = "\n".join("  " + c for c in manual_commands(files, str(dest)))
        if os.geteuid() != 0:
            raise ValueError(f"udev install: {why} (you are not root). Run as root:\n"
                             f"  sudo lambdarig udev install --dest {shlex.quote(str(dest))}\n"
                             f"or by hand:\n{commands}")
        raise ValueError(f"udev install: {why}, even as root (read-only file system?). The commands are:\n{commands}")
    try:
        statuses = [(rule, _copy(rule, dest)) for rule in files]
    except PermissionError as exc:
        commands = "\n".join("  " + c for c in manual_commands(files, str(dest)))
        raise ValueError(f"udev install: cannot write into {dest}: {exc.strerror}. Run:\n{commands}") from None
    except OSError as exc:   # not a place files can be made in (/proc, a read-only mount, a full disk)
        raise ValueError(f"udev install: cannot write into {dest}: {exc.strerror or exc}; "
                         "give a rules directory (default /etc/udev/rules.d)") from None
    for rule, status in statuses:
        print(f"{status:9s} {dest / rule.name}")

    if not reload_needed:
        why = "--no-reload given" if args.no_reload else f"udev does not read rules from {dest}"
        print(f"not reloading udev ({why})")
        return 0
    if shutil.which("udevadm") is None:
        print("udevadm not found (udev is not installed or not on PATH): the rules take effect when udev "
              "starts; on a running system reload by hand:")
        for command in reload_commands():
            print("  " + command)
        return 0
    for argv in (RELOAD, TRIGGER):
        ok, message = _udevadm(argv)
        if not ok:
            print(f"lambdarig: error: `{' '.join(argv)}` failed: {message or 'no message'}", file=sys.stderr)
            print("the rule files are installed; reload by hand:", file=sys.stderr)
            for command in reload_commands():
                print("  " + command, file=sys.stderr)
            return 1
        print(f"ran       {' '.join(argv)}")
    print("done: unplug and replug the board (or wait for the trigger) to get /dev/lambdarig-<serial>")
    return 0
