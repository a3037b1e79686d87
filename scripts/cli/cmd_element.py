"""`lambdarig element`: an element's steady state with its pump loop holding the Nernst target."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import replace

from lambdarig.common import validators as check
from lambdarig.common.validators import Place
from lambdarig.emulator.ageing import check_age_h, individual_spec
from lambdarig.emulator.element_spec import ElementSpec, element_names, element_summary, load_element
from lambdarig.emulator.errors import EmulatorInputError
from lambdarig.emulator.fuels import Fuel, parse_fuel
from lambdarig.emulator.production import check_unit, corrected_gain, unit_values
from lambdarig.emulator.scenario import RAW_CO_RANGE_PCT
from lambdarig.emulator.steady import SteadyState, steady_state

from .element_table import MAX_POINTS, format_grid, split_list

SOURCE = "command line"
# Same ranges as scenario files, so what works here works in a scenario.
LAMBDA_RANGE = (0.4, 100.0)
PRESSURE_KPA_RANGE = (20.0, 400.0)
TEMP_C_RANGE = (300.0, 1100.0)
HC_PPM_RANGE = (0.0, 20000.0)
GAS_TEMP_C_RANGE = (-40.0, 1100.0)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "element", help="show an element's steady state at fixed conditions",
        description="Steady state of a sensor element with an ideal pump loop holding its Nernst target.")
    parser.add_argument("name", nargs="?", metavar="NAME",
                        help="element name (see --list) or path to an element .toml file")
    parser.add_argument("--list", action="store_true", help="list the known elements and exit")
    # Numbers are taken as text and checked here, so errors name the option and its range.
    parser.add_argument("--lambda", dest="lambda_text", default="1.0", metavar="X[,X...]",
                        help=f"lambda {_span(LAMBDA_RANGE)} or 'air' (default 1.0); a comma list prints a table")
    parser.add_argument("--pressure-kpa", default="101.325", metavar="P",
                        help=f"exhaust pressure, kPa, {_span(PRESSURE_KPA_RANGE)} (default 101.325)")
    parser.add_argument("--temp-c", default=None, metavar="T[,T...]",
                        help=f"element temperature, °C, {_span(TEMP_C_RANGE)} (default: its operating "
                             "temperature); a comma list prints a table")
    parser.add_argument("--fuel", default="gasoline", metavar="F",
                        help="named fuel or custom:h_c=Y,o_c=Z (default gasoline)")
    parser.add_argument("--hc-ppm", default="0", metavar="N",
                        help=f"unburnt hydrocarbons, ppm, {_span(HC_PPM_RANGE)} (default 0)")
    parser.add_argument("--gas-temp-c", default="20", metavar="G",
                        help=f"gas temperature for the heater power, °C, {_span(GAS_TEMP_C_RANGE)} "
                             "(default 20)")
    parser.add_argument("--raw-co-pct", default="0", metavar="X",
                        # argparse %-formats help texts: a literal percent sign is written %%.
                        help=f"raw exhaust: CO left unburnt next to O2, wet %% at lambda 1, {_span(RAW_CO_RANGE_PCT)} "
                             "(default 0: equilibrated gas)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override an element-file value for a what-if run (repeatable)")
    add_unit_options(parser)
    parser.add_argument("--list-units", default=None, metavar="N",
                        help="list units 0..N-1 of the element: what each drew and its trim resistor (1..10000)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object; each key names its unit (_a, _v, _ohm, _w, _c, _kpa, _pct, "
                             "_bar, _ppm); lambda_value and afr are the text \"air\" in air")
    parser.set_defaults(func=run)


def _span(bounds: tuple[float, float]) -> str:
    return f"{bounds[0]:g}..{bounds[1]:g}"


def add_unit_options(parser: argparse.ArgumentParser, repeatable: bool = False) -> None:
    """--unit N and --age-h H: one individual sensor (emulator/production.py, emulator/ageing.py);
    repeatable: once for all elements or once per --element, in the same order."""
    each = "; with several --element, once for all or once per element, in the same order" if repeatable else ""
    action = "append" if repeatable else "store"
    parser.add_argument("--unit", default=None, metavar="N", action=action,
                        help="production unit N, drawn reproducibly from the element's tolerance section "
                             f"(integer >= 0; default: the nominal element){each}")
    parser.add_argument("--age-h", default=None, metavar="H", action=action,
                        help=f"operating hours the element has aged by (default 0: new){each}")


def parse_unit(text: str | None) -> int | None:
    return check_unit(text, SOURCE, "--unit")


def parse_age_h(text: str | None) -> float:
    return 0.0 if text is None else check_age_h(text, SOURCE, "--age-h")


def option(name: str) -> Place:
    return Place(SOURCE, name, EmulatorInputError)


def parse_number(text: str, name: str, lo: float, hi: float, unit: str = "") -> float:
    return check.number_text(text, option(name), lo, hi, unit)


def parse_lambda(text: str) -> float:
    if text.strip().lower() == "air":
        return math.inf
    return check.number_text(text, option("--lambda"), *LAMBDA_RANGE, also=" or 'air'")


def list_elements() -> int:
    names = element_names()
    width = max(len(name) for name in names)
    for name in names:
        print(f"{name:<{width}}  {element_summary(name)}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.list:
        return list_elements()
    if not args.name:
        raise option("NAME").refuse("give an element name or --list", allowed=", ".join(element_names()))
    if args.list_units is not None:
        return list_units(args)
    # Check every value before loading anything, so a bad option fails fast and prints nothing.
    lambdas = [parse_lambda(text) for text in split_list(args.lambda_text)]
    pressure_kpa = parse_number(args.pressure_kpa, "--pressure-kpa", *PRESSURE_KPA_RANGE, unit="kPa")
    temps: list[float | None] = [None] if args.temp_c is None else [
        parse_number(text, "--temp-c", *TEMP_C_RANGE, unit="°C") for text in split_list(args.temp_c)]
    if len(lambdas) * len(temps) > MAX_POINTS:
        raise option("--lambda").refuse(f"{len(lambdas)} lambdas x {len(temps)} temperatures is "
                                        f"{len(lambdas) * len(temps)} points", allowed=f"at most {MAX_POINTS} points")
    if len(lambdas) > 1 or len(temps) > 1:
        return run_grid(args, lambdas, temps, pressure_kpa)
    lambda_value, temp_c = lambdas[0], temps[0]
    hc_ppm = parse_number(args.hc_ppm, "--hc-ppm", *HC_PPM_RANGE, unit="ppm")
    gas_temp_c = parse_number(args.gas_temp_c, "--gas-temp-c", *GAS_TEMP_C_RANGE, unit="°C")
    fuel, raw_co_pct = parse_fuel_options(args)
    spec = individual_spec(load_element(args.name, args.overrides), parse_unit(args.unit), parse_age_h(args.age_h))
    state = solve(spec, fuel, lambda_value, temp_c, pressure_kpa, hc_ppm, gas_temp_c)
    temp_c = state.temp_c
    afr = None if math.isinf(lambda_value) else lambda_value * fuel.afr_stoich
    if args.json:
        data = state.as_dict()
        data.update(afr="air" if afr is None else afr, afr_stoich=fuel.afr_stoich, gas_temp_c=gas_temp_c,
                    hc_ppm=hc_ppm, raw_co_pct=raw_co_pct, **individual(spec))
        print(json.dumps(data, allow_nan=False))
    else:
        print(format_table(state, afr, fuel.afr_stoich, gas_temp_c))
        print(format_individual(spec, gas_temp_c))
    return 0


def list_units(args: argparse.Namespace) -> int:
    """Units 0..N-1: the drawn values, the trim resistor and the gain a controller reads through the
    trim law Ip·R_t/(R_t + R_shunt) (1 = the data-sheet characteristic)."""
    count = int(check.integer_text(args.list_units, option("--list-units"), 1, 10000))
    age_h = parse_age_h(args.age_h)
    nominal = load_element(args.name, args.overrides)
    shunt_ohm = nominal.tolerance.trim_shunt_ohm if nominal.tolerance else 61.9
    rows = []
    for unit in range(count):
        spec = individual_spec(nominal, unit, age_h)
        drawn = unit_values(nominal, unit)
        gain = drawn.get("ip_gain", 1.0) * math.exp(-nominal.ageing.ip_gain_loss_per_1000h * age_h / 1000.0
                                                    if nominal.ageing else 0.0)
        read = gain if spec.trim_ohm is None else corrected_gain(gain, spec.trim_ohm, shunt_ohm)
        rows.append({"unit": unit, **drawn, "trim_ohm": spec.trim_ohm, "read_gain": read})
    if args.json:
        print(json.dumps({"element": nominal.name, "age_h": age_h, "units": rows}, allow_nan=False))
        return 0
    columns = ["unit", *[k for k in rows[0] if k not in ("unit", "trim_ohm", "read_gain")], "trim_ohm", "read_gain"]
    print(f"{nominal.name}: units 0..{count - 1}, aged {age_h:g} h (ip_gain as drawn new); read_gain = the aged "
          "unit's Ip read through the trim law / "
          "data sheet")
    print("  ".join(f"{c:>17}" for c in columns))
    for row in rows:
        print("  ".join(f"{'none' if row[c] is None else format(row[c], '.5g'):>17}" for c in columns))
    return 0


def individual(spec: ElementSpec) -> dict[str, object]:
    """Which sensor this is: unit, age, trim resistor, the drawn values and the exhaust limits."""
    data: dict[str, object] = {"unit": spec.unit, "age_h": spec.age_h, "trim_ohm": spec.trim_ohm,
                               "drawn": {} if spec.unit is None else unit_values(spec, spec.unit)}
    if spec.exhaust_limits is not None:
        data.update(exhaust_limit_c=spec.exhaust_limits.continuous_c,
                    exhaust_limit_short_c=spec.exhaust_limits.short_c)
    return data


def format_individual(spec: ElementSpec, gas_temp_c: float) -> str:
    which = "nominal (the data-sheet element)" if spec.unit is None else f"unit {spec.unit}"
    trim = ("none" if spec.trim_ohm is None else f"{spec.trim_ohm:g} ohm (pin 5 IA, parallel to the 61.9 ohm shunt)")
    lines = [f"  sensor: {which}, aged {spec.age_h:g} h", f"  trim resistor: {trim}"]
    if spec.unit is not None:
        for name, value in unit_values(spec, spec.unit).items():
            lines.append(f"  drawn {name}: {value:.4g}")
    limits = spec.exhaust_limits
    if limits is not None and gas_temp_c > limits.continuous_c:
        lines.append(f"  exhaust {gas_temp_c:g} °C: above the continuous limit {limits.continuous_c:g} °C "
                     f"(short time only, up to {limits.short_c:g} °C)")
    if gas_temp_c > spec.operating_temp_c:
        lines.append(f"  heater off: the exhaust holds the element above its {spec.operating_temp_c:g} °C target")
    return "\n".join(lines)


def parse_fuel_options(args: argparse.Namespace) -> tuple[Fuel, float]:
    """--fuel with --raw-co-pct (unburnt CO of raw, not equilibrated, exhaust)."""
    fuel = parse_fuel(args.fuel, f"{SOURCE} --fuel")
    raw_co_pct = parse_number(args.raw_co_pct, "--raw-co-pct", *RAW_CO_RANGE_PCT, unit="%")
    if raw_co_pct:
        fuel = replace(fuel, raw_co_pct=raw_co_pct)
    return fuel, raw_co_pct


def solve(spec, fuel, lambda_value: float, temp_c: float | None, pressure_kpa: float, hc_ppm: float,
          gas_temp_c: float) -> SteadyState:
    """One steady state; the refusals name the option (or the conditions) and what is allowed."""
    limit_c = spec.exhaust_limits.short_c if spec.exhaust_limits else GAS_TEMP_C_RANGE[1]
    if gas_temp_c > limit_c:
        raise option("--gas-temp-c").refuse(f"{gas_temp_c:g} °C is above {spec.name}'s short-time exhaust limit",
                                            allowed=f"at most {limit_c:g} °C")
    if temp_c is None:
        # Exhaust hotter than the element's target: with the heater off the element settles at the
        # gas temperature (convection and radiation to a wall at gas temperature), above its target.
        temp_c = max(spec.operating_temp_c, gas_temp_c)
    elif gas_temp_c > temp_c:
        raise option("--gas-temp-c").refuse(f"{gas_temp_c:g} °C is above the element temperature {temp_c:g} °C; "
                                            "the heater can only heat", allowed=f"at most {temp_c:g} °C")
    try:
        return steady_state(spec, fuel, lambda_value, pressure_kpa=pressure_kpa, temp_c=temp_c,
                            hc_ppm=hc_ppm, gas_temp_c=gas_temp_c)
    except EmulatorInputError:
        raise
    except (ArithmeticError, ValueError) as exc:
        # Valid values each, but a combination the model has no steady state for (e.g. an element so
        # cold that the reference pump current alone drives the Nernst cell past its target).
        lam = "air" if math.isinf(lambda_value) else f"{lambda_value:g}"
        raise option("conditions").refuse(f"no steady state for {spec.name} at lambda {lam}, "
                                          f"{temp_c:g} °C, {pressure_kpa:g} kPa, {hc_ppm:g} ppm HC: {exc}") from None


def run_grid(args: argparse.Namespace, lambdas: list[float], temps: list[float | None], pressure_kpa: float) -> int:
    """Every temperature x every lambda: a table (or JSON rows), each point solved like one."""
    hc_ppm = parse_number(args.hc_ppm, "--hc-ppm", *HC_PPM_RANGE, unit="ppm")
    gas_temp_c = parse_number(args.gas_temp_c, "--gas-temp-c", *GAS_TEMP_C_RANGE, unit="°C")
    fuel, _ = parse_fuel_options(args)
    spec = individual_spec(load_element(args.name, args.overrides), parse_unit(args.unit), parse_age_h(args.age_h))
    states = [solve(spec, fuel, lam, temp, pressure_kpa, hc_ppm, gas_temp_c) for temp in temps for lam in lambdas]
    if args.json:
        rows = []
        for state in states:
            data = state.as_dict()
            afr = None if math.isinf(state.lambda_value) else state.lambda_value * fuel.afr_stoich
            data.update(afr="air" if afr is None else afr, afr_stoich=fuel.afr_stoich, gas_temp_c=gas_temp_c,
                        hc_ppm=hc_ppm)
            rows.append(data)
        print(json.dumps(rows, allow_nan=False))
    else:
        print(format_grid(states, fuel.afr_stoich, f"{spec.name}: {states[0].fuel}, {pressure_kpa:g} kPa, "
                                                  f"{hc_ppm:g} ppm HC, heater power in still gas at {gas_temp_c:g} °C"))
    return 0


def format_table(state: SteadyState, afr: float | None, afr_stoich: float, gas_temp_c: float) -> str:
    lam = "air" if math.isinf(state.lambda_value) else f"{state.lambda_value:g}"
    rows = [
        ("pump current", f"{state.pump_current_a * 1e3:.4f}", "mA"),
        ("Nernst voltage", f"{state.nernst_v * 1e3:.1f}", "mV"),
        ("Nernst EMF", f"{state.nernst_emf_v * 1e3:.1f}", "mV"),
        ("Ri (Nernst ESR)", f"{state.ri_ohm:.1f}", "ohm"),
        ("O2", f"{state.o2_pct:.2f}", "%"),
        (f"heater power (still gas {gas_temp_c:g} °C)", f"{state.heater_power_w:.2f}", "W"),
        ("heater voltage needed", f"{state.heater_v:.2f}", "V"),
        ("pump voltage needed", f"{state.pump_v:.3f}", "V"),
        ("AFR stoichiometric", f"{afr_stoich:.2f}", ""),
        ("AFR", "air" if afr is None else f"{afr:.2f}", ""),
    ]
    if state.has_measuring_cell:
        # Mixed-potential (hc) elements: the Nernst rows are the control cell (inner pumping
        # electrode vs reference), which the pump loop holds; the measuring cell reads below it
        # by the mixed-potential shift.
        rows[3:3] = [
            ("measuring-cell voltage (sense)", f"{state.sense_v * 1e3:.1f}", "mV"),
            ("measuring-cell EMF", f"{state.sense_emf_v * 1e3:.1f}", "mV"),
            ("sense - Nernst (mixed potential)", f"{(state.sense_v - state.nernst_v) * 1e3:.2f}", "mV"),
            ("compartment O2", f"{state.node_o2_pct:.3f}", "%"),
            ("compartment HC", f"{state.node_hc_ppm:.1f}", "ppm"),
            ("compartment CO", f"{state.node_co_ppm:.1f}", "ppm"),
            ("compartment H2", f"{state.node_h2_ppm:.1f}", "ppm"),
        ]
    label_width = max(len(label) for label, _, _ in rows)
    value_width = max(len(value) for _, value, _ in rows)
    header = (f"{state.element}: lambda {lam}, {state.fuel}, {state.pressure_kpa:g} kPa, "
              f"{state.temp_c:g} °C")
    lines = [header] + [f"  {label:<{label_width}}  {value:>{value_width}} {unit}".rstrip()
                        for label, value, unit in rows]
    from lambdarig.emulator.board import BoardSpec
    compliance_v = BoardSpec().pump_compliance_v
    if abs(state.pump_v) > compliance_v:
        # The ideal pump loop drives any voltage; a board cannot (a cold cell's Ri of ~1 Mohm).
        lines.append(f"  note: no board holds this point: the pump cell needs {state.pump_v:.3g} V, beyond the "
                     f"bench board's {compliance_v:g} V compliance (a steady state of the ideal pump loop)")
    return "\n".join(lines)
