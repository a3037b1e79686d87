"""One type across the seam: the controller ticks on the front end's own Sample and returns its own
Command, which the runtime applies as it is; the Runtime refuses settings made for another element
than the front end carries; optional front-end abilities are asked of the interface, never probed."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from lambdarig.controller.core import Controller
from lambdarig.controller.profiles import settings_for_element
from lambdarig.controller.runtime import ElementMismatch, Runtime, check_element
from lambdarig.controller.settings import Settings
from lambdarig.hal.registry import open_frontend
from lambdarig.hal.types import Command, FrontEndInfo, Sample

REPO = Path(__file__).resolve().parents[1]


def test_tick_takes_a_sample_and_returns_the_controllers_own_command():
    ctl = Controller()
    first = ctl.tick(Sample(0.0, 0.45, 0.0, 300.0, 0.0, 0.0, 13.5))
    second = ctl.tick(Sample(0.002, 0.45, 0.0, 300.0, 0.0, 0.0, 13.5))
    assert type(first) is Command and first is second is ctl.command
    assert ctl.status().t_s == 0.002 and ctl.status().supply_v == 13.5   # the time and values are the sample's


def test_runtime_hands_the_front_ends_sample_to_tick_and_applies_the_controllers_command():
    fe = open_frontend("sim:lsu49", seed=0)
    ctl = Controller()
    sampled, ticked, applied = [], [], []
    raw_sample, raw_apply, raw_tick = fe.sample, fe.apply, ctl.tick

    def sample():
        sampled.append(raw_sample())
        return sampled[-1]

    def tick(s):
        ticked.append(s)
        return raw_tick(s)

    def apply(command):
        applied.append(command)
        raw_apply(command)

    fe.sample, fe.apply, ctl.tick = sample, apply, tick
    Runtime(fe, ctl).run(0.1)
    assert len(ticked) == len(sampled) == len(applied) == 51
    assert all(s is t and type(s) is Sample for s, t in zip(sampled, ticked, strict=True))
    assert all(c is ctl.command for c in applied)


def test_the_controllers_clock_is_the_samples():
    """A sample taken late (t_s beyond the schedule) moves the controller's time with it."""
    ctl = Controller()
    for n in range(5):
        ctl.tick(Sample(n * 0.002, 0.45, 0.0, math.nan, 0.0, 0.0, 13.5))
    ctl.tick(Sample(0.5, 0.45, 0.0, math.nan, 0.0, 0.0, 13.5))
    assert ctl.status().t_s == 0.5


def test_a_repeated_sample_after_a_late_tick_runs_no_slow_tick_on_zero_time():
    """A bench rig's stream hands the same SAMPLE (same t_s) to ticks that come faster than its
    frames, e.g. catching up after a late tick: the slow loop must not run again on no elapsed time
    (it divides by it). Seen as a ZeroDivisionError in `run` over serial under load."""
    ctl = Controller()
    t = 0.0
    slow_ticks = []
    real_slow = ctl._slow

    def slow(t_s, dt):
        slow_ticks.append((t_s, dt))
        real_slow(t_s, dt)

    ctl._slow = slow
    for n in range(500):                          # warming up, 1 s
        t = n * 0.002
        ctl.tick(Sample(t, 0.45, 0.0, 2000.0, 7.0, 2.0, 13.5))
    late = Sample(t + 0.3, 0.45, 0.0, 2000.0, 7.0, 2.0, 13.5)
    for _ in range(5):                            # a late tick, then the same reading again
        ctl.tick(late)
    ctl.tick(Sample(t + 0.302, 0.45, 0.0, 2000.0, 7.0, 2.0, 13.5))
    assert all(dt > 0.0 for _, dt in slow_ticks)
    assert [t_s for t_s, _ in slow_ticks].count(late.t_s) == 1


def _info(element: str, name: str = "x:y") -> FrontEndInfo:
    return FrontEndInfo(kind="x", name=name, element=element)


def test_check_element_refuses_only_a_known_other_element():
    lsu = Settings()
    check_element(_info(""), lsu)                        # the front end does not say: cannot judge
    check_element(_info("lsu49"), lsu)                   # the same element
    check_element(_info("my-custom-cell"), lsu)          # no profile for it: the settings decide
    with pytest.raises(ElementMismatch) as info:
        check_element(_info("hc-mixed", "serial:///dev/lambdarig0"), lsu)
    assert str(info.value).startswith("serial:///dev/lambdarig0 carries element 'hc-mixed' but the settings are "
                                      "for 'lsu49'")
    assert "sensor.element = 'hc-mixed'" in str(info.value) and "--force-element" in str(info.value)
    check_element(_info("hc-mixed"), settings_for_element("hc-mixed"))


def test_runtime_refuses_the_lsu49_profile_on_a_sealed_ref_unless_forced():
    fe = open_frontend("sim:sealed-ref")
    with pytest.raises(ElementMismatch, match="'sealed-ref'.*'lsu49'"):
        Runtime(fe, Controller(Settings()))
    Runtime(fe, Controller(Settings()), force_element=True)     # on purpose: allowed
    Runtime(fe, Controller(settings_for_element("sealed-ref")))


PROBE = re.compile(r"\b(getattr|hasattr)\(\s*(self\.)?(frontend|fe|front_end)\b")


def test_no_front_end_is_probed_for_abilities():
    """Optional abilities (truth, stored settings, reconnect, log header, scenario duration) are
    declared on FrontEnd with defaults; nothing asks a front end with getattr/hasattr."""
    found = [f"{path.relative_to(REPO)}:{n}" for folder in ("controller", "hal", "scripts")
             for path in sorted((REPO / folder).rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1) if PROBE.search(line)]
    assert found == []
