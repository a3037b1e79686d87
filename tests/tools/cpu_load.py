"""Keep every core busy while a command runs: the busy machine the real-time tests must hold on.

    python tests/tools/cpu_load.py -- python -m pytest -q          # the suite under load
    python tests/tools/cpu_load.py --workers 4 -- python -m pytest -q -m slow
    python tests/tools/cpu_load.py --seconds 120                   # load only (run tests elsewhere)

Starts `--workers` processes (default: one per core) that spin in pure Python at normal priority,
runs the command, then stops the spinners by their process ids (also on Ctrl-C or an error), prints
the command's wall time and the load average, and exits with the command's exit code.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

SPIN = "while True: pass"


def start_spinners(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(count)]


def stop_spinners(spinners: list[subprocess.Popen]) -> None:
    for proc in spinners:
        if proc.poll() is None:
            proc.terminate()
    for proc in spinners:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cpu_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="spinning processes (default: one per core, %(default)s here)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="with no command: how long to load the machine (default: until Ctrl-C)")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="the command to run under load, after `--`")
    args = parser.parse_args(argv)
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if args.workers < 1:
        parser.error(f"--workers {args.workers}: must be at least 1")
    if args.seconds is not None and (args.seconds <= 0 or args.command):
        parser.error("--seconds: a positive number, and only without a command")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    spinners = start_spinners(args.workers)
    print(f"cpu_load: {args.workers} spinning process(es) on {os.cpu_count()} core(s); "
          f"load average {load_average()}", file=sys.stderr, flush=True)
    start = time.monotonic()
    code = 0
    try:
        if args.command:
            code = subprocess.call(args.command)
        elif args.seconds is not None:
            time.sleep(args.seconds)
        else:
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        code = 130
    finally:
        stop_spinners(spinners)
    print(f"cpu_load: done in {time.monotonic() - start:.1f} s wall under {args.workers} spinner(s); "
          f"exit code {code}; load average {load_average()}", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
