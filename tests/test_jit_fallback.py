"""The emulator's step kernel compiled (numba) and as plain Python (LAMBDARIG_NO_JIT=1, or numba not
installed) give the same trajectories, to the last bit.

Every built-in element runs on its emulated board through the default scenario (a cold start, lambda
steps rich and lean, a ramp, free air) under a scripted drive (heater on, the pump current
alternating, the excitation switched): every reading the board hands out and the element's state are
hashed as exact hex floats, once in this process and once in a subprocess with the kernel as Python.
tests/test_hotpath_element.py holds the kernel, compiled or not, to step_by_parts branch by branch;
this holds the two ways of running it to each other over whole runs.
"""

from __future__ import annotations

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
print(json.dumps({"compiled": jit.is_compiled(), "digests": digests}))
"""

SECONDS = 30.0   # the warm-up, a rich and a lean step


def run(no_jit: bool) -> dict:
    env = dict(os.environ)
    env.pop(jit.NO_JIT_ENV, None)
    if no_jit:
        env[jit.NO_JIT_ENV] = "1"
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(SECONDS)], env=env, capture_output=True, text=True,
                         timeout=110, check=True)
    return json.loads(out.stdout)


@pytest.mark.slow
def test_compiled_and_python_kernels_give_the_same_trajectories():
    if not jit.is_compiled():
        pytest.skip("numba is not installed (or LAMBDARIG_NO_JIT is set): nothing compiled to compare")
    python = run(no_jit=True)
    compiled = run(no_jit=False)
    assert python["compiled"] is False and compiled["compiled"] is True
    assert python["digests"] == compiled["digests"]


def test_no_jit_switch():
    env = dict(os.environ, **{jit.NO_JIT_ENV: "1"})
    out = subprocess.run([sys.executable, "-c", "from lambdarig.emulator import jit; print(jit.is_compiled())"],
                         env=env, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_a_cache_that_cannot_be_written_costs_a_compilation_and_nothing_else(tmp_path):
    """numba writes its cache file after it has the compiled kernel: when the write fails (here a
    file-size limit, as a full disk would), the model warns and steps with the compiled kernel."""
    if not jit.is_compiled():
        pytest.skip("numba is not installed (or LAMBDARIG_NO_JIT is set): nothing compiled to cache")
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
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))   # empty: the kernel is compiled
    env.pop(jit.NO_JIT_ENV, None)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=110,
                         preexec_fn=limit_file_size)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
    assert "could not be cached" in out.stderr
