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

from controller.core import Controller
from controller.profiles import SensorProfile, load_profile, settings_for_element
from controller.runtime import Runtime
from controller.settings import Settings
from emulator.scenario import scenario_from_dict
from hal.registry import open_frontend

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


def _plateau_means(element: str, settings: Settings, steps: list[dict], seed: int) -> list[tuple[float, float]]:
    """Run warm-up + plateaus; return (mean measured pump current, mean cell temperature) per plateau."""
    at = [dict(step, t_s=WARM_UP_S + i * PLATEAU_S) for i, step in enumerate(steps)]
    duration = WARM_UP_S + len(steps) * PLATEAU_S
    scenario = scenario_from_dict({"name": "gas bench", "duration_s": duration, "gas_temp_c": 350.0,
                                   "flow_mps": 10.0, "lambda": 1.0, "seed": seed, "at": at}, "gas bench")
    frontend = open_frontend(f"sim:{element}", scenario=scenario)
    controller = Controller(settings, _runnable_profile(element))
    samples: list[tuple[float, float, float]] = []
    Runtime(frontend, controller, [lambda st, _t: samples.append((st.t_s, st.pump_current_a, st.temp_c))]).run(duration)
    means = []
    for i in range(len(steps)):
        end = WARM_UP_S + (i + 1) * PLATEAU_S
        window = [(ip, tc) for t, ip, tc in samples if end - AVERAGE_S <= t < end]
        means.append((statistics.fmean(ip for ip, _ in window), statistics.fmean(tc for _, tc in window)))
    faults = [e.code for e in controller.events if e.severity == "fault"]
    if faults:
        raise RuntimeError(f"the gas bench saw faults: {faults}")
    return means


def calibrate(element: str, seed: int = 0) -> dict:
    settings = settings_for_element(element, {"sensor.characteristic": "nominal"})
    rich = [{"lambda": lam} for lam in RICH_LAMBDAS + ZERO_LAMBDAS]
    probes = [{"lambda": "air"}, {"lambda": PROBE_LAMBDA}, {"pressure_kpa": HIGH_KPA}, {"pressure_kpa": P0_KPA}]
    means = _plateau_means(element, settings, rich + probes, seed)
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
    (ip_cold, temp_cold_c), = _plateau_means(element, cold, [{"lambda": PROBE_LAMBDA}], seed)
    exponent = math.log(ip_probe / ip_cold) / math.log((temp_ref_c + 273.15) / (temp_cold_c + 273.15))

    return {"ip_a": [round(ip, 9) for ip, _ in rich_points] + [0.0],
            "lambda": [lam for _, lam in rich_points] + [round(lambda_zero, 5)],
            "ip_air_a": round(ip_air, 9), "pressure_k_kpa": round(k_kpa, 2),
            "temp_exponent": round(exponent, 4), "reference_temp_c": round(temp_ref_c, 1),
            "bench": {"element": element, "seed": seed, "gas": "gasoline, 350 °C, 10 m/s",
                      "plateau_s": PLATEAU_S, "average_s": AVERAGE_S}}


def calibration_toml(result: dict) -> str:
    def numbers(values) -> str:
        return "[" + ", ".join(repr(v) for v in values) + "]"

    bench = result["bench"]
    lines = ["[calibration]",
             f"# Gas bench (`lambdarig calibrate {bench['element']}`): firmware pump loop in known gases,",
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
