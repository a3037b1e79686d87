"""Gas-bench calibration of a sensor type: run the firmware's own pump loop on the emulated element
in known gases (the bench knows its gas, the firmware only its measurements) and derive the
profile's characteristic: pump current vs lambda (rich branch and the zero crossing), the current in
free air, the pressure constant and the temperature exponent of the limiting current.

This is how a real sensor is characterised (Bosch trims each LSU with its connector resistor). It
writes data for the firmware; at run time the firmware reads only its measurements.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable

from lambdarig.controller import hc_curve
from lambdarig.controller.core import Controller
from lambdarig.controller.profiles import SensorProfile, load_profile, settings_for_element
from lambdarig.controller.runtime import Runtime
from lambdarig.controller.settings import Settings
from lambdarig.emulator.scenario import scenario_from_dict
from lambdarig.hal.registry import open_frontend

RICH_LAMBDAS = (0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99, 0.995)
ZERO_LAMBDAS = (0.998, 1.0, 1.002, 1.005, 1.01)
WARM_UP_S = 18.0
PLATEAU_S = 2.5
AVERAGE_S = 1.2
PROBE_LAMBDA = 1.5
P0_KPA = 101.325
HIGH_KPA = 200.0
LOW_TEMP_C = 720.0


def _runnable_profile(element: str) -> SensorProfile:
    """The type's profile without its calibration: the bench reads currents, not lambda."""
    return load_profile(element, calibrated=False, for_bench=True)


def bench_s(plateaus: int) -> float:
    """Virtual seconds of one bench run: the warm-up and its plateaus (at least one)."""
    return WARM_UP_S + max(plateaus, 1) * PLATEAU_S


class BenchClock:
    """Virtual seconds done over all bench runs of one calibration, for a progress hook
    `progress(done_s, total_s)` (None: no hook)."""

    def __init__(self, total_s: float, progress: Callable[[float, float], None] | None):
        self.total_s = total_s
        self.progress = progress
        self.offset_s = 0.0

    def sinks(self) -> list:
        if self.progress is None:
            return []
        hook, offset, total = self.progress, self.offset_s, self.total_s
        return [lambda st, _t: hook(offset + st.t_s, total)]

    def ran(self, seconds: float) -> None:
        self.offset_s += seconds


def _sim_address(element: str, unit: int | None) -> str:
    return f"sim:{element}" if unit is None else f"sim:{element}?unit={unit}"


def _plateau_means(element: str, settings: Settings, steps: list[dict], seed: int,
                   clock: BenchClock | None = None, base: str | None = None,
                   unit: int | None = None) -> list[tuple[float, float]]:
    """Run warm-up + plateaus; return (mean measured pump current, mean cell temperature) per plateau."""
    at = [dict(step, t_s=WARM_UP_S + i * PLATEAU_S) for i, step in enumerate(steps)]
    duration = WARM_UP_S + len(steps) * PLATEAU_S
    scenario = scenario_from_dict({"name": "gas bench", "duration_s": duration, "gas_temp_c": 350.0,
                                   "flow_mps": 10.0, "lambda": 1.0, "seed": seed, "at": at}, "gas bench")
    frontend = open_frontend(_sim_address(element, unit), scenario=scenario)
    controller = Controller(settings, _runnable_profile(base or element))
    samples: list[tuple[float, float, float]] = []
    Runtime(frontend, controller, [lambda st, _t: samples.append((st.t_s, st.pump_current_a, st.temp_c)),
                                   *(clock.sinks() if clock else [])]).run(duration)
    if clock:
        clock.ran(duration)
    means = []
    for i in range(len(steps)):
        end = WARM_UP_S + (i + 1) * PLATEAU_S
        window = [(ip, tc) for t, ip, tc in samples if end - AVERAGE_S <= t < end]
        means.append((statistics.fmean(ip for ip, _ in window), statistics.fmean(tc for _, tc in window)))
    faults = [e.code for e in controller.events if e.severity == "fault"]
    if faults:
        raise RuntimeError(f"the gas bench saw faults: {faults}")
    return means


def calibrate(element: str, seed: int = 0, progress: Callable[[float, float], None] | None = None,
              base: str | None = None, unit: int | None = None) -> dict:
    """The profile's [calibration] values; `progress(done_s, total_s)` is called with the virtual
    seconds of the benches done so far. `element` is an element name or file; `base` the profile
    whose loops run the bench (default: the element's own); `unit` the unit of its production spread
    (None: the nominal element)."""
    settings = settings_for_element(base or element, {"sensor.characteristic": "nominal"})
    rich: list[dict[str, object]] = [{"lambda": lam} for lam in RICH_LAMBDAS + ZERO_LAMBDAS]
    probes: list[dict[str, object]] = [{"lambda": "air"}, {"lambda": PROBE_LAMBDA}, {"pressure_kpa": HIGH_KPA},
                                       {"pressure_kpa": P0_KPA}]
    clock = BenchClock(bench_s(len(rich + probes)) + bench_s(1), progress)
    means = _plateau_means(element, settings, rich + probes, seed, clock, base, unit)
    currents = [ip for ip, _ in means]
    lambdas = list(RICH_LAMBDAS + ZERO_LAMBDAS)
    ip_air, ip_probe, ip_high = currents[len(lambdas)], currents[len(lambdas) + 1], currents[len(lambdas) + 2]
    temp_ref_c = means[len(lambdas) + 1][1]

    # Zero crossing: interpolate lambda at Ip = 0 between the points around it.
    pairs = list(zip(currents[:len(lambdas)], lambdas))
    lambda_zero = None
    for (i0, l0), (i1, l1) in zip(pairs, pairs[1:]):
        if i0 < 0.0 <= i1:
            lambda_zero = l0 + (l1 - l0) * (0.0 - i0) / (i1 - i0)
            break
    if lambda_zero is None:
        raise RuntimeError("the pump current did not cross zero between lambda 0.99 and 1.01")
    rich_points = [(ip, lam) for ip, lam in pairs if ip < 0.0 and lam < lambda_zero]

    # Pressure: Ip(p)/Ip(p0) = [p/(k+p)][(k+p0)/p0]  ->  k = p p0 (1 - r) / (r p0 - p).
    ratio = ip_high / ip_probe
    k_kpa = HIGH_KPA * P0_KPA * (1.0 - ratio) / (ratio * P0_KPA - HIGH_KPA)

    # Temperature: the same gas with the cell held colder.
    cold = settings.changed(heater__target_temp_c=LOW_TEMP_C)
    (ip_cold, temp_cold_c), = _plateau_means(element, cold, [{"lambda": PROBE_LAMBDA}], seed, clock, base, unit)
    exponent = math.log(ip_probe / ip_cold) / math.log((temp_ref_c + 273.15) / (temp_cold_c + 273.15))

    return {"ip_a": [round(ip, 9) for ip, _ in rich_points] + [0.0],
            "lambda": [lam for _, lam in rich_points] + [round(lambda_zero, 5)],
            "ip_air_a": round(ip_air, 9), "pressure_k_kpa": round(k_kpa, 2),
            "temp_exponent": round(exponent, 4), "reference_temp_c": round(temp_ref_c, 1),
            "bench": {"element": element, "unit": unit, "seed": seed, "gas": "gasoline, 350 °C, 10 m/s",
                      "plateau_s": PLATEAU_S, "average_s": AVERAGE_S}}


def calibration_toml(result: dict) -> str:
    def numbers(values) -> str:
        return "[" + ", ".join(repr(v) for v in values) + "]"

    bench = result["bench"]
    unit = "" if bench.get("unit") is None else f" --unit {bench['unit']}"
    lines = ["[calibration]",
             f"# Gas bench (`lambdarig calibrate {bench['element']}{unit}`): firmware pump loop in known gases,",
             f"# {bench['gas']}, {bench['plateau_s']} s plateaus averaged over their last {bench['average_s']} s.",
             f"ip_a = {numbers(result['ip_a'])}",
             f"lambda = {numbers(result['lambda'])}",
             f"ip_air_a = {result['ip_air_a']!r}",
             f"pressure_k_kpa = {result['pressure_k_kpa']!r}",
             f"temp_exponent = {result['temp_exponent']!r}",
             f"reference_temp_c = {result['reference_temp_c']!r}", ""]
    return "\n".join(lines)


def with_calibration(profile_text: str, result: dict) -> str:
    """The profile file's text with its [calibration] section replaced (or added at the end)."""
    head = ("\n" + profile_text).split("\n[calibration]\n")[0].strip() + "\n\n"
    return head + calibration_toml(result)


# --- mixed-potential HC elements ---------------------------------------------------------------------

# The bench's HC levels (C3H6 in lean exhaust): the firmware's log-linear curve (controller/hc_curve.py)
# is fitted over these and trusted only between the lowest and the highest.
HC_LEVELS_PPM = (100.0, 200.0, 500.0, 1000.0, 2000.0)
HC_LAMBDA = 1.5
HC_COLD_OFFSET_C = -30.0


def _hc_bench(element: str, settings: Settings, steps: list[dict], seed: int, pump: bool = True,
              lam="air", clock: BenchClock | None = None, base: str | None = None,
              unit: int | None = None) -> list[tuple[float, float, float]]:
    """Warm up (in `lam`), then plateaus; per plateau the mean (control-cell voltage, measuring minus
    control voltage, cell temperature)."""
    at = [dict(step, t_s=WARM_UP_S + i * PLATEAU_S) for i, step in enumerate(steps)]
    duration = WARM_UP_S + max(len(steps), 1) * PLATEAU_S
    scenario = scenario_from_dict({"name": "hc gas bench", "duration_s": duration, "gas_temp_c": 350.0,
                                   "flow_mps": 10.0, "lambda": lam, "seed": seed, "at": at}, "hc gas bench")
    frontend = open_frontend(_sim_address(element, unit), scenario=scenario)
    controller = Controller(settings, _runnable_profile(base or element))
    if not pump:
        controller.uses_pump = False   # the bench's own switch: no pump current at all
    samples = []
    Runtime(frontend, controller, [lambda st, _t: samples.append(
        (st.t_s, st.nernst_v, controller._hc_delta_v, st.temp_c)), *(clock.sinks() if clock else [])]).run(duration)
    if clock:
        clock.ran(duration)
    means = []
    for i in range(max(len(steps), 1)):
        end = WARM_UP_S + (i + 1) * PLATEAU_S
        window = [row[1:] for row in samples if end - AVERAGE_S <= row[0] < end]
        nernst_v, delta_v, temp_c = (statistics.fmean(column) for column in zip(*window))
        means.append((nernst_v, delta_v, temp_c))
    return means


def calibrate_hc(element: str, seed: int = 0, progress: Callable[[float, float], None] | None = None,
                 base: str | None = None, unit: int | None = None) -> dict:
    """The hc.* settings of the firmware's HC curve, from a gas bench on `element` (unit `unit` of its
    production spread; None: the nominal element)."""
    settings = settings_for_element(base or element)
    clock = BenchClock(bench_s(0) + 2 * bench_s(len(HC_LEVELS_PPM)), progress)
    # 1. Free-air zero: no pump current, the compartment is air, like the reference: the control
    #    cell should read 0 V; what it reads is the board's and cell's offset.
    (air_v, _, _), = _hc_bench(element, settings, [], seed, pump=False, clock=clock, base=base, unit=unit)
    settings = settings.changed(hc__control_offset_mv=air_v * 1000.0)
    levels = [{"hc_ppm": ppm} for ppm in HC_LEVELS_PPM]
    # 2. HC levels at lambda 1.5 with the compartment held: the line at the operating temperature.
    means = _hc_bench(element, settings, levels, seed, lam=HC_LAMBDA, clock=clock, base=base, unit=unit)
    e100, slope = hc_curve.fit_line(HC_LEVELS_PPM, [dv * 1000.0 for _, dv, _ in means])
    ref_temp_c = statistics.fmean(tc for _, _, tc in means)
    # 3. The same levels with the cell 30 °C cooler: how the line moves with temperature.
    cold = settings.changed(heater__target_temp_c=settings.heater.target_temp_c + HC_COLD_OFFSET_C)
    cold_means = _hc_bench(element, cold, levels, seed, lam=HC_LAMBDA, clock=clock, base=base, unit=unit)
    cold_e100, cold_slope = hc_curve.fit_line(HC_LEVELS_PPM, [dv * 1000.0 for _, dv, _ in cold_means])
    span_k = ref_temp_c - statistics.fmean(tc for _, _, tc in cold_means)
    return {"hc.control_offset_mv": round(air_v * 1000.0, 3), "hc.calibrated": True,
            "hc.e100_mv": round(e100, 3), "hc.slope_mv_per_decade": round(slope, 3),
            "hc.e100_temp_mv_per_k": round((e100 - cold_e100) / span_k, 5),
            "hc.slope_temp_mv_per_decade_k": round((slope - cold_slope) / span_k, 5),
            "hc.ref_temp_c": round(ref_temp_c, 1), "hc.min_ppm": HC_LEVELS_PPM[0], "hc.max_ppm": HC_LEVELS_PPM[-1]}


def toml_scalar(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else repr(value)


def with_hc_settings(profile_text: str, values: dict) -> str:
    """The profile text with the hc.* lines of its [settings] table replaced by `values`."""
    note = ("# HC curve from `lambdarig calibrate hc-mixed`: free-air zero, then HC levels at lambda 1.5 "
            "(log-linear, controller/hc_curve.py).")
    lines = [line for line in profile_text.rstrip().splitlines() if not line.startswith(("hc.", note))]
    if "[settings]" not in lines:
        lines += ["", "[settings]"]
    lines += [note] + [f"{key} = {toml_scalar(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"
