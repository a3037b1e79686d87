"""The emulator's step kernel built ahead of time (Cython, at install: lambdarig/aot.py), compiled by
numba (LAMBDARIG_NO_JIT=0) and as plain Python (LAMBDARIG_NO_JIT=1, or neither there) give the same
trajectories, to the last bit.

Every built-in element runs on its emulated board through the default scenario (a cold start, lambda
steps rich and lean, a ramp, free air) under a scripted drive (heater on, the pump current
alternating, the excitation switched): every reading the board hands out and the element's state are
hashed as exact hex floats, in a subprocess for each way of running the kernel.
tests/test_hotpath_element.py holds the kernel, compiled or not, to step_by_parts branch by branch;
this holds the two ways of running it to each other over whole runs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from lambdarig.emulator import jit

SCRIPT = r"""
import hashlib, json, math, sys
from lambdarig.emulator import jit
from lambdarig.emulator.element_spec import element_names
from lambdarig.emulator.rig import EmulatedRig
from lambdarig.emulator.scenario import load_scenario

STATE = ("cell_temp_k", "heater_temp_k", "node_balance", "node_po2_bar", "outer_po2_bar", "ref_fraction",
         "ref_po2_bar", "ri_ohm", "nernst_emf_v", "n_o2", "n_h2", "n_co", "n_hc")
seconds = float(sys.argv[1])
digests = {}
for name in element_names():
    # Steps of up to 12.5 ms now and then: the thermal step's substeps.
    rig = EmulatedRig(name, load_scenario("default"), seed=1, max_step_s=0.0125)
    digest = hashlib.sha256()
    steps = int(seconds / 0.002)
    t = 0.0
    for n in range(steps):
        rig.apply(heater_duty=0.45 if n < steps // 3 else 0.3,
                  pump_current_a=(0.4e-3 if n & 1 else -0.3e-3) if n % 700 < 500 else 0.0,
                  excitation=n % 900 < 850)
        t += 0.002 if n % 97 else 0.0125
        rig.advance_to(t)
        reading = rig.sample()
        digest.update(" ".join(float(v).hex() for v in (
            reading.nernst_v, reading.pump_current_a, reading.ri_ohm, reading.heater_v, reading.heater_a,
            reading.supply_v, reading.pump_v, reading.sense_v)).encode())
        e = rig.element
        digest.update(" ".join(float(getattr(e, k)).hex() for k in STATE).encode())
    digests[name] = digest.hexdigest()
kind = "built" if jit.is_built_ahead() else "numba" if jit.is_compiled() else "python"
print(json.dumps({"kind": kind, "digests": digests}))
"""

SECONDS = 30.0   # the warm-up, a rich and a lean step


def run(no_jit: str | None) -> dict:
    """The digests with LAMBDARIG_NO_JIT set to no_jit (None: unset, the default way)."""
    env = dict(os.environ)
    env.pop(jit.NO_JIT_ENV, None)
    if no_jit is not None:
        env[jit.NO_JIT_ENV] = no_jit
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(SECONDS)], env=env, capture_output=True, text=True,
                         timeout=110, check=True)
    return json.loads(out.stdout)


def numba_installed() -> bool:
    return importlib.util.find_spec("numba") is not None


@pytest.mark.slow
def test_built_compiled_and_python_kernels_give_the_same_trajectories():
    python = run("1")
    assert python["kind"] == "python"
    default = run(None)
    ways = [default]
    if numba_installed():
        numba = run("0")
        assert numba["kind"] == "numba"
        ways.append(numba)
    if default["kind"] == "python" and len(ways) == 1:
        pytest.skip("neither a built kernel nor numba here: nothing compiled to compare")
    for way in ways:
        assert way["digests"] == python["digests"], way["kind"]


def test_no_jit_switch():
    env = dict(os.environ, **{jit.NO_JIT_ENV: "1"})
    out = subprocess.run([sys.executable, "-c", "from lambdarig.emulator import jit; print(jit.is_compiled())"],
                         env=env, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_a_cache_that_cannot_be_written_costs_a_compilation_and_nothing_else(tmp_path):
    """numba writes its cache file after it has the compiled kernel: when the write fails (here a
    file-size limit, as a full disk would), the model warns and steps with the compiled kernel."""
    if not numba_installed():
        pytest.skip("numba is not installed: nothing compiled to cache")
    import resource
    import signal

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)     # EFBIG instead of the signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    script = ("from lambdarig.emulator.rig import EmulatedRig\n"
              "from lambdarig.emulator.scenario import load_scenario\n"
              "rig = EmulatedRig('lsu49', load_scenario('default'))\n"
              "rig.apply(heater_duty=0.5)\n"
              "rig.advance_to(1.0)\n"
              "print(rig.element.cell_temp_k > 293.15)\n")
    # An empty cache: the kernel is compiled; LAMBDARIG_NO_JIT=0: by numba, whether or not the install built it.
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), **{jit.NO_JIT_ENV: "0"})
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=110,
                         preexec_fn=limit_file_size)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
    assert "could not be cached" in out.stderr
