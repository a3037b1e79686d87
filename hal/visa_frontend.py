"""The visa backend: a lab instrument station (pump SMU, heater supply, optional Nernst SMU or
meter) driven through pyvisa, described by a station file (protocol/station.py, docs/station.md).

URL: ``visa:STATION.toml?visa_library=@py&heater_every=2&esr_every=5&error_every=1``
(``visa:/abs/station.toml`` and ``visa:///abs/station.toml`` too; keyword options win over query keys)

Options:
  ``visa_library``  pyvisa backend, default "@py" (pyvisa-py). Resources are opened by their exact
                    names from the station file; ``list_resources()`` is never called (on "@py" it
                    broadcasts on the network).
  ``heater_every``  measure heater V and I every Nth sample (held in between); default
                    ceil(loop_hz / 25): 2 at 50 Hz, i.e. 25 readings/s
  ``esr_every``     ESR current step every Nth sample (held in between); default ceil(loop_hz / 10)
  ``error_every``   poll one role's :SYST:ERR? every Nth sample, round robin; default 1; 0: never
  ``supply_sense``  "infer" (default): supply_v = supply_equivalent_v, scaled down when the heater
                    supply cannot reach its set-point (see below); "fixed": always supply_equivalent_v
  ``on_compliance`` "flag" (default) or "error": what a pump SMU in compliance does (see below)
  ``nplc``          SMU integration time in power-line cycles, default 0.1

The FrontEnd surface in SCPI (per model in hal/instruments):
  sample()  Nernst: the Nernst instrument's reading (NaN without one). ESR (SMU with esr_step_a > 0,
            excitation on), in ONE program message: read V1 at the reference current; level
            ref + step; read V2; level back to ref. ESR = |V2 - V1| / step, held until the next step; 1e9
            (beyond range, as a board reports a cold cell) when V1 or V2 is at the compliance voltage.
            Pump: one read of the pump SMU -> measured current and voltage (pump_v).
            Heater: supply V and I every ``heater_every`` samples, held in between.
            supply_v: the station's supply_equivalent_v (see supply_sense).
  apply()   pump: the SMU level, validated against the model and pump.current_limit_a (ValueError
            before anything is sent); heater: V = supply_equivalent_v * sqrt(duty), clamped to
            heater.voltage_limit_v, sent when it changed (1 mV resolution); the optional analog_out
            supply channel: the firmware's analog_out1_v, clamped to analog_out.voltage_limit_v, sent
            when it changed (1 mV). A command after safe() switches the outputs on again.
  now()     seconds since the station was opened (time.monotonic from that moment, as the serial
            front end counts from its link's opening): samples, events and progress use it.
  wait_until(t)  sleeps until now() reaches t; False (a late tick, counted) when t passed by > 1 ms.
  safe()    heater, pump, nernst, analog_out in turn: level ramped to 0 in a few steps, output off; then one
            *OPC? per role still answering (a sync point: the shutdown was worked through;
            ``safe_confirmed``). Never raises; bounded by one timeout per role even when an
            instrument stopped answering.

Faults:
  - an instrument that stops answering: its query times out (timeout_ms), one :SYST:ERR? probe
    (timeout_ms again) finds it silent -> LinkLost naming the role and the instrument (*IDN?), after
    at most about 2 x timeout_ms; the outputs are made safe before it propagates;
  - a SCPI error: in setup every set is followed by :SYST:ERR?; in the loop one role's queue is
    polled per sample (error_every); a query refused with an error (no reply, error in the queue)
    is caught by the probe -> FrontEndError naming role, instrument, the error and the command;
  - pump SMU in compliance (2400: status bit of :READ?; 2450: :SOUR:CURR:VLIM:TRIP?):
    on_compliance="flag": the sample carries the truth (pump_v at the compliance voltage, the
    measured current below the set-point, which the controller's pump diagnostics see), the front
    end logs a WARNING naming role and instrument once per episode and records it in
    ``compliance_events``; on_compliance="error": FrontEndError at the first such reading;
  - a supply that drops: visible in the heater V/I readings. With supply_sense="infer", when the
    channel delivers less than 90 % of a set-point >= 1 V while not current-limited, supply_v is
    reported as the voltage it does deliver (capped at supply_equivalent_v): what a board's supply
    would be if the heater at full duty got only that, so the controller's supply diagnostics
    react; the estimate holds 1 s after the last loaded reading, then returns to
    supply_equivalent_v (the heater must be driven to see the supply again).
"""

from __future__ import annotations

import logging
import math
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lambdarig.protocol.station import Station, load_station

from .frontend import FrontEnd
from .instruments import MODELS, SMU, Instrument, Meter, Supply
from .station_identity import check_distinct_instruments, check_distinct_resources
from .types import Command, FrontEndError, FrontEndInfo, LinkLost, Sample
from .visa_options import front_end_options, parse_visa_url

if TYPE_CHECKING:
    from pyvisa import ResourceManager

    from .instruments import SMUReading

log = logging.getLogger("lambdarig.visa")
DriverT = TypeVar("DriverT", bound=Instrument)

LATE_TOLERANCE_S = 0.001
SAG_RATIO = 0.9
SAG_MIN_SET_V = 1.0
SAG_HOLD_S = 1.0
HEATER_RESOLUTION_V = 0.001
NEAR_RAIL = 0.98                 # a Nernst reading this close to the compliance voltage is at the rail
ESR_SATURATED_OHM = 1e9          # ESR "beyond range" (cold or open cell), as the board reports it
ROLE_ORDER = ("pump", "nernst", "heater", "analog_out", "trim", "pressure")
SAFE_ORDER = ("heater", "pump", "nernst", "analog_out")
ANALOG_RESOLUTION_V = 0.001   # the analog-output role's set-point step (a supply's 1 mV)
POLLED_ROLES = ("pump", "heater", "nernst", "analog_out", "pressure")   # error queues popped in turn (trim: once)
# The trim resistor as the firmware accepts it (a 2-wire DMM reading); outside: none (NaN), logged.
# LSU 4.9 trims are tens to a few hundred ohms; 9.9E37 (overload) is an open line.
TRIM_READING_RANGE_OHM = (1.0, 100e3)
TRIM_NPLC = 1.0       # one reading at connect: integrate a whole power-line cycle
# The pressure meter is read at this rate (held in between): the firmware filters live pressure
# over conversion.pressure_filter_s (0.1 s), so 10 readings/s follow it and cost one query in 5 at 50 Hz.
PRESSURE_POLL_HZ = 10.0


class VisaFrontEnd(FrontEnd):
    """A FrontEnd over a lab instrument station. Open with ``open_frontend("visa:station.toml")``."""

    def __init__(self, station: Station, *, name: str | None = None, visa_library: str = "@py",
                 heater_every: int | None = None, esr_every: int | None = None, error_every: int = 1,
                 supply_sense: str = "infer", on_compliance: str = "flag", nplc: float = 0.1,
                 pressure_every: int | None = None):
        self.station = station
        self._name = name or f"visa:{station.source}"
        self.visa_library = visa_library
        self.heater_every = heater_every or max(1, math.ceil(station.loop_hz / 25.0))
        self.esr_every = esr_every or max(1, math.ceil(station.loop_hz / 10.0))
        self.error_every = error_every
        self.supply_sense = supply_sense
        self.on_compliance = on_compliance
        self.nplc = nplc
        self.rm: ResourceManager | None = None
        self.resources: dict[str, Any] = {}
        self.nodelay: dict[str, bool] = {}
        self.drivers: dict[str, Instrument] = {}
        self._closed = False
        self._armed = False
        self._t0 = time.monotonic()   # the clock's zero; set again once the station is open
        self._tick = 0
        self._error_role = 0
        self._excitation = True
        self._pump_sent = math.nan
        self._heater_sent = math.nan
        self._analog_sent = math.nan   # the analog_out role's last set-point (only changes are sent)
        self._heater_v = math.nan
        self._heater_a = math.nan
        self._ri = math.nan
        self._supply_v = station.supply_equivalent_v
        self._sag_until = -math.inf
        self._in_compliance = False
        self._sagging = False
        self.heater_mode = ""
        self.late_ticks = 0
        self.compliance_events: list[dict[str, Any]] = []
        self.supply_events: list[dict[str, Any]] = []
        self.safe_errors: list[str] = []
        self.safe_confirmed: dict[str, bool] = {}
        self.safe_count = 0
        self.esr_v: tuple[float, float] = (math.nan, math.nan)
        self.trim_ohm = math.nan    # the trim meter's reading at connect; NaN without one
        self.pressure_every = pressure_every or max(1, math.ceil(station.loop_hz / PRESSURE_POLL_HZ))
        self._pressure_kpa = math.nan   # the pressure meter's last reading, held between readings

    # -- opening ------------------------------------------------------------------------------------

    @classmethod
    def from_url(cls, url: str, visa_library: str | None = None, **options: Any) -> VisaFrontEnd:
        path, url_options = parse_visa_url(url)
        kwargs = front_end_options(url_options, options, visa_library)   # InputError naming the key
        station = load_station(Path(path))  # StationError (an InputError) before anything is opened
        fe = cls(station, name=url.strip(), **kwargs)
        fe.open()
        return fe

    def open(self) -> None:
        """Open every role's resource by exact name, identify, and set up (outputs on at 0)."""
        try:
            import pyvisa
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise FrontEndError(f"visa front end needs pyvisa and pyvisa-py: {exc}") from exc
        check_distinct_resources(self.station)   # before anything is opened
        try:
            rm = pyvisa.ResourceManager(self.visa_library)
        except Exception as exc:
            raise FrontEndError(f"visa front end: cannot load the VISA library {self.visa_library!r}: "
                                f"{type(exc).__name__}: {exc}") from exc
        self.rm = rm
        identified: set[str] = set()
        try:
            for role in ROLE_ORDER:
                cfg = self.station.roles().get(role)
                if cfg is not None:
                    self._open_role(rm, role, cfg)
            # Identify before touching (issue 16): *IDN? is the first thing each role is sent, and a
            # wrong model, a stranger or another role's instrument is refused before any setting.
            for role, driver in self.drivers.items():
                driver.identify()
                identified.add(role)
            check_distinct_instruments(self.drivers)
            self._setup()
        except BaseException:
            # Only instruments known to be the station's own are made safe: a stranger is not written to.
            self.drivers = {role: d for role, d in self.drivers.items() if role in identified}
            self.safe()
            self._close_resources()
            raise
        self._armed = True
        self._t0 = time.monotonic()
        log.info("station %r ready: %s", self.station.name,
                 "; ".join(f"{role}: {d.identity}" for role, d in self.drivers.items()))

    def _open_role(self, rm: ResourceManager, role: str, cfg: Any) -> None:
        try:
            resource = rm.open_resource(cfg.resource, read_termination=cfg.read_termination,
                                        write_termination=cfg.write_termination, timeout=cfg.timeout_ms,
                                        open_timeout=max(cfg.timeout_ms, 1000))
        except Exception as exc:
            raise LinkLost(f"{role} ({cfg.model}) at {cfg.resource}: cannot open: {type(exc).__name__}: {exc}") from exc
        self.resources[role] = resource
        self.nodelay[role] = disable_nagle(resource)
        driver_cls = MODELS[cfg.model]
        limits: dict[str, tuple[float, float, str]] = {}
        channel = None
        if role == "pump":
            limits["source_current_a"] = (-cfg.current_limit_a, cfg.current_limit_a, "pump.current_limit_a")
        elif role == "heater":
            channel = cfg.channel
            limits["voltage_v"] = (0.0, cfg.voltage_limit_v, "heater.voltage_limit_v")
            limits["current_limit_a"] = (0.0, cfg.current_limit_a, "heater.current_limit_a")
        elif role == "analog_out":
            channel = cfg.channel
            limits["voltage_v"] = (0.0, cfg.voltage_limit_v, "analog_out.voltage_limit_v")
            limits["current_limit_a"] = (0.0, cfg.current_limit_a, "analog_out.current_limit_a")
        elif role == "nernst" and not cfg.is_meter:
            reach = abs(cfg.reference_current_a) + cfg.esr_step_a
            limits["source_current_a"] = (-reach, reach, "nernst.reference_current_a + nernst.esr_step_a")
        self.drivers[role] = driver_cls(resource, role, channel=channel, limits=limits, resource_name=cfg.resource)

    def _driver(self, role: str, kind: type[DriverT]) -> DriverT:
        """The role's driver as the kind the role needs (the station schema allows only such models)."""
        driver = self.drivers[role]
        if not isinstance(driver, kind):
            raise FrontEndError(f"{driver.who()}: model {driver.MODEL!r} is not a {kind.KIND} ({role} role)")
        return driver

    def _nernst_driver(self) -> SMU | Meter | None:
        driver = self.drivers.get("nernst")
        if driver is None or isinstance(driver, (SMU, Meter)):
            return driver
        raise FrontEndError(f"{driver.who()}: model {driver.MODEL!r} is not an SMU or a meter (nernst role)")

    def _setup(self) -> None:
        st = self.station
        pump = self._driver("pump", SMU)
        pump.setup(current_range_a=pump.range_for(st.pump.current_limit_a), compliance_v=st.pump.compliance_v,
                   nplc=self.nplc, level_a=0.0)
        self._pump_sent = 0.0
        nernst = self._nernst_driver()
        if isinstance(nernst, SMU):
            cfg = st.nernst
            assert cfg is not None  # a nernst driver exists only for a station with a nernst role
            nernst.setup(current_range_a=nernst.range_for(abs(cfg.reference_current_a) + cfg.esr_step_a),
                         compliance_v=cfg.compliance_v, nplc=self.nplc, level_a=cfg.reference_current_a)
        elif isinstance(nernst, Meter):
            nernst.setup()
        heater = self._driver("heater", Supply)
        heater.setup(current_limit_a=st.heater.current_limit_a, voltage_v=0.0)
        self._heater_sent = 0.0
        if st.analog_out is not None:
            self._driver("analog_out", Supply).setup(current_limit_a=st.analog_out.current_limit_a, voltage_v=0.0)
            self._analog_sent = 0.0
        if "trim" in self.drivers:
            self.trim_ohm = self._read_trim(self._driver("trim", Meter))
        if "pressure" in self.drivers:
            self._driver("pressure", Meter).setup()

    def _read_trim(self, meter: Meter) -> float:
        """The sensor's trim resistor, once per connect (it belongs to the sensor, not the stream)."""
        meter.setup_resistance(nplc=TRIM_NPLC)
        ohm = meter.read_resistance_ohm()
        lo, hi = TRIM_READING_RANGE_OHM
        if not lo <= ohm <= hi:
            log.warning("trim (%s): %g ohm is outside %g..%g ohm (open or shorted line): no trim applied",
                        meter.identity, ohm, lo, hi)
            return math.nan
        log.info("trim (%s): %.2f ohm", meter.identity, ohm)
        return ohm

    # -- the FrontEnd surface ---------------------------------------------------------------------

    @property
    def measures_esr(self) -> bool:
        return self.station.nernst is not None and self.station.nernst.measures_esr

    def _check_open(self, what: str) -> None:
        if self._closed:
            raise FrontEndError(f"visa front end {self._name!r} is closed: cannot {what}")

    def sample(self) -> Sample:
        self._check_open("sample")
        try:
            return self._sample()
        except FrontEndError:
            self.safe()
            raise

    def _sample(self) -> Sample:
        t = self.now()
        k = self._tick
        self._tick = k + 1
        drivers = self.drivers
        nernst_v = math.nan
        nernst = self._nernst_driver()
        if nernst is not None:
            if isinstance(nernst, SMU) and self.measures_esr and self._excitation and k % self.esr_every == 0:
                nernst_v = self._measure_esr(nernst)
            else:
                nernst_v = nernst.read_voltage()
                if not self._excitation:
                    self._ri = math.nan

        pump = self._driver("pump", SMU)
        reading = pump.read()
        if reading.compliance != self._in_compliance:
            self._compliance_changed(reading, t)

        if k % self.heater_every == 0:
            self._measure_heater(t)
        supply_v = self.station.supply_equivalent_v
        if self._sagging:
            if t <= self._sag_until:
                supply_v = self._supply_v
            else:
                self._sagging = False
                self.supply_events.append({"t_s": t, "event": "supply estimate back to nominal",
                                           "supply_v": supply_v})
                log.info("heater (%s): no loaded reading for %g s; supply back to %g V",
                         drivers["heater"].identity, SAG_HOLD_S, supply_v)

        pressure_cfg = self.station.pressure
        if pressure_cfg is not None and k % self.pressure_every == 0:
            self._pressure_kpa = pressure_cfg.kpa(self._driver("pressure", Meter).read_voltage())

        if self.error_every and k % self.error_every == 0:
            roles = tuple(r for r in drivers if r in POLLED_ROLES)
            role = roles[self._error_role % len(roles)]
            self._error_role += 1
            drivers[role].check_errors()

        return Sample(t, nernst_v, reading.current_a, self._ri, self._heater_v, self._heater_a, supply_v,
                      reading.voltage_v, pressure_kpa=self._pressure_kpa)

    def _measure_esr(self, nernst: SMU) -> float:
        """The Nernst reading V1 at the reference current and V2 at reference + step, in one
        program message (the instrument takes them back to back); sets the ESR; returns V1."""
        cfg = self.station.nernst
        assert cfg is not None  # a nernst driver exists only for a station with a nernst role
        first, second = nernst.step_read(cfg.reference_current_a, cfg.esr_step_a)
        v1, v2 = first.voltage_v, second.voltage_v
        self.esr_v = (v1, v2)
        rail = NEAR_RAIL * cfg.compliance_v
        if abs(v1) >= rail or abs(v2) >= rail:
            # The SMU sits at its compliance (a cold or open cell): the step did not flow, the
            # difference means nothing. Report "beyond range" as a board's saturated ESR reading does.
            self._ri = ESR_SATURATED_OHM
        else:
            self._ri = abs(v2 - v1) / cfg.esr_step_a
        return v1

    def _compliance_changed(self, reading: SMUReading, t: float) -> None:
        pump = self._driver("pump", SMU)
        self._in_compliance = reading.compliance
        limit = self.station.pump.compliance_v
        if reading.compliance:
            event = {"t_s": t, "role": "pump", "instrument": pump.identity, "voltage_v": reading.voltage_v,
                     "current_a": reading.current_a, "set_a": pump.level_a, "compliance_v": limit}
            self.compliance_events.append(event)
            text = (f"pump ({pump.identity}): in compliance at {reading.voltage_v:.4g} V (pump.compliance_v "
                    f"{limit:g} V): measured {reading.current_a:.4g} A for a set-point of {pump.level_a:.4g} A")
            if self.on_compliance == "error":
                raise FrontEndError(text)
            log.warning(text)
        else:
            log.info("pump (%s): out of compliance", pump.identity)

    def _measure_heater(self, t: float) -> None:
        heater = self._driver("heater", Supply)
        v, a = heater.measure()
        self._heater_v, self._heater_a = v, a
        mode = heater.infer_mode(v, a)
        if mode != self.heater_mode:
            if self.heater_mode or mode != "CV":
                log.info("heater (%s): %s (%.3g V, %.3g A, set %.3g V)", heater.identity, mode, v, a,
                         heater.voltage_set_v)
            self.heater_mode = mode
        if self.supply_sense != "infer":
            return
        v_set = heater.voltage_set_v
        if v_set >= SAG_MIN_SET_V and mode == "CV":
            ratio = v / v_set
            if ratio < SAG_RATIO:
                # The supply delivers at most what it gives now: the firmware's equivalent supply.
                self._supply_v = min(self.station.supply_equivalent_v, max(v, 0.0))
                self._sag_until = t + SAG_HOLD_S
                if not self._sagging:
                    self._sagging = True
                    self.supply_events.append({"t_s": t, "event": "supply below set-point", "set_v": v_set,
                                               "measured_v": v, "measured_a": a, "supply_v": self._supply_v})
                    log.warning("heater (%s): output %.3g V for a set-point of %.3g V at %.3g A (not "
                                "current-limited): supply dropped; reporting supply_v %.3g V", heater.identity,
                                v, v_set, a, self._supply_v)
            elif self._sagging:
                self._sagging = False
                self._supply_v = self.station.supply_equivalent_v
                self.supply_events.append({"t_s": t, "event": "supply recovered", "set_v": v_set, "measured_v": v})
                log.info("heater (%s): output follows its set-point again; supply recovered", heater.identity)

    def apply(self, command: Command) -> None:
        pump_a = command.pump_current_a
        duty = command.heater_duty
        if (pump_a - pump_a) or (duty - duty):  # NaN or infinite
            raise ValueError(f"command must be finite: pump_current_a={pump_a!r}, heater_duty={duty!r}")
        self._check_open("apply a command")
        pump = self._driver("pump", SMU)
        pump.validate("source_current_a", pump_a)  # ValueError before anything is sent
        self._excitation = bool(command.excitation)
        try:
            if not self._armed:
                self._arm()
            if pump_a != self._pump_sent:
                pump.set_current(pump_a)
                self._pump_sent = pump_a
            duty = 0.0 if duty < 0.0 else 1.0 if duty > 1.0 else duty
            volts = min(self.station.supply_equivalent_v * math.sqrt(duty), self.station.heater.voltage_limit_v)
            volts = round(volts / HEATER_RESOLUTION_V) * HEATER_RESOLUTION_V
            if volts != self._heater_sent:
                self._driver("heater", Supply).set_voltage(volts)
                self._heater_sent = volts
            if self.station.analog_out is not None:
                self._drive_analog_out(command.analog_out1_v)
        except FrontEndError:
            self.safe()
            raise

    def _drive_analog_out(self, commanded_v: float) -> None:
        """The analog_out role follows the firmware's analog output 1, clamped to its voltage limit,
        in 1 mV steps; only a change is sent."""
        cfg = self.station.analog_out
        assert cfg is not None  # called only for a station with an analog_out role
        volts = commanded_v if commanded_v == commanded_v else 0.0
        volts = min(max(volts, 0.0), cfg.voltage_limit_v)
        volts = round(volts / ANALOG_RESOLUTION_V) * ANALOG_RESOLUTION_V
        if volts != self._analog_sent:
            self._driver("analog_out", Supply).set_voltage(volts)
            self._analog_sent = volts

    def _arm(self) -> None:
        """Outputs on again after safe(): levels at 0 (Nernst SMU at its reference), outputs on."""
        for role in ROLE_ORDER:
            driver = self.drivers.get(role)
            if isinstance(driver, SMU):
                level = 0.0
                if role == "nernst":
                    assert self.station.nernst is not None  # a nernst driver: a nernst role
                    level = self.station.nernst.reference_current_a
                driver.set_current(level)
                driver.output(True)
            elif isinstance(driver, Supply):
                driver.set_voltage(0.0)
                driver.output(True)
        self._pump_sent = 0.0
        self._heater_sent = 0.0
        self._analog_sent = 0.0
        self._armed = True
        log.info("station %r: outputs on again", self.station.name)

    def wait_until(self, t_s: float) -> bool:
        if t_s - t_s:
            raise ValueError(f"wait_until: time must be finite, got {t_s!r}")
        delay = t_s - self.now()
        if delay < -LATE_TOLERANCE_S:
            self.late_ticks += 1
            return False
        if delay > 0.0:
            time.sleep(delay)
        return True

    def now(self) -> float:
        return time.monotonic() - self._t0

    def safe(self) -> None:
        """Heater 0 V and off, pump 0 A and off, Nernst SMU 0 A and off: each ramped in a few
        steps, best effort per role, writes only. Never raises."""
        try:
            self._armed = False
            for role in SAFE_ORDER:
                driver = self.drivers.get(role)
                if driver is None:
                    continue
                try:
                    driver.safe_shutdown()
                except Exception as exc:
                    text = str(exc)
                    self.safe_errors.append(text)
                    log.warning("safe shutdown: %s", text)
            # A sync point per role (*OPC?, bounded by its timeout): when safe() returns, every
            # instrument that still answers has worked through its shutdown.
            self.safe_confirmed = {role: (not driver.lost) and driver.confirm()
                                   for role, driver in self.drivers.items()}
            self._pump_sent = 0.0
            self._heater_sent = 0.0
            self._analog_sent = 0.0
            self.safe_count += 1
        except Exception:  # pragma: no cover - safe() must never raise
            pass

    def info(self) -> FrontEndInfo:
        st = self.station
        return FrontEndInfo(
            kind="visa", name=self._name, element="",
            measures_ri=self.measures_esr, measures_heater=True, measures_pump_v=True,
            pump_current_min_a=-st.pump.current_limit_a, pump_current_max_a=st.pump.current_limit_a,
            virtual_time=False, has_truth=False, trim_ohm=self.trim_ohm,
            details={"station": st.name, "station_file": st.source, "loop_hz": st.loop_hz,
                     "supply_equivalent_v": st.supply_equivalent_v, "visa_library": self.visa_library,
                     "heater_every": self.heater_every, "esr_every": self.esr_every,
                     "pressure_every": self.pressure_every, "error_every": self.error_every,
                     "supply_sense": self.supply_sense, "on_compliance": self.on_compliance,
                     "snapshot": self.snapshot()})

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {role: driver.snapshot() for role, driver in self.drivers.items()}

    def log_header_lines(self) -> list[str]:
        """The FrontEnd ability: this station's settings in force (snapshot_lines) head a run log."""
        return self.snapshot_lines()

    def snapshot_lines(self) -> list[str]:
        """The station and every instrument's settings in force, as '# '-prefixed lines for the
        header of a run log."""
        st = self.station
        lines = [f"# station: {st.name} ({st.source}); loop {st.loop_hz:g} Hz; supply_equivalent_v "
                 f"{st.supply_equivalent_v:g} V; visa library {self.visa_library}; heater every {self.heater_every}, "
                 f"ESR every {self.esr_every if self.measures_esr else '-'}, error poll every {self.error_every}"]
        for role, driver in self.drivers.items():
            snap = driver.snapshot()
            channel = f" channel {snap['channel']}" if "channel" in snap else ""
            settings = ", ".join(f"{k}={_fmt(v)}" for k, v in snap["settings"].items())
            lines.append(f"# {role}: {snap['model']}{channel} at {snap['resource']}; *IDN? {snap['idn']!r}; {settings}")
        return lines

    def close(self) -> None:
        """Make safe and close every resource (idempotent)."""
        if self._closed:
            return
        self.safe()
        self._closed = True
        self._close_resources()

    def _close_resources(self) -> None:
        for resource in self.resources.values():
            try:
                resource.close()
            except Exception:
                pass
        self.resources.clear()
        if self.rm is not None:
            try:
                self.rm.close()
            except Exception:
                pass
            self.rm = None

    def __repr__(self) -> str:
        return f"VisaFrontEnd({self._name!r}, station={self.station.name!r})"


def disable_nagle(resource: Any) -> bool:
    """TCP_NODELAY on a raw SOCKET resource; True when set.

    pyvisa-py leaves Nagle's algorithm on for TCPIP SOCKET sessions, and its
    VI_ATTR_TCPIP_NODELAY setter raises UnknownAttribute (pyvisa-py 0.8.1). A command without a
    reply followed by a query then waits for the instrument's delayed ACK: about 40 ms per
    write-then-query on Linux, which alone would cap the loop far below 50 Hz. NI-VISA disables
    Nagle by default. So: the VISA attribute first, else the session's socket directly."""
    if not str(getattr(resource, "resource_name", "")).upper().endswith("::SOCKET"):
        return False
    try:
        from pyvisa import constants
        resource.set_visa_attribute(constants.VI_ATTR_TCPIP_NODELAY, constants.VI_TRUE)
        return True
    except Exception:
        pass
    try:
        session = resource.visalib.sessions[resource.session]
        sock = getattr(session, "interface", None)
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return True
    except Exception:
        pass
    return False


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
