"""The sweep file, its cases and keys, the Bosch band and the command line's refusals: no Dask
cluster needed (tests/test_sweep_cluster.py runs sweeps)."""

from __future__ import annotations

import math
import socket
import subprocess
import sys

import pytest

from lambdarig.cli import EXIT_USAGE, main
from lambdarig.common.errors import InputError
from lambdarig.sweep.cases import case_key, expand
from lambdarig.sweep.metrics import percentile
from lambdarig.sweep.spec import api_supports, load_sweep, sweep_from_dict
from lambdarig.sweep.tolerance import bosch_tolerance

BASE = {"duration_s": 12.0, "axes": {"scenario": ["default", "step-response"], "fuel": ["gasoline", "e85"],
                                     "seed": {"from": 0, "to": 2}},
        "variants": {"base": {}, "warm": {"heater": {"target_temp_c": 790.0}}}}


def refusal(data: dict) -> str:
    with pytest.raises(InputError) as info:
        sweep_from_dict(data, "s.toml")
    return str(info.value)


def test_the_cases_are_the_product_of_the_axes_with_stable_keys():
    spec = sweep_from_dict(BASE, "s.toml")
    cases = expand(spec)
    assert len(cases) == 2 * 2 * 3 * 2
    assert [c["key"] for c in cases] == sorted(c["key"] for c in cases)
    assert len({c["key"] for c in cases}) == len(cases)
    warm = next(c for c in cases if c["variant"] == "warm")
    assert warm["settings"] == {"heater.target_temp_c": 790.0}
    # the same file with its axes in another order gives the same cases and keys
    other = dict(BASE, axes=dict(reversed(list(BASE["axes"].items()))))
    assert [c["key"] for c in expand(sweep_from_dict(other, "t.toml"))] == [c["key"] for c in cases]
    changed = dict(warm, seed=warm["seed"] + 10)
    assert case_key(changed) != warm["key"]


def test_a_listed_subset_selects_cases_of_the_product():
    data = dict(BASE, case=[{"scenario": "default", "seed": 1}, {"fuel": "e85", "variant": "warm", "seed": 2}])
    cases = expand(sweep_from_dict(data, "s.toml"))
    assert len(cases) == 2 * 2 + 2
    assert all((c["scenario"] == "default" and c["seed"] == 1) or (c["fuel"] == "e85" and c["seed"] == 2)
               for c in cases)


@pytest.mark.parametrize("change, expected", [
    ({"axes": {"fuels": ["e85"]}}, "s.toml: axes.fuels: unknown axis"),
    ({"axes": {"fuel": ["e58"]}}, "did you mean 'e85'?"),
    ({"axes": {"scenario": ["step-respons"]}}, "did you mean 'step-response'?"),
    ({"axes": {"seed": {"from": 3, "to": 1}}}, "axes.seed.to: 1 is outside the allowed range"),
    ({"axes": {"seed": []}}, "axes.seed: [] is not a non-empty list"),
    ({"metrics": ["nernst_p99"]}, "did you mean 'nernst_p99_mv'?"),
    ({"durations_s": 3.0}, "did you mean 'duration_s'?"),
    ({"variants": {"hot": {"heater": {"target_temp": 800.0}}}}, "heater.target_temp"),
    ({"variants": {"x": {"heater": {"target_tmp_c": 800.0}}}},       # the file, a colon, the field under the variant
     "s.toml: variants.x.heater.target_tmp_c: unknown setting (allowed: "),
    ({"variants": {"x": {"heater": {"target_temp_c": 1200.0}}}},
     "s.toml: variants.x.heater.target_temp_c: 1200 °C is outside the allowed range"),
    ({"variants": {"x": {"conversion": {"fuel": "e85"}}}, "axes": {"fuel": ["gasoline"]}},
     "variants.x.conversion.fuel: conflicts with the fuel axis"),
    ({"case": [{"scenario": "cold-start"}]}, "case[0].scenario: 'cold-start' is not a value of the axis"),
])
def test_a_bad_sweep_file_is_one_line_naming_the_field(change, expected):
    text = refusal({**BASE, **change})
    assert expected in text, text
    assert "\n" not in text


def test_unit_and_age_axes_need_the_api(tmp_path):
    data = {**BASE, "axes": {"units": {"from": 0, "to": 3}, "age_h": [0.0, 1000.0]}}
    if api_supports("units") and api_supports("age_h"):
        cases = expand(sweep_from_dict(data, "s.toml"))
        assert {c["unit"] for c in cases} == {0, 1, 2, 3} and {c["age_h"] for c in cases} == {0.0, 1000.0}
    else:
        assert "axes.units: this lambdarig's simulate() has no 'unit' argument" in refusal(data)


def test_the_command_line_refuses_a_bad_file_with_exit_2_and_writes_nothing(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('[axes]\nfuel = ["dieesel"]\n')
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("lambdarig: error: ") and "did you mean 'diesel'?" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.parametrize("argv, expected", [
    (["--workers", "0"], "--workers: 0 is outside the allowed range (allowed: a whole number, 1 to 1024)"),
    (["--workers", "two"], "--workers: 'two' is not a whole number (allowed: a whole number, 1 to 1024)"),
    (["--progress-every", "0"], "--progress-every: 0 s is outside the allowed range (allowed: 0.1 to 3600 s)"),
    (["--scheduler", "10.0.0.1"], "--scheduler: '10.0.0.1' is not a scheduler address"),
    (["--png", "x.png"], "--png: is not an option of a sweep run"),
])
def test_the_command_line_refuses_bad_options(tmp_path, capsys, argv, expected):
    path = tmp_path / "s.toml"
    path.write_text('duration_s = 1.0\n')
    assert main(["sweep", str(path), *argv]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1


def test_report_worst_out_of_range_says_so(tmp_path, capsys):
    assert main(["sweep", "report", str(tmp_path), "--worst", "0"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err == ("lambdarig: error: command line: --worst: 0 is outside the allowed range "
                   "(allowed: a whole number, 1 to 10000)\n")


def test_a_sweep_file_resolves_element_and_scenario_paths_next_to_it(tmp_path):
    (tmp_path / "mine.toml").write_text('name = "mine"\nduration_s = 5.0\n')
    (tmp_path / "s.toml").write_text('[axes]\nscenario = ["mine.toml", "default"]\n')
    spec = load_sweep(tmp_path / "s.toml")
    assert spec.axes["scenario"] == [str(tmp_path / "mine.toml"), "default"]


def test_the_bosch_band():
    assert bosch_tolerance(1.016) == pytest.approx(0.007)
    assert bosch_tolerance(0.8) == pytest.approx(0.01)
    assert bosch_tolerance(1.7) == pytest.approx(0.05)
    assert bosch_tolerance(0.9) == pytest.approx(0.01 + (0.007 - 0.01) * (0.1 / 0.216))
    assert bosch_tolerance(0.65) == pytest.approx(0.01)
    assert bosch_tolerance(2.0) == pytest.approx(0.02)
    assert math.isnan(bosch_tolerance(math.inf))


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 99.0) == 99.0 and percentile(values, 100.0) == 100.0
    assert percentile([5.0], 99.0) == 5.0 and math.isnan(percentile([], 99.0))


def test_unusable_paths_are_refused_before_anything_runs(tmp_path, capsys):
    sweep_file = tmp_path / "s.toml"
    sweep_file.write_text("duration_s = 1.0\n")
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "manifest.json").write_text("{}")
    cases = [
        (["sweep", str(sweep_file), "--out", str(sweep_file)], "--out: "),
        (["sweep", str(sweep_file), "--out", "/proc/lambdarig-sweep"], "cannot be written"),
        (["sweep", "reprot"], "did you mean 'report'?"),
        (["sweep", "report", str(tmp_path / "res"), "--png", str(tmp_path / "no" / "r.png")], "--png: folder"),
        (["sweep", "report", str(tmp_path / "res"), "--html", str(tmp_path)], "--html: "),
        (["sweep", "report", str(tmp_path)], "RESULTS: "),
        (["sweep", "replay", str(tmp_path / "res"), "abc", "--log", str(tmp_path / "no" / "a.csv")], "--log: folder"),
    ]
    for argv, expected in cases:
        assert main(argv) == EXIT_USAGE, argv
        err = capsys.readouterr().err
        assert expected in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (argv, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res", "s.toml"]


@pytest.mark.skipif(not (api_supports("units") and api_supports("age_h")),
                    reason="lambdarig.api.simulate has no unit/age_h arguments yet (branch sensemu adds them)")
def test_a_unit_and_an_age_reach_the_simulation():
    from lambdarig.sweep.cases import code_id
    from lambdarig.sweep.runner import run_batch

    data = {"duration_s": 12.0, "axes": {"units": [3], "age_h": [0.0, 2000.0]}}
    rows = run_batch(expand(sweep_from_dict(data, "s.toml")), code_id())
    assert [r["error"] for r in rows] == ["", ""]
    assert {r["unit"] for r in rows} == {3} and {r["age_h"] for r in rows} == {0.0, 2000.0}


@pytest.mark.slow   # the engine waits 10 s for a scheduler
def test_no_scheduler_at_the_address_leaves_no_results_folder(tmp_path):
    """`sweep FILE --scheduler tcp://...` where nothing answers: one line, exit 1, and the results
    folder it made is gone again (the trial found an empty `f3/` with a manifest left behind)."""
    with socket.socket() as probe:          # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = tmp_path / "s.toml"
    path.write_text("duration_s = 1.0\n")
    out = tmp_path / "f3"
    done = subprocess.run([sys.executable, "-m", "lambdarig.cli", "sweep", str(path), "--scheduler",
                           f"tcp://127.0.0.1:{port}", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "no Dask scheduler answers" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not out.exists()
