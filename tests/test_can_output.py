"""`simulate --can`: the frames, written to python-can log files and decoded with our DBC files by
cantools, give the CSV's lambda and temperature and the run's validity row by row (within one LSB),
at 100 Hz; a CAN interface lost mid-run is an event and changes nothing else; bad URLs are refused
in one line. All in virtual time, deterministic (seeded)."""

from __future__ import annotations

import contextlib
import csv
import io
import uuid

import can
import cantools
import pytest

import lambdarig
from lambdarig.can_output import CanOutput
from lambdarig.cli import main
from lambdarig.controller.core import Controller
from lambdarig.controller.runtime import Runtime
from lambdarig.controller.settings import Settings
from lambdarig.hal.can_bus import CanPort
from lambdarig.hal.registry import open_frontend
from lambdarig.protocol import can_frames as cf

LSB_LAMBDA = 0.0001


def decode_log(path):
    db = cantools.database.load_file(cf.dbc_path("rusefi_wideband"))
    aem = cantools.database.load_file(cf.dbc_path("aem_uego"))
    standard, diag, aem_rows = [], [], []
    with can.LogReader(str(path)) as reader:
        for msg in reader:
            if msg.is_extended_id and msg.arbitration_id == cf.AEM_BASE_ID:
                aem_rows.append((msg.timestamp, aem.decode_message(cf.AEM_BASE_ID, msg.data, force_extended_id=True)))
            elif msg.arbitration_id == 0x190:
                standard.append((msg.timestamp, db.decode_message(0x190, msg.data)))
            elif msg.arbitration_id == 0x191:
                diag.append((msg.timestamp, db.decode_message(0x191, msg.data, decode_choices=False)))
    return standard, diag, aem_rows


@pytest.mark.parametrize("suffix", [".blf", ".asc", ".log"])
def test_simulate_can_log_matches_the_csv_row_by_row(tmp_path, suffix):
    log = tmp_path / f"run{suffix}"
    csv_path = tmp_path / "run.csv"
    result = lambdarig.simulate(duration_s=17.0, seed=1, log=csv_path, can=str(log),
                                settings={"can.format": "both"})
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    standard, diag, aem_rows = decode_log(log)
    assert len(standard) == len(diag) == len(aem_rows) == len(rows) == len(result.samples)
    assert result.summary["can"]["frames_sent"] == 3 * len(rows) and result.summary["can"]["lost"] is None
    t0 = standard[0][0]
    valid_rows = 0
    for (stamp, frame), row, sample, (_, aem_frame) in zip(standard, rows, result.samples, aem_rows):
        # The frames are stamped with the run's time: the log replays at the run's pace.
        assert stamp - t0 == pytest.approx(float(row["t_s"]), abs=2e-6)
        assert frame["Version"] == 0xA0
        assert frame["Valid"] == int(sample["lambda_valid"]) == aem_frame["LambdaValid"]
        if row["lambda"]:
            assert abs(frame["Lambda"] - float(row["lambda"])) <= LSB_LAMBDA + 1e-9
            assert abs(aem_frame["Lambda"] - float(row["lambda"])) <= LSB_LAMBDA + 1e-9
        else:
            assert frame["Lambda"] == 0.0
        if row["temp_c"] and float(row["temp_c"]) >= 0:
            assert abs(frame["TemperatureC"] - float(row["temp_c"])) <= 1.0
        valid_rows += frame["Valid"]
    assert valid_rows > 100          # it got to closed loop (about 14 s: 5 s condensation)
    # 100 Hz: one frame set every 10 ms of the run (the last row repeats the end time: the final status).
    gaps = [b[0] - a[0] for a, b in zip(standard[:-2], standard[1:-1])]
    assert all(g == pytest.approx(0.01, abs=2e-6) for g in gaps)
    statuses = {d["Status"] for _, d in diag}
    assert {cf.STATUS_PREHEAT, cf.STATUS_WARMUP, cf.STATUS_RUNNING} <= statuses


def test_can_lost_mid_run_is_an_event_and_changes_nothing_else():
    channel = f"lambdarig-test-{uuid.uuid4().hex}"

    def run(with_can: bool):
        ctl = Controller(Settings())
        statuses = []
        sinks = [lambda status, truth: statuses.append(status)]
        port = CanPort(f"virtual:{channel}") if with_can else None
        if port is not None:
            output = CanOutput(port, ctl, virtual_time=False)

            pulled = []

            def pull_the_plug(status, truth):
                if status.t_s >= 2.0 and not pulled:
                    pulled.append(status.t_s)
                    port.bus.shutdown()    # the interface goes away under the running controller
            sinks += [pull_the_plug, output]
        fe = open_frontend("sim:lsu49", scenario="default", seed=2)
        try:
            result = Runtime(fe, ctl, sinks).run(12.0)
        finally:
            fe.close()
            if port is not None:
                port.close()
        return statuses, result, (output if with_can else None)

    plain, plain_result, _ = run(False)
    lost, lost_result, output = run(True)
    assert output.lost and output.frames_sent > 0
    events = [e for e in lost_result.events if e["code"] == "can_lost"]
    assert len(events) == 1 and 2.0 <= events[0]["t_s"] <= 2.02 and events[0]["severity"] == "warning"
    # The control loop did not notice: the same readings and outputs, tick for tick.
    assert [(s.state, s.lambda_value, s.heater_duty, s.pump_current_a) for s in lost] == \
           [(s.state, s.lambda_value, s.heater_duty, s.pump_current_a) for s in plain]
    assert lost_result.final_state == plain_result.final_state == "stopped"
    assert [e for e in lost_result.events if e["code"] != "can_lost"] == plain_result.events


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_bad_can_url_is_one_line_exit_2_and_writes_nothing(tmp_path):
    csv_path = tmp_path / "run.csv"
    code, out, err = run_cli("simulate", "--duration", "1", "--log", str(csv_path), "--can", "virtal:x")
    assert code == 2 and err.count("\n") == 1 and "--can" in err and "'virtual'" in err and "Traceback" not in err
    assert not csv_path.exists()
    code, _, err = run_cli("simulate", "--duration", "1", "--can", str(tmp_path / "missing" / "run.asc"))
    assert code == 2 and "does not exist" in err and err.count("\n") == 1
    code, _, err = run_cli("simulate", "--duration", "1", "--can", "virtual:x", "--can-pace", "0")
    assert code == 2 and "--can-pace" in err


def test_a_can_interface_that_cannot_be_opened_is_exit_3():
    code, _, err = run_cli("simulate", "--duration", "1", "--can", "socketcan:lambdarig-no-such-if")
    assert code == 3 and err.count("\n") == 1 and "socketcan:lambdarig-no-such-if" in err


def test_simulate_can_on_the_command_line_writes_a_log(tmp_path):
    log = tmp_path / "run.asc"
    code, out, err = run_cli("simulate", "--duration", "2", "--can", str(log), "--json")
    assert code == 0, err
    standard, _, _ = decode_log(log)
    assert len(standard) == 2 * 100 + 2
    assert " Tx " in log.read_text()            # the controller sent them
    code, out, err = run_cli("simulate", "--duration", "1", "--can", str(tmp_path / "plain.asc"), "--quiet")
    assert code == 0, err
    assert any(line.split()[:1] == ["can"] and "plain.asc" in line and "frames sent" in line
               for line in out.splitlines())


def test_run_on_a_front_end_url_sends_aem_frames_too(tmp_path):
    log = tmp_path / "run.blf"
    result = lambdarig.run("sim:lsu49", duration_s=2.0, can=str(log), settings={"can.format": "aem", "can.index": 3},
                           progress=lambda text: None)
    assert result.summary["can"]["format"] == "aem" and result.summary["can"]["frames_sent"] == len(result.samples)
    with can.LogReader(str(log)) as reader:
        ids = {(msg.arbitration_id, msg.is_extended_id) for msg in reader}
    assert ids == {(cf.AEM_BASE_ID + 3, True)}
