"""The emulated station: ONE sensor element, stepped in real time, and one emulated SCPI instrument
per role (pump SMU, heater supply, optional Nernst SMU or meter), each on its own TCP server
(one port per instrument, ephemeral by default, bound to a loopback address only).

    with InstrumentStation("lsu49", "default") as station:
        station.write_station_file("station.toml")
        rm = pyvisa.ResourceManager("@py")
        smu = rm.open_resource(station.resource("pump"), read_termination="\\n", write_termination="\\n")

Physics: one `ElementModel` is stepped in wall-clock time by a background thread (1 ms period, steps
of at most 2 ms), and also brought up to the present before every command, so a reading taken right
after a set-point change sees exactly the time that has passed. The world comes from a scenario
(`world_at`, `faults_at`, holding its last values after it ends). What flows is decided by the
wiring (loads.py, supply.py); the Nernst cell's electrode arc R_ct || C_dl (element.arc_r_ohm,
arc_c_f) is a capacitor state integrated here, so a current step read back soon after shows Ri*dI
plus a partly charged arc (ESR by current step, with a bias of R_ct (1 - exp(-t/R_ct C_dl)) after
t seconds). Readings carry seeded Gaussian noise (off with noise=False).

Failure injection for client tests: silence(role), disconnect(role), refuse(role),
error_on_next(role, code), delay(role, seconds). The station file it writes goes through the
station schema's own writer (protocol/station.py), so it is checked as the front end will check it.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from lambdarig.common import validators as check
from lambdarig.common.validators import Place
from lambdarig.protocol.instrument_models import ROLE_MODELS, ROLES, SupplyModel
from lambdarig.protocol.station import ANALOG_OUT_MAX_V, Station, save_station, station_from_dict, station_to_toml

from ..constants import ZERO_C_IN_K
from ..element import ElementModel
from ..element_spec import ElementSpec, load_element
from ..errors import EmulatorInputError
from ..scenario import Scenario, load_scenario
from ..world import Faults
from .keithley2400 import Keithley2400
from .keithley2450 import Keithley2450
from .keysight_34465a import Keysight34465A
from .keysight_e3631a import KeysightE3631A
from .keysight_e36312a import KeysightE36312A
from .line_server import MAX_LINE_BYTES, LineServer, check_loopback
from .loads import NernstCellLoad, PumpCellLoad
from .pressure_transducer import TRANSDUCER_KPA_PER_V, TRANSDUCER_OFFSET_V, PressureTransducerLoad
from .rigol_dp832 import RigolDP832
from .scpi import error_text
from .smu import EmulatedSmu
from .station_instrument import StationInstrument
from .supply import EmulatedSupply
from .trim_meter import TrimMeter

# The emulated model of each catalogue key (tests check the two lists agree).
SMUS: dict[str, type[EmulatedSmu]] = {cls.MODEL.key: cls for cls in (Keithley2400, Keithley2450)}
SUPPLIES: dict[str, type[EmulatedSupply]] = {
    cls.MODEL.key: cls for cls in (RigolDP832, KeysightE36312A, KeysightE3631A)
}
METERS: dict[str, type[Keysight34465A]] = {Keysight34465A.MODEL.key: Keysight34465A}
EMULATED_MODELS: dict[str, type[StationInstrument]] = {**SMUS, **SUPPLIES, **METERS}

DEFAULT_STEP_S = 0.001          # physics thread period
MAX_STEP_S = 0.002              # longest element step
MIN_STEP_S = 20e-6              # shorter catch-ups are left for later
MAX_CATCHUP_STEPS = 500         # a long stall (suspended process) is caught up in coarser steps

# What the written station file asks of the front end.
STATION_TIMEOUT_MS = 200
PUMP_COMPLIANCE_V = 2.5
PUMP_CURRENT_LIMIT_A = 0.01
HEATER_VOLTAGE_LIMIT_V = 13.0
HEATER_CURRENT_LIMIT_A = 3.0
NERNST_REFERENCE_A = 20e-6
NERNST_ESR_STEP_A = 100e-6
NERNST_COMPLIANCE_V = 3.0


@dataclass(slots=True)
class StationTruth:
    """What is really there (emulation only; for tests and benchmarks, never for the controller)."""

    t_s: float
    lambda_value: float
    o2_pct: float
    hc_ppm: float
    temp_c: float              # electrolyte (Nernst cell)
    heater_temp_c: float
    ri_ohm: float              # the cell's true ESR (bulk + grain boundary, without the arc)
    arc_r_ohm: float
    arc_c_f: float
    arc_v: float               # charge on the electrode arc
    nernst_emf_v: float
    pump_current_a: float      # what flows
    ref_current_a: float       # through the Nernst cell
    heater_v: float            # across the heater element
    heater_r_ohm: float
    pressure_kpa: float
    faults: tuple[str, ...] = field(default_factory=tuple)


class InstrumentStation:
    """Emulated SCPI instruments around one element, in real time. See the module docstring."""

    def __init__(self, element: str | ElementSpec = "lsu49", scenario: str | Scenario = "default", seed: int = 0,
                 pump_model: str = "keithley2400", heater_model: str = "rigol_dp832",
                 nernst_model: str | None = "keithley2450", host: str = "127.0.0.1",
                 ports: dict[str, int] | None = None, *, heater_channel: int | None = None, noise: bool = True,
                 step_s: float = DEFAULT_STEP_S, analog_out_model: str | None = None,
                 analog_out_channel: int | None = None, trim_model: str | None = None,
                 pressure_model: str | None = None):
        _check_choice("pump_model", pump_model, ROLE_MODELS["pump"])
        _check_choice("heater_model", heater_model, ROLE_MODELS["heater"])
        if nernst_model in (None, "none", ""):
            nernst_model = None
        else:
            _check_choice("nernst_model", nernst_model, ROLE_MODELS["nernst"])
        if trim_model in (None, "none", ""):
            trim_model = None
        else:
            _check_choice("trim_model", trim_model, ROLE_MODELS["trim"])
        if pressure_model in (None, "none", ""):
            pressure_model = None
        else:
            _check_choice("pressure_model", pressure_model, ROLE_MODELS["pressure"])
        if heater_channel is not None:
            _check_heater_channel(heater_channel, SUPPLIES[heater_model].MODEL)
        if analog_out_model in (None, "none", ""):
            analog_out_model = None
            if analog_out_channel is not None:
                raise Place("InstrumentStation", "analog_out_channel", EmulatorInputError).refuse(
                    f"{analog_out_channel!r}: there is no analog_out supply",
                    allowed="a channel together with an analog_out_model")
        else:
            _check_choice("analog_out_model", analog_out_model, ROLE_MODELS["analog_out"])
            if analog_out_channel is not None:
                _check_heater_channel(analog_out_channel, SUPPLIES[analog_out_model].MODEL, "analog_out_channel")
        self.host = check_loopback(host)
        self.requested_ports = dict(ports or {})
        for role, port in self.requested_ports.items():
            if role not in ROLES:
                raise ValueError(f"ports: unknown role {role!r}; roles: {', '.join(ROLES)}")
            if not isinstance(port, int) or not 0 <= port <= 65535:
                raise ValueError(f"ports: {role} port must be an integer 0..65535, got {port!r}")
        self.spec = element if isinstance(element, ElementSpec) else load_element(element)
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.seed = int(seed)
        self.noise = bool(noise)
        self.step_s = float(step_s)
        self.models = {"pump": pump_model, "heater": heater_model, "nernst": nernst_model,
                       "analog_out": analog_out_model, "trim": trim_model, "pressure": pressure_model}

        self.lock = threading.RLock()
        self.t_s = 0.0
        self._t0: float | None = None
        self.world = self.scenario.world_at(0.0)
        self.faults: Faults = self.scenario.faults_at(0.0)
        self.element = ElementModel(self.spec, self.scenario.fuel, self.world)
        self.arc_v = 0.0
        self.ref_current = 0.0
        self.physics_error: BaseException | None = None

        self.pump = SMUS[pump_model](self, "pump", PumpCellLoad(self))
        self.heater = SUPPLIES[heater_model](self, "heater", heater_channel)
        self._nernst_load = NernstCellLoad(self)
        self.nernst: EmulatedSmu | Keysight34465A | None
        if nernst_model is None:
            self.nernst = None
        elif nernst_model in METERS:
            self.nernst = METERS[nernst_model](self, "nernst", self._nernst_load)
        else:
            self.nernst = SMUS[nernst_model](self, "nernst", self._nernst_load)
        self.instruments: dict[str, StationInstrument] = {"pump": self.pump, "heater": self.heater}
        if self.nernst is not None:
            self.instruments["nernst"] = self.nernst
        # Optional: a supply channel on a high-impedance input, driven with the analog output 1.
        self.analog_out: EmulatedSupply | None = None
        if analog_out_model is not None:
            self.analog_out = SUPPLIES[analog_out_model](self, "analog_out", analog_out_channel, drives_heater=False)
            self.instruments["analog_out"] = self.analog_out
        # Optional: a DMM across the element's trim resistor (2-wire ohms).
        self.trim = TrimMeter(self, "trim") if trim_model is not None else None
        if self.trim is not None:
            self.instruments["trim"] = self.trim
        # Optional: a DMM on an exhaust-pressure transducer's output.
        self.pressure: Keysight34465A | None = None
        if pressure_model is not None:
            self.pressure = METERS[pressure_model](self, "pressure", PressureTransducerLoad(self))  # type: ignore[arg-type]
            self.instruments["pressure"] = self.pressure
        self._servers: dict[str, LineServer] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> InstrumentStation:
        if self._servers:
            raise RuntimeError("the station is already running")
        try:
            for role, instrument in self.instruments.items():
                server = LineServer(partial(self._execute, role), self.host,
                                    self.requested_ports.get(role, 0), name=f"{role}-{instrument.model_key}",
                                    on_overflow=partial(self._too_much_data, role))
                self._servers[role] = server
        except OSError:
            for server in self._servers.values():
                server.stop()
            self._servers = {}
            raise
        with self.lock:
            self._t0 = time.monotonic() - self.t_s
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="station-physics", daemon=True)
        self._thread.start()
        for server in self._servers.values():
            server.start()
        return self

    def stop(self) -> None:
        """Outputs off, servers closed, physics stopped. Safe to call twice."""
        with self.lock:
            for instrument in self.instruments.values():
                instrument.safe_off()
        for server in self._servers.values():
            server.stop()
        self._servers = {}
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        with self.lock:
            if self._t0 is not None:
                self.t_s = max(self.t_s, time.monotonic() - self._t0)
            self._t0 = None

    def __enter__(self) -> InstrumentStation:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return bool(self._servers)

    # -- time and physics ---------------------------------------------------------------------------

    def now(self) -> float:
        """Station (scenario) time, s: wall clock since start()."""
        t0 = self._t0
        return self.t_s if t0 is None else time.monotonic() - t0

    def _run(self) -> None:
        while not self._stop.wait(self.step_s):
            try:
                with self.lock:
                    self._advance_to(self.now())
            except Exception as exc:  # keep serving; report once
                if self.physics_error is None:
                    self.physics_error = exc
                    print(f"lambdarig serve instruments: physics error: {type(exc).__name__}: {exc}", file=sys.stderr)

    def advance(self) -> None:
        with self.lock:
            self._advance_to(self.now())

    def _advance_to(self, t_s: float) -> None:
        remaining = t_s - self.t_s
        if remaining < MIN_STEP_S:
            return
        steps = min(max(1, math.ceil(remaining / MAX_STEP_S - 1e-9)), MAX_CATCHUP_STEPS)
        dt = remaining / steps
        for _ in range(steps):
            self._step(dt)

    def _step(self, dt: float) -> None:
        t = self.t_s
        scenario = self.scenario
        self.world = world = scenario.world_at(t)
        self.faults = scenario.faults_at(t)
        pump_a = self.pump.point().current_a
        ref_a = self.nernst.source_current_a() if isinstance(self.nernst, EmulatedSmu) else 0.0
        self.heater.check_protection()
        heater_v = self.heater.heater_voltage()
        element = self.element
        element.step(dt, world, pump_a, ref_a, heater_v)
        r = element.arc_r_ohm
        tau = r * element.arc_c_f
        if tau > 0.0:
            self.arc_v += (ref_a * r - self.arc_v) * -math.expm1(-dt / tau)
        self.ref_current = ref_a
        self.t_s = t + dt

    def pump_current_a(self) -> float:
        """The pump current flowing now (with the present settings and element state)."""
        return self.pump.point().current_a

    def _execute(self, role: str, line: str) -> str | None:
        instrument = self.instruments[role]
        # Parsing needs no state: outside the lock, so a long or hostile line never holds up the
        # physics or another connection; only the execution of the parsed units takes the lock.
        parsed = instrument.parse(line)
        with self.lock:
            self._advance_to(self.now())
            return instrument.run(parsed)

    def _too_much_data(self, role: str) -> None:
        with self.lock:
            self.instruments[role].push_error(-223, f"{error_text(-223)}; a line longer than {MAX_LINE_BYTES} "
                                                    "bytes was discarded")

    def set_element_temperature(self, temp_c: float, heater_temp_c: float | None = None) -> None:
        """Put the element at a temperature at once (tests: skip the warm-up). The electrode arc is
        settled to the present reference current."""
        with self.lock:
            self._advance_to(self.now())
            element = self.element
            element.cell_temp_k = temp_c + ZERO_C_IN_K
            element.heater_temp_k = (heater_temp_c if heater_temp_c is not None else temp_c) + ZERO_C_IN_K
            self._step(1e-6)
            self.arc_v = self.ref_current * element.arc_r_ohm

    # -- addresses ----------------------------------------------------------------------------------

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.instruments)

    @property
    def ports(self) -> dict[str, int]:
        return {role: server.port for role, server in self._servers.items()}

    def resource(self, role: str) -> str:
        server = self._server(role)
        return f"TCPIP::{server.address[0]}::{server.port}::SOCKET"

    def bound_addresses(self) -> dict[str, tuple[str, int]]:
        return {role: server.address for role, server in self._servers.items()}

    def _server(self, role: str) -> LineServer:
        if role not in self.instruments:
            raise KeyError(f"no {role!r} instrument in this station; roles: {', '.join(self.instruments)}")
        if role not in self._servers:
            raise RuntimeError("the station is not running: call start() first")
        return self._servers[role]

    # -- failure injection --------------------------------------------------------------------------

    def silence(self, role: str, on: bool = True) -> None:
        """The instrument stops answering: what it receives is dropped (nothing runs, reads time out)."""
        self._server(role).silent = bool(on)

    def disconnect(self, role: str) -> None:
        """Close the instrument's open connections (it keeps listening; see refuse())."""
        self._server(role).disconnect()

    def refuse(self, role: str, on: bool = True) -> None:
        """Close every new connection at once (an instrument whose LAN side is gone)."""
        self._server(role).refuse = bool(on)

    def delay(self, role: str, seconds: float) -> None:
        """Wait this long before each reply."""
        self._server(role).delay_s = max(0.0, float(seconds))

    def error_on_next(self, role: str, code: int) -> None:
        """The next command (not *IDN?/*CLS/*ESR?/*STB?/*OPC?/:SYST:ERR?) fails with this SCPI
        error: it is not executed, the error is queued and *ESR? bits set; a query sends no reply."""
        self._server(role)
        with self.lock:
            self.instruments[role].inject_error(code)

    # -- truth and the station file -----------------------------------------------------------------

    def truth(self) -> StationTruth:
        with self.lock:
            self._advance_to(self.now())
            e = self.element
            world = self.world
            return StationTruth(self.t_s, world.lambda_value, e.exhaust_o2_pct, world.hc_ppm, e.temp_c,
                                e.heater_temp_c, e.ri_ohm, e.arc_r_ohm, e.arc_c_f, self.arc_v, e.nernst_emf_v,
                                e.pump_current_a, e.ref_current_a, e.heater_v, e.heater_r_ohm, world.pressure_kpa,
                                self.faults.active())

    def snapshot(self) -> dict:
        with self.lock:
            return {role: inst.snapshot() for role, inst in self.instruments.items()}

    def as_station(self, loop_hz: float = 50.0, source: str = "emulated station") -> Station:
        """The station file's content (protocol/station.py), pointing at the running servers and
        validated as the front end will validate it."""
        if not self._servers:
            raise RuntimeError("the station is not running: start() it before writing the station file")
        link = {"read_termination": "\n", "write_termination": "\n", "timeout_ms": STATION_TIMEOUT_MS}
        wired = self.heater.wired_channel
        data: dict[str, dict[str, object]] = {
            "station": {"name": f"emulated station ({self.spec.name})", "loop_hz": float(loop_hz),
                        "supply_equivalent_v": float(self.scenario.world_at(0.0).supply_v)},
            "pump": {"model": self.models["pump"], "resource": self.resource("pump"), **link,
                     "compliance_v": PUMP_COMPLIANCE_V, "current_limit_a": PUMP_CURRENT_LIMIT_A},
            "heater": {"model": self.models["heater"], "resource": self.resource("heater"),
                       "channel": self.heater.wired + 1, **link,
                       "voltage_limit_v": min(HEATER_VOLTAGE_LIMIT_V, abs(wired.max_voltage_v or wired.min_voltage_v)),
                       "current_limit_a": min(HEATER_CURRENT_LIMIT_A, wired.max_current_a)},
        }
        if self.nernst is not None:
            sources = isinstance(self.nernst, EmulatedSmu)   # a meter sources no current: no ESR
            data["nernst"] = {"model": self.models["nernst"], "resource": self.resource("nernst"), **link,
                              "reference_current_a": NERNST_REFERENCE_A if sources else 0.0,
                              "esr_step_a": NERNST_ESR_STEP_A if sources else 0.0,
                              "compliance_v": NERNST_COMPLIANCE_V}
        if self.analog_out is not None:
            out = self.analog_out.wired_channel
            data["analog_out"] = {"model": self.models["analog_out"], "resource": self.resource("analog_out"),
                                  "channel": self.analog_out.wired + 1, **link,
                                  "voltage_limit_v": min(ANALOG_OUT_MAX_V, out.max_voltage_v)}
        if self.trim is not None:
            data["trim"] = {"model": self.models["trim"], "resource": self.resource("trim"), **link}
        if self.pressure is not None:
            data["pressure"] = {"model": self.models["pressure"], "resource": self.resource("pressure"), **link,
                                "offset_v": TRANSDUCER_OFFSET_V, "kpa_per_v": TRANSDUCER_KPA_PER_V}
        return station_from_dict(data, source)

    def _file_header(self) -> str:
        return ("Written by `lambdarig serve instruments` (emulator/instruments): emulated SCPI instruments\n"
                f"on {self.host}, element {self.spec.name}, scenario {self.scenario.name}, seed {self.seed}.")

    def station_toml(self, loop_hz: float = 50.0) -> str:
        """The station file's text (written by the station schema's own writer)."""
        return station_to_toml(self.as_station(loop_hz), header=self._file_header())

    def write_station_file(self, path: str | os.PathLike[str], loop_hz: float = 50.0, *, overwrite: bool = False,
                           at: Place | None = None, replace_hint: str = "overwrite=True") -> Path:
        """Write the station file (atomically) for the front end to open: visa:PATH. An existing
        file is replaced only with `overwrite`; refusals are StationError (or `at`'s error)."""
        return save_station(self.as_station(loop_hz, source=str(path)), path, header=self._file_header(),
                            overwrite=overwrite, at=at, replace_hint=replace_hint)


def _check_choice(option: str, value: str | None, allowed: tuple[str, ...]) -> None:
    check.choice(value, Place("InstrumentStation", option, EmulatorInputError), allowed, what="model")


def _check_heater_channel(channel: object, model: SupplyModel, option: str = "heater_channel") -> None:
    """A channel the station file may name for the heater or the analog output (not a negative output)."""
    at = Place("InstrumentStation", option, EmulatorInputError)
    allowed = ", ".join(map(str, model.heater_channels))
    if channel in model.refused_channels:
        raise at.refuse(f"{channel}: {model.refused_channels[channel]} ({model.key})", allowed=allowed)
    if check.integer(channel, at) not in model.heater_channels:
        raise at.refuse(f"{channel} is not a heater channel of {model.key}", allowed=allowed)
