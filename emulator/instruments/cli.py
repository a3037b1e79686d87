"""`lambdarig serve instruments`: run an emulated station until SIGINT/SIGTERM (or --duration), with
a station file pointing at it; on the way out every output is turned off."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from lambdarig.common import validators as check
from lambdarig.common.file_out import check_output_file
from lambdarig.common.validators import Place
from lambdarig.protocol.instrument_models import ROLE_MODELS, ROLES
from lambdarig.protocol.station import LOOP_HZ_RANGE

from ..ageing import check_age_h, individual_spec
from ..element_spec import load_element
from ..errors import EmulatorInputError
from ..production import check_unit
from ..scenario import load_scenario
from .station import InstrumentStation

SERVE_SOURCE = "serve instruments"
# InstrumentStation's keyword -> the option that gave it (so a refusal names what the user typed).
STATION_OPTIONS = {"heater_channel": "--heater-channel", "pump_model": "--pump-model",
                   "heater_model": "--heater-model", "nernst_model": "--nernst-model",
                   "analog_out_model": "--analog-out-model", "analog_out_channel": "--analog-out-channel",
                   "trim_model": "--trim-model", "pressure_model": "--pressure-model"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Emulated SCPI instruments on 127.0.0.1 (pump SMU, heater supply, Nernst SMU or meter), "
                          "all driven by one emulated element in real time, and a station file pointing at them. "
                          "Runs until Ctrl-C / SIGTERM, then turns the outputs off.")
    parser.add_argument("--element", default="lsu49", metavar="NAME",
                        help="emulated element: name (see `lambdarig element --list`) or .toml path (default lsu49)")
    parser.add_argument("--scenario", default="default", metavar="NAME|FILE",
                        help="built-in scenario name or scenario .toml file (default: default); its last values "
                             "hold after it ends")
    parser.add_argument("--station-out", default="station.toml", metavar="FILE",
                        help="station file to write (default: station.toml); an existing file is kept "
                             "unless --force")
    parser.add_argument("--force", action="store_true", help="replace an existing station file")
    parser.add_argument("--seed", default=None, metavar="N", help="noise seed, integer >= 0 (default: the scenario's)")
    parser.add_argument("--pump-model", default="keithley2400", choices=ROLE_MODELS["pump"],
                        help="pump SMU (default keithley2400)")
    parser.add_argument("--heater-model", default="rigol_dp832", choices=ROLE_MODELS["heater"],
                        help="heater supply (default rigol_dp832)")
    parser.add_argument("--heater-channel", default=None, type=int, metavar="N",
                        help="supply channel wired to the heater (default: CH1 on the DP832, 2 on the Keysights)")
    parser.add_argument("--nernst-model", default="keithley2450", choices=(*ROLE_MODELS["nernst"], "none"),
                        help="instrument on the Nernst cell, or none (default keithley2450)")
    parser.add_argument("--analog-out-model", default="none", choices=(*ROLE_MODELS["analog_out"], "none"),
                        help="supply whose channel reads the controller's analog output 1 (the optional "
                             "analog_out role), or none (default none)")
    parser.add_argument("--analog-out-channel", default=None, type=int, metavar="N",
                        help="the analog_out supply's channel (default: CH1 on the DP832, 2 on the Keysights)")
    parser.add_argument("--trim-model", default="none", choices=(*ROLE_MODELS["trim"], "none"),
                        help="DMM across the sensor's trim resistor (2-wire ohms, read once at connect), or none "
                             "(default none)")
    parser.add_argument("--pressure-model", default="none", choices=(*ROLE_MODELS["pressure"], "none"),
                        help="DMM on an exhaust-pressure transducer (0.5 V + 100 kPa/V, absolute), or none "
                             "(default none)")
    parser.add_argument("--loop-hz", default="50", metavar="HZ",
                        help="loop rate written into the station file (default 50)")
    parser.add_argument("--port", action="append", default=[], metavar="ROLE=PORT",
                        help="fixed port for a role (pump, heater, nernst, analog_out, trim, pressure); repeatable "
                             "(default: ephemeral ports)")
    parser.add_argument("--no-noise", action="store_true", help="readings without noise")
    parser.add_argument("--duration", default=None, metavar="S",
                        help="stop by itself after S seconds (default: run until stopped)")
    parser.add_argument("--unit", default=None, metavar="N",
                        help="production unit N of the element (integer >= 0; default: the nominal element)")
    parser.add_argument("--age-h", default=None, metavar="H",
                        help="operating hours the element has aged by (default 0)")


def _option(name: str) -> Place:
    return Place(SERVE_SOURCE, name, EmulatorInputError)


def _parse_ports(entries: list[str]) -> dict[str, int]:
    ports: dict[str, int] = {}
    for entry in entries:
        role, sep, port = entry.partition("=")
        role = role.strip().lower()
        if not sep:
            raise _option("--port").refuse(f"{entry!r} is not ROLE=PORT", allowed=f"ROLE=PORT, ROLE one of "
                                                                                 f"{', '.join(ROLES)}")
        check.choice(role, _option("--port"), ROLES, what="role")
        ports[role] = check.integer_text(port, _option(f"--port {role}="), 1, 65535)
    return ports


def serve(args: argparse.Namespace) -> int:
    seed = None if args.seed is None else check.integer_text(args.seed, _option("--seed"), 0)
    loop_hz = check.number_text(args.loop_hz, _option("--loop-hz"), *LOOP_HZ_RANGE, "Hz")
    duration = (None if args.duration is None
                else check.number_text(args.duration, _option("--duration"), 0.0, 86400.0 * 365, "s"))
    ports = _parse_ports(args.port)
    # Refused before anything starts: a directory, a device, a missing folder, an existing file
    # without --force. (What only the write can tell, a read-only place or a full disk, is refused
    # by the write itself, after which the servers stop.)
    out = check_output_file(args.station_out, _option("--station-out"), overwrite=args.force)
    unit = check_unit(args.unit, SERVE_SOURCE, "--unit")
    age_h = 0.0 if args.age_h is None else check_age_h(args.age_h, SERVE_SOURCE, "--age-h")
    scenario = load_scenario(args.scenario)
    element = individual_spec(load_element(args.element), unit, age_h)
    try:
        station = InstrumentStation(element, scenario, scenario.seed if seed is None else seed,
                                    pump_model=args.pump_model, heater_model=args.heater_model,
                                    nernst_model=args.nernst_model, ports=ports, heater_channel=args.heater_channel,
                                    noise=not args.no_noise, analog_out_model=args.analog_out_model,
                                    analog_out_channel=args.analog_out_channel, trim_model=args.trim_model,
                                    pressure_model=args.pressure_model)
    except EmulatorInputError as exc:
        if exc.source == "InstrumentStation" and exc.field in STATION_OPTIONS:
            raise exc.replace(source=SERVE_SOURCE, field=STATION_OPTIONS[exc.field]) from None
        raise

    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: stop.set())
    try:
        try:
            station.start()
        except OSError as exc:
            raise _option("--port").refuse(str(exc), allowed="a free port, or none for ephemeral ports") from None
        path = station.write_station_file(out, loop_hz, overwrite=args.force, at=_option("--station-out"),
                                          replace_hint="--force")
        print(f"lambdarig serve instruments: element {station.spec.name}, scenario {scenario.name}, "
              f"seed {station.seed}, real time")
        for role, instrument in station.instruments.items():
            extra = f" {station.heater.wired_channel.name}" if role == "heater" else ""
            if role == "analog_out" and station.analog_out is not None:
                extra = f" {station.analog_out.wired_channel.name}"
            print(f"  {role:<7} {instrument.model_key + extra:<22} {station.resource(role)}")
        print(f"station file: {path.resolve()}")
        print("serving; Ctrl-C to stop" if duration is None else f"serving for {duration:g} s")
        sys.stdout.flush()
        stop.wait(duration)
        return 0
    finally:
        station.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if station.physics_error is not None:
            print(f"lambdarig serve instruments: physics error during the run: {station.physics_error}",
                  file=sys.stderr)
        print("stopped: outputs off")
        sys.stdout.flush()
