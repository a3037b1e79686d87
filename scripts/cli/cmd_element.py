"""`lambdarig element`: an element's steady state with its pump loop holding the Nernst target."""

from __future__ import annotations

import argparse
import json
import math

from lambdarig.common import validators as check
from lambdarig.common.validators import Place
from lambdarig.emulator.element_spec import element_names, element_summary, load_element
from lambdarig.emulator.errors import EmulatorInputError
from lambdarig.emulator.fuels import parse_fuel
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
                        help="lambda %g..%g or 'air' (default 1.0); a comma list prints a table" % LAMBDA_RANGE)
    parser.add_argument("--pressure-kpa", default="101.325", metavar="P",
                        help="exhaust pressure, kPa, %g..%g (default 101.325)" % PRESSURE_KPA_RANGE)
    parser.add_argument("--temp-c", default=None, metavar="T[,T...]",
                        help="element temperature, °C, %g..%g (default: its operating temperature); a comma list "
                             "prints a table" % TEMP_C_RANGE)
    parser.add_argument("--fuel", default="gasoline", metavar="F",
                        help="named fuel or custom:h_c=Y,o_c=Z (default gasoline)")
    parser.add_argument("--hc-ppm", default="0", metavar="N",
                        help="unburnt hydrocarbons, ppm, %g..%g (default 0)" % HC_PPM_RANGE)
    parser.add_argument("--gas-temp-c", default="20", metavar="G",
                        help="gas temperature for the heater power, °C, %g..%g (default 20)" % GAS_TEMP_C_RANGE)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override an element-file value for a what-if run (repeatable)")
    parser.add_argument("--json", action="store_true", help="print one JSON object in SI units")
    parser.set_defaults(func=run)


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
    fuel = parse_fuel(args.fuel, f"{SOURCE} --fuel")
    spec = load_element(args.name, args.overrides)
    state = solve(spec, fuel, lambda_value, temp_c, pressure_kpa, hc_ppm, gas_temp_c)
    temp_c = state.temp_c
    afr = None if math.isinf(lambda_value) else lambda_value * fuel.afr_stoich
    if args.json:
        data = state.as_dict()
        data.update(afr="air" if afr is None else afr, afr_stoich=fuel.afr_stoich, gas_temp_c=gas_temp_c,
                    hc_ppm=hc_ppm)
        print(json.dumps(data, allow_nan=False))
    else:
        print(format_table(state, afr, fuel.afr_stoich, gas_temp_c))
    return 0


def solve(spec, fuel, lambda_value: float, temp_c: float | None, pressure_kpa: float, hc_ppm: float,
          gas_temp_c: float) -> SteadyState:
    """One steady state; the refusals name the option (or the conditions) and what is allowed."""
    temp_c = spec.operating_temp_c if temp_c is None else temp_c
    if gas_temp_c > temp_c:
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
    fuel = parse_fuel(args.fuel, f"{SOURCE} --fuel")
    spec = load_element(args.name, args.overrides)
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
    return "\n".join(lines)
