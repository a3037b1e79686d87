"""The sim front end (hal/sim.py) and the front-end registry (hal/registry.py)."""

from __future__ import annotations

import dataclasses
import math
from importlib.metadata import EntryPoint

import pytest

from lambdarig import hal
from lambdarig.emulator.board import BoardReading
from lambdarig.emulator.errors import EmulatorInputError
from lambdarig.hal import (
    SAFE_COMMAND,
    Command,
    FrontEnd,
    FrontEndError,
    FrontEndInfo,
    LinkLost,
    known_schemes,
    open_frontend,
    register_frontend,
    registry,
)

WARM_DUTY = 0.4  # about 8.5 V effective from 13.5 V
# The emulated 16-bit pump DAC spans -10..+10 mA with 2^16-1 steps, so 0 A is not a code: safe()
# lands within one LSB (about 0.3 uA) of zero.
PUMP_DAC_LSB_A = 20e-3 / 65535


def run(fe: FrontEnd, until_s: float, command: Command | None = None, period_s: float = 0.002) -> list:
    """Drive fe at 500 Hz up to until_s; returns the samples."""
    if command is not None:
        fe.apply(command)
    samples = []
    t = fe.now()
    while t < until_s - 1e-12:
        t = min(t + period_s, until_s)
        assert fe.wait_until(t)
        samples.append(fe.sample())
    return samples


def as_tuple(sample) -> tuple:
    """The sample's fields, floats as exact hex (NaN equal to NaN: a NaN from compiled code is not
    always the same object as math.nan)."""
    values = (getattr(sample, f.name) for f in dataclasses.fields(hal.Sample))
    return tuple(v.hex() if isinstance(v, float) else v for v in values)


# --- basics -----------------------------------------------------------------------------------


def test_open_sim_info_and_clock():
    fe = open_frontend("sim:lsu49")
    info = fe.info()
    assert isinstance(info, FrontEndInfo)
    assert (info.kind, info.name, info.element) == ("sim", "sim:lsu49", "lsu49")
    assert info.measures_ri and info.measures_heater and info.measures_pump_v
    assert info.virtual_time and info.has_truth
    assert info.details["scenario"] == "default"
    assert info.details["seed"] == fe.scenario.seed
    assert info.details["duration_s"] == fe.scenario.duration_s > 0
    assert info.pump_current_min_a < 0 < info.pump_current_max_a

    assert fe.now() == 0.0
    assert fe.wait_until(0.1) is True
    assert fe.now() == pytest.approx(0.1)
    assert fe.wait_until(0.05) is False          # the past: nothing done
    assert fe.now() == pytest.approx(0.1)
    assert fe.wait_until(0.1) is True            # now: nothing to integrate, not late
    fe.close()


def test_default_element_query_and_options():
    with open_frontend("sim:?scenario=free-air&seed=3") as fe:
        info = fe.info()
        assert info.element == "lsu49"
        assert info.details == {**info.details, "scenario": "free-air", "seed": 3}
    with open_frontend("sim:lsu49?scenario=free-air&seed=3", seed=5, scenario="default") as fe:
        assert fe.info().details["seed"] == 5                  # keyword options win
        assert fe.scenario.name == "default"
    with open_frontend("SIM://lsu49") as fe:                   # scheme case-insensitive, '//' dropped
        assert fe.info().element == "lsu49"


def test_context_manager_and_sample_fields():
    with open_frontend("sim:lsu49") as fe:
        assert isinstance(fe, FrontEnd)
        fe.wait_until(0.01)
        s = fe.sample()
        assert s.t_s == pytest.approx(0.01)
        for name in ("nernst_v", "pump_current_a", "ri_ohm", "heater_v", "heater_a", "supply_v", "pump_v"):
            assert isinstance(getattr(s, name), float)
        assert s.supply_v == pytest.approx(13.5, abs=0.1)
    # closed: made safe, refuses further I/O
    with pytest.raises(FrontEndError, match="closed"):
        fe.sample()


def test_board_reading_and_sample_have_the_same_fields_in_order():
    """The emulated board builds its readings positionally, as BoardReading or as the Sample type
    the sim hands it: both must take the same fields in the same order."""
    assert [f.name for f in dataclasses.fields(BoardReading)] == [f.name for f in dataclasses.fields(hal.Sample)]


@pytest.mark.parametrize("element", ["lsu49", "hc-mixed"])   # hc-mixed: the reading with sense_v
def test_sim_sample_is_a_real_sample_with_the_boards_numbers(element):
    """sample() returns the seam's Sample type itself, carrying exactly the numbers the board's own
    reading type carries for the same seed (the reading type changes the type, not a value)."""
    from lambdarig.emulator.rig import EmulatedRig
    from lambdarig.emulator.scenario import load_scenario

    with open_frontend(f"sim:{element}", seed=4) as fe:
        rig = EmulatedRig(element, load_scenario("default"), seed=4)   # the emulator's own type
        fe.apply(Command(pump_current_a=1e-3, heater_duty=WARM_DUTY))
        rig.apply(1e-3, WARM_DUTY)
        for k in range(1, 50):
            fe.wait_until(k * 0.002)
            rig.advance_to(k * 0.002)
            sample, reading = fe.sample(), rig.sample(0.002)
            assert type(sample) is hal.Sample and type(reading) is BoardReading
            # The same numbers, but for the pressure input the sim front end adds (the board has none).
            assert dataclasses.astuple(sample)[:-1] == pytest.approx(dataclasses.astuple(reading)[:-1], nan_ok=True,
                                                                      rel=0, abs=0)
            assert math.isnan(reading.pressure_kpa) and abs(sample.pressure_kpa - 101.325) < 2.0


def test_a_sim_front_end_on_a_rig_built_elsewhere_returns_samples():
    from lambdarig.emulator.rig import EmulatedRig
    from lambdarig.emulator.scenario import load_scenario
    from lambdarig.hal.sim import SimFrontEnd

    rig = EmulatedRig("lsu49", load_scenario("default"), seed=1)
    assert type(rig.sample(0.002)) is BoardReading
    with SimFrontEnd(rig) as fe:
        fe.wait_until(0.01)
        assert type(fe.sample()) is hal.Sample


# --- commands, physics, safety ----------------------------------------------------------------


def test_heater_warms_element_and_safe_turns_everything_off():
    with open_frontend("sim:lsu49?scenario=free-air") as fe:
        t0 = fe.truth().temp_c
        fe.apply(Command(pump_current_a=1e-3, heater_duty=WARM_DUTY, excitation=True))
        assert fe.rig.board.heater_duty == pytest.approx(WARM_DUTY, abs=1e-3)
        assert fe.rig.board.pump_command_a == pytest.approx(1e-3, rel=1e-3)
        fe.wait_until(2.0)
        t1 = fe.truth().temp_c
        assert t1 > t0 + 50.0
        assert fe.sample().heater_a > 0.5

        fe.safe()
        assert fe.rig.board.heater_duty == 0.0
        assert abs(fe.rig.board.pump_command_a) <= PUMP_DAC_LSB_A
        assert fe.safe_count >= 1 and fe.last_safe_s == pytest.approx(2.0)
        fe.wait_until(2.5)
        assert fe.sample().heater_a == pytest.approx(0.0, abs=0.02)


def test_duty_is_clamped():
    with open_frontend("sim:lsu49") as fe:
        fe.apply(Command(0.0, 1.7, True))
        assert fe.rig.board.heater_duty == 1.0
        fe.apply(Command(0.0, -0.5, False))
        assert fe.rig.board.heater_duty == 0.0
        assert fe.rig.board.excitation_on is False
        fe.wait_until(0.01)
        assert math.isnan(fe.sample().ri_ohm)       # excitation off: no ESR


@pytest.mark.parametrize("bad", [Command(math.nan, 0.1, True), Command(0.0, math.nan, True),
                                 Command(math.inf, 0.1, True), Command(0.0, -math.inf, True)])
def test_non_finite_command_raises_and_changes_nothing(bad):
    with open_frontend("sim:lsu49") as fe:
        fe.apply(Command(2e-3, 0.25, True))
        before = (fe.rig.board.pump_command_a, fe.rig.board.heater_duty, fe.rig.board.excitation_on)
        bad = dataclasses.replace(bad, excitation=False)
        with pytest.raises(ValueError, match="finite"):
            fe.apply(bad)
        assert (fe.rig.board.pump_command_a, fe.rig.board.heater_duty,
                fe.rig.board.excitation_on) == before


def test_wait_until_rejects_non_finite_future():
    with open_frontend("sim:lsu49") as fe:
        with pytest.raises(ValueError):
            fe.wait_until(math.nan)
        with pytest.raises(ValueError):
            fe.wait_until(math.inf)
        assert fe.now() == 0.0


def test_context_manager_makes_safe_on_exception():
    with pytest.raises(RuntimeError, match="boom"):
        with open_frontend("sim:lsu49") as fe:
            fe.apply(Command(3e-3, 0.8, True))
            fe.wait_until(0.05)
            raise RuntimeError("boom")
    assert fe.rig.board.heater_duty == 0.0
    assert abs(fe.rig.board.pump_command_a) <= PUMP_DAC_LSB_A


def test_link_loss():
    fe = open_frontend("sim:lsu49?link_loss_s=0.1")
    fe.apply(Command(0.0, WARM_DUTY, True))
    assert fe.info().details["link_loss_s"] == 0.1
    fe.wait_until(0.05)
    fe.sample()
    fe.wait_until(0.1)
    with pytest.raises(LinkLost, match="sim link lost at 0.1"):
        fe.sample()
    with pytest.raises(LinkLost):
        fe.apply(SAFE_COMMAND)
    assert fe.wait_until(0.2) is True                # the virtual clock keeps running
    fe.safe()                                        # never raises ...
    assert fe.rig.board.heater_duty == 0.0        # ... and the emulated board obeyed
    assert fe.last_safe_s == pytest.approx(0.2)
    fe.close()
    fe.close()                                       # idempotent, no raise


def test_link_loss_keyword_overrides_query():
    with open_frontend("sim:lsu49?link_loss_s=0.1", link_loss_s=None) as fe:
        fe.wait_until(0.2)
        fe.sample()


# --- determinism ------------------------------------------------------------------------------


def _sequence(url: str, **options) -> list[tuple]:
    with open_frontend(url, **options) as fe:
        return [as_tuple(s) for s in run(fe, 0.3, Command(0.5e-3, WARM_DUTY, True))]


def test_same_seed_same_samples_different_seed_differs():
    a = _sequence("sim:lsu49?seed=7")
    b = _sequence("sim:lsu49", seed=7)
    c = _sequence("sim:lsu49?seed=8")
    assert len(a) == 150
    assert a == b
    assert a != c


# --- option errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("url, options, option", [
    ("sim:lsu49?bogus=1", {}, "bogus"),
    ("sim:lsu49?seed=abc", {}, "seed"),
    ("sim:lsu49?seed=-1", {}, "seed"),
    ("sim:lsu49?seed=1&seed=2", {}, "seed"),
    ("sim:lsu49?link_loss_s=soon", {}, "link_loss_s"),
    ("sim:lsu49?link_loss_s=-1", {}, "link_loss_s"),
    ("sim:lsu49?max_step_s=1", {}, "max_step_s"),
    ("sim:lsu49", {"seed": 1.5}, "seed"),
    ("sim:lsu49", {"wibble": 1}, "wibble"),
    ("sim:lsu49", {"element_overrides": [3]}, "element_overrides"),
])
def test_bad_options_raise_value_error_naming_the_option(url, options, option):
    with pytest.raises(ValueError, match=f"'{option}'") as excinfo:
        open_frontend(url, **options)
    if option in ("bogus", "wibble"):
        assert "scenario" in str(excinfo.value) and "seed" in str(excinfo.value)   # lists the allowed keys


def test_unknown_element_or_scenario_is_emulator_input_error():
    with pytest.raises(EmulatorInputError, match="nosuch"):
        open_frontend("sim:nosuch")
    with pytest.raises(EmulatorInputError, match="nosuch"):
        open_frontend("sim:lsu49?scenario=nosuch")


def test_element_overrides_and_scenario_object():
    from lambdarig.emulator.scenario import load_scenario

    scenario = load_scenario("free-air")
    with open_frontend("sim:lsu49", scenario=scenario, seed=1, max_step_s=0.001) as fe:
        assert fe.scenario is scenario
        assert fe.rig.max_step_s == 0.001
    with pytest.raises(EmulatorInputError):
        open_frontend("sim:lsu49?override=nosection.nokey=1")


# --- registry ---------------------------------------------------------------------------------


class TinyFrontEnd(FrontEnd):
    """A minimal backend for the registry tests."""

    def __init__(self, url: str, options: dict):
        self.url = url
        self.options = options
        self.t = 0.0
        self.safe_calls = 0

    @classmethod
    def from_url(cls, url: str, **options) -> TinyFrontEnd:
        return cls(url, options)

    def sample(self):
        return hal.Sample(self.t, 0.45, 0.0)

    def apply(self, command):
        pass

    def wait_until(self, t_s):
        if t_s < self.t:
            return False
        self.t = t_s
        return True

    def now(self):
        return self.t

    def safe(self):
        self.safe_calls += 1

    def info(self):
        return FrontEndInfo(kind="tiny", name=self.url)


@pytest.fixture
def clean_registry(monkeypatch):
    monkeypatch.setattr(registry, "_registered", {})
    monkeypatch.setattr(registry, "_plugins", None)
    monkeypatch.setattr(registry, "_plugin_error", "")
    return registry


def test_unknown_scheme_lists_known(clean_registry):
    assert "sim" in known_schemes()
    with pytest.raises(FrontEndError, match=r"unknown front-end scheme 'nope'.*the schemes .*sim.*socket://"):
        open_frontend("nope:thing")
    with pytest.raises(FrontEndError, match="sim"):
        open_frontend("1bad:thing")
    with pytest.raises(ValueError):
        open_frontend("")


def test_register_class_and_callable(clean_registry):
    register_frontend("tiny", TinyFrontEnd)
    assert "tiny" in known_schemes()
    with open_frontend("tiny:board-7?x=1", speed=3) as fe:
        assert isinstance(fe, TinyFrontEnd)
        assert fe.url == "tiny:board-7?x=1" and fe.options == {"speed": 3}
        assert fe.wait_until(1.0) and fe.now() == 1.0
    assert fe.safe_calls >= 1

    register_frontend("Tiny2", lambda url, **options: TinyFrontEnd(url, options))
    fe = open_frontend("tiny2:x", a=1)
    assert fe.options == {"a": 1}

    register_frontend("tiny3", f"{__name__}:TinyFrontEnd")     # lazy "module:Class"
    assert isinstance(open_frontend("tiny3:"), TinyFrontEnd)

    registry.unregister_frontend("tiny")
    with pytest.raises(FrontEndError):
        open_frontend("tiny:x")


def test_register_rejects_bad_arguments(clean_registry):
    with pytest.raises(ValueError):
        register_frontend("has space", TinyFrontEnd)
    with pytest.raises(ValueError):
        register_frontend("ok", "no-colon")
    with pytest.raises(ValueError):
        register_frontend("ok", 42)


def test_backend_import_failure_is_front_end_error(clean_registry):
    register_frontend("broken", "lambdarig_no_such_module_xyz:Thing")
    with pytest.raises(FrontEndError, match=r"'broken'.*ModuleNotFoundError.*lambdarig_no_such_module_xyz"):
        open_frontend("broken:x")
    register_frontend("noattr", f"{__name__}:NoSuchClass")
    with pytest.raises(FrontEndError, match="NoSuchClass"):
        open_frontend("noattr:x")


def test_entry_points_merged_at_first_use(clean_registry, monkeypatch):
    group = registry.ENTRY_POINT_GROUP
    eps = [EntryPoint(name="plug", value=f"{__name__}:TinyFrontEnd", group=group),
           EntryPoint(name="sim", value=f"{__name__}:TinyFrontEnd", group=group),      # cannot hijack
           EntryPoint(name="plugbroken", value="lambdarig_no_such_module_xyz:X", group=group)]
    calls = []

    def fake_entry_points(*, group):
        calls.append(group)
        return eps

    monkeypatch.setattr(registry, "entry_points", fake_entry_points)
    assert {"plug", "plugbroken", "sim"} <= set(known_schemes())
    assert isinstance(open_frontend("plug:x"), TinyFrontEnd)
    assert type(open_frontend("sim:lsu49")).__name__ == "SimFrontEnd"
    with pytest.raises(FrontEndError, match="lambdarig_no_such_module_xyz"):
        open_frontend("plugbroken:x")
    assert calls == [group]                                       # scanned once
