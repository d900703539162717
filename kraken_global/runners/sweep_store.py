"""A sweep's folder on disk: what it is (``sweep.json``) and every point as it finished (``points.jsonl``).

Points are appended one JSON line each as they finish (in small batches, after their trials are in the ledger: see
:func:`~kraken_global.runners.sweep.run_sweep`), so a sweep holds no results in memory and a crash or a killed
machine loses at most the points that were running or waiting to be written. Running the same sweep into the same
folder again resumes it: the points already there are skipped. A folder that holds another sweep (another config
or grid) is refused rather than mixed, and so is a second sweep writing to a folder at the same time. A torn last
line (the process died in the middle of writing it) is ignored and its point run again.

A line: ``{"point": 7, "overrides": {...}, "figures": {...}, "first_day": "2019-01-01", "daily_returns": [...]}``
(``"days": [...]`` as well when the days are not consecutive), or ``{"point": 7, "overrides": {...}, "error":
"..."}`` for a combination the config refuses.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from filelock import FileLock, Timeout

from kraken_global.errors import ConfigError
from kraken_global.files import MB, check_regular, read_json_limited

MANIFEST, POINTS, LOCK = "sweep.json", "points.jsonl", "sweep.lock"
MANIFEST_LIMIT = 10 * MB  # the base config and the grid's values


class SweepStore:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.manifest_file = self.folder / MANIFEST
        self.points_file = self.folder / POINTS

    def manifest(self) -> dict[str, Any] | None:
        if not self.manifest_file.exists():
            return None
        manifest = read_json_limited(self.manifest_file, "sweep manifest", MANIFEST_LIMIT)
        if not isinstance(manifest, dict) or not {"identity", "grid", "points", "config"} <= set(manifest):
            raise ConfigError(f"{self.manifest_file} is not a sweep manifest (damaged?): move the folder aside or "
                              "choose another --out")
        return manifest

    @contextmanager
    def writing(self, manifest: dict[str, Any]) -> Iterator[PointWriter]:
        """Open the folder for ``manifest``'s sweep (creating it, or resuming the same sweep) for one writer."""
        if self.folder.exists() and not self.folder.is_dir():
            raise ConfigError(f"{self.folder} is an existing file: name a folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.folder / LOCK), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise ConfigError(f"another sweep is writing to {self.folder}: wait for it or choose another --out") \
                from None
        try:
            existing = self.manifest()
            if existing is None:
                _atomic_write(self.manifest_file, json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
            elif existing.get("identity") != manifest["identity"]:
                raise ConfigError(f"{self.folder} holds another sweep (a different config or grid): choose another "
                                  "--out, or delete the folder to start over")
            with PointWriter(self.points_file) as writer:
                yield writer
        finally:
            lock.release()

    def records(self) -> Iterator[dict[str, Any]]:
        """Every finished point once (the first line of each), skipping a torn line and a point the grid has not."""
        if not self.points_file.exists():
            return
        check_regular(self.points_file, "sweep points file")  # streamed: it may be large, but never a FIFO
        size = (self.manifest() or {}).get("points", 0)
        seen: set[int] = set()
        with open(self.points_file, "rb") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except (ValueError, UnicodeDecodeError):
                    continue
                if isinstance(record, dict) and isinstance(record.get("point"), int) \
                        and 0 <= record["point"] < size and record["point"] not in seen:
                    seen.add(record["point"])
                    yield record

    def unvouched(self, vouched: dict[int, set[str]]) -> list[int]:
        """The points whose line is not one ``vouched`` holds (``TrialLedger.vouched_lines``): edited or planted."""
        return [record["point"] for record in self.records() if point_sha256(record) not in vouched.get(
            record["point"], set())]

    def done_points(self) -> set[int]:
        return {record["point"] for record in self.records()}

    def table(self) -> pd.DataFrame:
        """One row per finished point, in grid order: its values, figures, and the error of a refused one."""
        rows = [{"point": r["point"], **r["overrides"], **(r.get("figures") or {}), "error": r.get("error")}
                for r in self.records()]
        if not rows:
            return pd.DataFrame()
        table = pd.DataFrame(rows).sort_values("point", kind="stable").reset_index(drop=True)
        return table if table["error"].notna().any() else table.drop(columns="error")

    def returns_matrix(self) -> tuple[pd.DatetimeIndex, list[int], np.ndarray]:
        """(days, points, days x points daily returns) over the days every point ran, points in grid order."""
        calendars: dict[tuple, pd.DatetimeIndex] = {}  # points of one sweep share one or a few calendars
        columns: dict[int, tuple[tuple, np.ndarray]] = {}
        for record in self.records():
            if record.get("error") is None:
                key = tuple(record["days"]) if "days" in record else (record["first_day"],
                                                                       len(record["daily_returns"]))
                if key not in calendars:
                    calendars[key] = record_days(record)
                columns[record["point"]] = (key, np.asarray(record["daily_returns"], dtype=float))
        if not columns:
            return pd.DatetimeIndex([]), [], np.zeros((0, 0))
        common = calendars[next(iter(calendars))]
        for calendar in calendars.values():
            common = common.intersection(calendar)
        positions = {key: calendar.get_indexer(common) for key, calendar in calendars.items()}
        points = sorted(columns)
        matrix = np.empty((len(common), len(points)))
        for j, point in enumerate(points):
            key, values = columns[point]
            matrix[:, j] = values[positions[key]]
        return common, points, matrix

    def refusals(self) -> tuple[int, int, list[str]]:
        """(points finished, points the config refused, their distinct reasons)."""
        finished, reasons = 0, []
        for record in self.records():
            finished += 1
            if record.get("error") is not None:
                reasons.append(record["error"])
        return finished, len(reasons), sorted(set(reasons))


def record_days(record: dict[str, Any]) -> pd.DatetimeIndex:
    if "days" in record:
        return pd.DatetimeIndex(record["days"])
    return pd.date_range(record["first_day"], periods=len(record["daily_returns"]), freq="D")


def point_line(record: dict[str, Any]) -> bytes:
    """A point's line in ``points.jsonl`` (without its newline): what the registry's ledger vouches for."""
    return json.dumps(record, sort_keys=True, default=str).encode()


def point_sha256(record: dict[str, Any]) -> str:
    """SHA256 of :func:`point_line` (a line read back and written again gives the same bytes)."""
    return hashlib.sha256(point_line(record)).hexdigest()


def daily_fields(daily: pd.Series) -> dict[str, Any]:
    """The JSON fields of a point's daily returns: the first day, and every day only when they are not
    consecutive."""
    days = [day.date() for day in pd.DatetimeIndex(daily.index)]
    fields: dict[str, Any] = {"first_day": str(days[0]) if days else None,
                              "daily_returns": [float(x) for x in daily.to_numpy()]}
    if days and days != [days[0] + timedelta(days=i) for i in range(len(days))]:
        fields["days"] = [str(day) for day in days]
    return fields


class PointWriter:
    """Appends one line per point, flushed at once (an fsync when closed)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> PointWriter:
        self._handle = open(self.path, "ab")
        if self._handle.tell() and not _ends_with_newline(self.path):
            self._handle.write(b"\n")  # fence off a torn line so the next record stays readable
        return self

    def append(self, record: dict[str, Any]) -> None:
        self._handle.write(point_line(record) + b"\n")
        self._handle.flush()

    def __exit__(self, *exc) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def _atomic_write(path: Path, text: str) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
