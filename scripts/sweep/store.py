"""Where a sweep's rows live: a results folder with Parquet part files, one per finished batch, and
a manifest. A part is written to a temporary name and renamed into place, so a part is either whole
or absent, whatever stops the sweep; the rows of every finished batch survive. A rerun reads the keys
of the parts and runs only the missing cases.

    RESULTS/manifest.json          the sweep (file as read, source), the code id, the case count
    RESULTS/parts/*.parquet        the rows, each part one finished batch
    RESULTS/results.csv            on request: rows appended as batches finish, rewritten sorted by key
                                   (one row per key) when the sweep ends or stops

`read_results(folder)` gives every row as a pandas DataFrame sorted by key, one row per key (a row
without error wins over an error row of the same key, left by a --retry-errors rerun).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lambdarig.common.errors import InputError

from .metrics import METRICS

MANIFEST = "manifest.json"
PARTS = "parts"
CSV_NAME = "results.csv"

PARAM_TYPES: dict[str, pa.DataType] = {
    "key": pa.string(), "element": pa.string(), "scenario": pa.string(), "fuel": pa.string(),
    "variant": pa.string(), "settings": pa.string(), "seed": pa.int64(), "unit": pa.int64(),
    "age_h": pa.float64(), "duration_s": pa.float64(),
}
METRIC_TYPES: dict[str, pa.DataType] = {
    "time_to_ready_s": pa.float64(), "final_state": pa.string(), "steady_windows": pa.int64(),
    "steady_samples": pa.int64(), "lambda_err_mean": pa.float64(), "lambda_err_p99": pa.float64(),
    "lambda_err_max": pa.float64(), "in_tolerance_share": pa.float64(), "worst_tolerance_ratio": pa.float64(),
    "nernst_p99_mv": pa.float64(), "temp_spread_c": pa.float64(), "faults": pa.int64(), "fault_codes": pa.string(),
    "false_faults": pa.int64(), "late_ticks": pa.int64(), "sim_s": pa.float64(), "windows": pa.string(),
}
RUN_TYPES: dict[str, pa.DataType] = {"error": pa.string(), "wall_s": pa.float64(), "worker": pa.int64()}
assert set(METRIC_TYPES) == set(METRICS)


def schema(metrics: tuple[str, ...]) -> pa.Schema:
    columns = {**PARAM_TYPES, **{m: METRIC_TYPES[m] for m in METRICS if m in metrics}, **RUN_TYPES}
    return pa.schema(list(columns.items()))


class ResultStore:
    def __init__(self, folder: str | Path, metrics: tuple[str, ...] = tuple(METRICS)):
        self.folder = Path(folder)
        self.parts = self.folder / PARTS
        self.schema = schema(metrics)

    def open(self, manifest: dict[str, Any]) -> None:
        """Make the folder (refused when the path is a file) and write the manifest."""
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError("command line", "--out", f"{self.folder} is not a folder", allowed="a results folder")
        self.parts.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.folder / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True, default=str).encode())

    def done_keys(self, include_errors: bool = True) -> set[str]:
        """Keys of the stored rows (without the error rows when include_errors is False)."""
        done: set[str] = set()
        failed: set[str] = set()
        for path in self._part_paths():
            table = pq.read_table(path, columns=["key", "error"])
            for key, error in zip(table.column("key").to_pylist(), table.column("error").to_pylist()):
                (failed if error else done).add(key)
        return done | failed if include_errors else done

    def write_part(self, rows: list[dict[str, Any]]) -> Path:
        """Store one finished batch's rows: a temporary file, then renamed into place."""
        names = self.schema.names
        table = pa.table({n: [row.get(n) for row in rows] for n in names}, schema=self.schema)
        name = f"part-{rows[0]['key']}-{uuid.uuid4().hex[:8]}.parquet"
        final = self.parts / name
        tmp = self.parts / f".{name}.tmp"
        pq.write_table(table, tmp)
        _fsync(tmp)
        os.replace(tmp, final)
        return final

    def _part_paths(self) -> list[Path]:
        return sorted(self.parts.glob("part-*.parquet")) if self.parts.is_dir() else []

    def append_csv(self, rows: list[dict[str, Any]]) -> None:
        """Add a finished batch's rows to results.csv (the header when the file is new)."""
        import csv

        path = self.folder / CSV_NAME
        new = not path.exists()
        with open(path, "a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.schema.names, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerows(rows)

    def write_csv(self) -> Path:
        path = self.folder / CSV_NAME
        frame = read_results(self.folder)
        tmp = path.with_name(f".{CSV_NAME}.tmp")
        frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
        return path


def read_results(folder: str | Path):
    """Every stored row as a pandas DataFrame, one per key, sorted by key."""
    import pandas as pd

    folder = Path(folder)
    parts = sorted((folder / PARTS).glob("part-*.parquet"))
    if not parts:
        if not (folder / MANIFEST).is_file():
            raise InputError("command line", "RESULTS", f"{folder} holds no sweep results",
                             allowed="a folder written by `lambdarig sweep FILE --out FOLDER`")
        return pd.DataFrame(columns=schema(tuple(METRICS)).names)
    frame = pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True)
    frame["_failed"] = frame["error"].fillna("") != ""
    frame = frame.sort_values(["key", "_failed"], kind="stable").drop_duplicates("key", keep="first")
    return frame.drop(columns="_failed").reset_index(drop=True)


def read_manifest(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
