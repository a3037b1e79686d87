"""Run many `lambdarig` command lines, each in a process of its own, cheaply: this script imports the
command line once, then forks one child per case. A child runs `lambdarig.cli.main(argv)` with its
stdout and stderr on files and ends the way the `lambdarig` console script does: exit with main's
code, and an exception that escapes main prints its traceback on stderr and exits 1. The parent
kills a child that outlives the time limit (a hang).

    python tests/tools/cli_forks.py CASES.json RESULTS.json

CASES.json: {"limit_s": 10, "cases": [{"name": ..., "argv": [...], "cwd": ...}, ...]}
RESULTS.json: {name: {"rc": int | None (killed), "stdout": str, "stderr": str, "seconds": float}}
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
import traceback


def _child(argv: list[str], cwd: str, out_path: str, err_path: str) -> None:
    code = 1
    try:
        os.chdir(cwd)
        out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(err, 2)
        sys.stdin = open(os.devnull)
        from lambdarig.cli import main

        code = main(argv)
        code = code if isinstance(code, int) else 1
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def run_cases(cases: list[dict], limit_s: float, workdir: str, parallel: int = 4) -> dict[str, dict]:
    results: dict[str, dict] = {}
    pending = list(cases)
    running: dict[int, tuple[dict, float, str, str]] = {}
    while pending or running:
        while pending and len(running) < parallel:
            case = pending.pop(0)
            out_path = os.path.join(workdir, f"{len(results) + len(running)}-{os.getpid()}.out")
            err_path = out_path[:-4] + ".err"
            pid = os.fork()
            if pid == 0:
                _child(case["argv"], case.get("cwd", workdir), out_path, err_path)
            running[pid] = (case, time.monotonic(), out_path, err_path)
        time.sleep(0.005)
        for pid, (case, start, out_path, err_path) in list(running.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            elapsed = time.monotonic() - start
            if done == 0 and elapsed < limit_s:
                continue
            if done == 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                rc = None
            else:
                rc = os.waitstatus_to_exitcode(status)
            with open(out_path, encoding="utf-8", errors="replace") as out, \
                    open(err_path, encoding="utf-8", errors="replace") as err:
                results[case["name"]] = {"rc": rc, "stdout": out.read(), "stderr": err.read(),
                                         "seconds": round(elapsed, 3)}
            os.unlink(out_path)
            os.unlink(err_path)
            del running[pid]
    return results


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    # Import once in the parent so every child starts with the command line loaded.
    import lambdarig.cli  # noqa: F401

    with tempfile.TemporaryDirectory(prefix="cli-forks-") as workdir:
        results = run_cases(spec["cases"], float(spec.get("limit_s", 10.0)), workdir,
                            int(spec.get("parallel", 4)))
    with open(sys.argv[2], "w", encoding="utf-8") as handle:
        json.dump(results, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
