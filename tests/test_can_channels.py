"""Several sensors on one CAN bus (`--can` with two `--element` / two `--hal`): each channel sends its
own frames with CAN index [can] index + channel index, decoded with our DBC files (cantools) they
give that channel's samples; the ECU's one heater-enable bit holds every channel cold. A unit (and
age) per element: two units at the same lambda pump different currents.

All in-process on python-can's `virtual` bus and deterministic: the run is paced at 1000x real
time, the ECU is the run's should_stop callback (called once per telemetry tick, in the run's
thread), so what the ECU sends and when is fixed by the run's own time, not by the wall clock."""

from __future__ import annotations

import contextlib
import io
import statistics
import uuid

import can
import cantools
import pytest

import lambdarig
from lambdarig.cli import main
from lambdarig.protocol import can_frames as cf

LSB_LAMBDA = 0.0001
FAST = 1000.0   # can_pace: x real time


def quiet(text: str) -> None:
    pass


def drain(bus) -> list:
    messages = []
    while (msg := bus.recv(timeout=0.0)) is not None:
        messages.append(msg)
    return messages


def by_channel(messages, indices=(0, 1)):
    """StandardData and AEM frames of each CAN index, decoded, in order."""
    db = cantools.database.load_file(cf.dbc_path("rusefi_wideband"))
    aem = cantools.database.load_file(cf.dbc_path("aem_uego"))
    standard = {i: [] for i in indices}
    aem_rows = {i: [] for i in indices}
    for msg in messages:
        for i in indices:
            if not msg.is_extended_id and msg.arbitration_id == 0x190 + 2 * i:
                standard[i].append(db.decode_message(0x190, msg.data))
            elif msg.is_extended_id and msg.arbitration_id == cf.AEM_BASE_ID + i:
                aem_rows[i].append(aem.decode_message(cf.AEM_BASE_ID, msg.data, force_extended_id=True))
    return standard, aem_rows


def test_two_elements_on_one_virtual_bus_each_frame_is_its_channels_sample():
    channel = f"lambdarig-2ch-{uuid.uuid4().hex}"
    listener = can.Bus(interface="virtual", channel=channel, receive_own_messages=False)
    try:
        result = lambdarig.simulate(["lsu49", "lsu49"], duration_s=16.0, seed=1, unit=[4, 7],
                                    settings={"can.format": "both"}, can=f"virtual:{channel}", can_pace=FAST,
                                    progress=quiet)
        messages = drain(listener)
    finally:
        listener.shutdown()
    standard, aem_rows = by_channel(messages)
    summary = result.summary["can"]
    assert [c["can_index"] for c in summary["channels"]] == [0, 1] and summary["lost"] is None
    valid = 0
    for i, ch in enumerate(result.channels):
        samples = ch.samples
        assert len(standard[i]) == len(aem_rows[i]) == len(samples)
        assert summary["channels"][i]["frames_sent"] == 3 * len(samples)
        for frame, aem_frame, sample in zip(standard[i], aem_rows[i], samples):
            assert frame["Valid"] == int(sample["lambda_valid"]) == aem_frame["LambdaValid"]
            if sample["lambda_valid"]:
                assert abs(frame["Lambda"] - sample["lambda_value"]) <= LSB_LAMBDA / 2 + 1e-9
                assert abs(aem_frame["Lambda"] - sample["lambda_value"]) <= LSB_LAMBDA / 2 + 1e-9
                valid += 1
            if sample["temp_c"] >= 0:
                assert abs(frame["TemperatureC"] - sample["temp_c"]) <= 1.0
    assert valid > 200   # both got to closed loop (about 14 s: 5 s condensation)
    # Two sensors, not one twice: the channels' frames differ.
    assert [f["TemperatureC"] for f in standard[0]] != [f["TemperatureC"] for f in standard[1]]


def test_the_ecu_withholding_heat_keeps_both_channels_cold_until_it_allows():
    channel = f"lambdarig-2ch-ecu-{uuid.uuid4().hex}"
    ecu = can.Bus(interface="virtual", channel=channel, receive_own_messages=False)
    ticks = [0]
    allow_after_ticks = 300   # telemetry ticks (100 Hz): 3 s of the run

    def be_the_ecu() -> bool:   # once per telemetry tick, in the run's thread: deterministic
        ticks[0] += 1
        frame = cf.ecu_status(13.8, ticks[0] > allow_after_ticks)
        ecu.send(can.Message(arbitration_id=frame.arbitration_id, is_extended_id=True, data=frame.data))
        return False

    try:
        result = lambdarig.simulate(["lsu49", "lsu49"], duration_s=19.0, seed=2,
                                    settings={"can.heater_allow": "can"}, can=f"virtual:{channel}", can_pace=FAST,
                                    should_stop=be_the_ecu, progress=quiet)
    finally:
        ecu.shutdown()
    for i, ch in enumerate(result.channels):
        rows = ch.samples
        first_allowed = next(row["t_s"] for row in rows if row["heater_allowed"])
        assert 2.9 < first_allowed < 3.2, i
        held = [row for row in rows if row["t_s"] < first_allowed]
        assert {row["state"] for row in held} <= {"wait_supply", "condensation"}
        assert max(row["heater_v"] for row in held) <= 2.0 + 1e-9    # condensation voltage at most
        assert max(row["true_temp_c"] for row in held) < 300         # cold
        ready = ch.summary["time_to_ready_s"]
        assert ready is not None and first_allowed + 9.0 < ready < first_allowed + 19.0
        assert result.summary["can"]["channels"][i]["ecu_frames"] > 1000   # every channel takes every frame


@pytest.mark.parametrize(("settings", "problem"), [
    ([{"can.index": 1}, {"can.index": 0}], "both send with CAN index 1"),
    ({"can.index": 15}, "CAN index 16"),
])
def test_colliding_or_out_of_range_can_indices_are_refused_before_the_bus_opens(tmp_path, settings, problem):
    log = tmp_path / "run.asc"
    with pytest.raises(ValueError, match=problem) as raised:
        lambdarig.simulate(["lsu49", "lsu49"], duration_s=1.0, settings=settings, can=str(log), progress=quiet)
    assert "settings" in str(raised.value) and "\n" not in str(raised.value)
    assert not log.exists()


def test_run_with_two_front_ends_and_an_index_offset_on_the_command_line(tmp_path):
    log = tmp_path / "run.blf"
    settings = tmp_path / "box.toml"
    settings.write_text("[can]\nindex = 4\n")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["run", "--hal", "sim:lsu49", "--hal", "sim:lsu49", "--duration", "2", "--settings",
                     str(settings), "--can", str(log), "--json", "--quiet"])
    assert code == 0, out.getvalue()
    with can.LogReader(str(log)) as reader:
        ids = {msg.arbitration_id for msg in reader}
    assert ids == {0x198, 0x199, 0x19A, 0x19B}   # index 4 and 5: StandardData and DiagData each


def lean_scenario(tmp_path):
    path = tmp_path / "lean.toml"
    path.write_text('name = "lean"\ndescription = "lambda 1.5 throughout"\nduration_s = 18\nambient_c = 20\n'
                    'supply_v = 13.5\nlambda = 1.5\npressure_kpa = 101.325\ngas_temp_c = 400\nflow_mps = 10\n')
    return str(path)


def test_a_unit_per_element_two_units_pump_different_currents_at_the_same_lambda(tmp_path):
    scenario = lean_scenario(tmp_path)
    both = lambdarig.simulate(["lsu49", "lsu49"], scenario, seed=3, unit=[4, 7], age_h=[0.0, 500.0],
                              progress=quiet)
    assert [ch.summary.get("unit") for ch in both.channels] == [4, 7]
    assert [ch.summary.get("age_h") for ch in both.channels] == [0.0, 500.0]
    currents = []
    for ch in both.channels:
        settled = [row for row in ch.samples if row["state"] == "closed_loop" and row["t_s"] > 16.0]
        assert len(settled) > 100 and all(row["true_lambda_value"] == 1.5 for row in settled)
        currents.append(statistics.mean(row["pump_current_a"] for row in settled))
    assert abs(currents[0] - currents[1]) > 0.01 * abs(currents[0])
    # Channel 1 is the single run of its unit and age, with the run's seed + 1.
    alone = lambdarig.simulate("lsu49", scenario, seed=4, unit=7, age_h=500.0, progress=quiet)
    assert [row["pump_current_a"] for row in alone.samples] == [row["pump_current_a"]
                                                                 for row in both.channels[1].samples]


@pytest.mark.parametrize(("args", "field"), [
    (["--element", "lsu49", "--element", "lsu49", "--unit", "4", "--unit", "7", "--unit", "1"], "--unit"),
    (["--element", "lsu49", "--age-h", "1", "--age-h", "2"], "--age-h"),
    (["--element", "lsu49", "--element", "lsu49", "--unit", "4", "--unit", "x7"], "--unit"),
])
def test_a_wrong_count_or_value_of_units_is_one_line_exit_2(tmp_path, capsys, args, field):
    log = tmp_path / "run.csv"
    assert main(["simulate", *args, "--duration", "1", "--log", str(log)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err and "Traceback" not in err
    assert not log.exists()


def test_can_pace_holds_for_a_run_of_two_channels_kept_by_channel_0():
    """`--can-pace 4` with two sensors: the run's 2 s take 0.5 s of wall clock, as with one (not
    twice that, not unpaced); channel 0's output waits, the other does not wait again. The wall
    clock here is one that only sleeping advances, so the figures are exact."""
    from lambdarig.can_channels import channel_outputs
    from lambdarig.channels_session import ChannelSession, run_channels
    from lambdarig.controller.core import Controller
    from lambdarig.controller.settings import Settings
    from lambdarig.hal.can_bus import CanPort
    from lambdarig.hal.registry import open_frontend

    wall = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        wall[0] += seconds

    channels = [ChannelSession(i, open_frontend("sim:lsu49", scenario="default", seed=1 + i), Controller(Settings()),
                               {"element": "lsu49"}) for i in range(2)]
    port = CanPort(f"virtual:lambdarig-pace-{uuid.uuid4().hex}")
    try:
        outputs = channel_outputs(port, [ch.controller for ch in channels], [0, 1], virtual_time=True, pace=4.0,
                                  progress=quiet, wall_clock=lambda: wall[0], sleep=sleep)
        for ch, output in zip(channels, outputs):
            ch.sinks.append(output)
        result = run_channels(channels, 2.0, keep_samples=False, progress=quiet)
    finally:
        port.close()
    assert [o.paced for o in outputs] == [True, False]
    assert all(o.frames_sent > 150 for o in outputs)    # every 10 ms of the run, each channel
    assert result.summary["sim_s"] == pytest.approx(2.0)
    assert sum(slept) == pytest.approx(2.0 / 4.0, abs=0.011)
    assert len(slept) >= 190                             # a wait per telemetry tick, not one at the end


def test_the_plain_summary_of_two_sensors_has_the_can_line_with_each_index(tmp_path):
    log = tmp_path / "two.asc"
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["simulate", "--element", "lsu49", "--element", "lsu49", "--duration", "1", "--quiet",
                     "--can", str(log)])
    assert code == 0
    line = out.getvalue().splitlines()[-1]
    assert line.startswith(f"can {log}, ") and "frames sent (channel 0 index 0: " in line
    assert ", channel 1 index 1: " in line
