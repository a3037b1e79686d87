"""`lambdarig element E --lambda LIST --temp-c LIST`: one row per point of the grid, the same numbers
as asking one point at a time."""

from __future__ import annotations

import json

from rig_cli_helpers import main


def test_a_lambda_and_temperature_grid_prints_one_row_per_point(capsys):
    assert main(["element", "lsu49", "--lambda", "0.7,0.8,1,1.7,air", "--temp-c", "740,780"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:6] == ["lambda", "T", "°C", "Ip", "mA", "Nernst"]
    rows = [line.split() for line in lines[2:]]
    assert len(rows) == 10 and [r[0] for r in rows[:5]] == ["0.7", "0.8", "1", "1.7", "air"]
    assert {r[1] for r in rows[:5]} == {"740"} and {r[1] for r in rows[5:]} == {"780"}
    assert main(["element", "lsu49", "--lambda", "1.7", "--temp-c", "780", "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert rows[8][2] == f"{one['pump_current_a'] * 1e3:.4f}"


def test_grid_as_json_rows(capsys):
    assert main(["element", "lsu49", "--lambda", "0.8,1.2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [row["lambda_value"] for row in data] == [0.8, 1.2] and data[0]["temp_c"] == 780.0


def test_a_bad_item_in_a_list_is_bad_input_naming_the_option(capsys):
    assert main(["element", "lsu49", "--lambda", "0.7,x,1"]) == 2
    err = capsys.readouterr().err
    assert "--lambda" in err and "'x'" in err and err.count("\n") == 1
    assert main(["element", "lsu49", "--temp-c", "700,2000", "--lambda", "1,1.1"]) == 2
    assert "--temp-c" in capsys.readouterr().err
