"""``data list``: what a data folder holds - pairs, timeframes, first and last bar, gaps - per file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kraken_global.errors import DataError
from kraken_global.feeds.formats import read_raw
from kraken_global.feeds.sources import _timeframe_from_name
from kraken_global.feeds.timeframes import timeframe_name
from kraken_global.feeds.validation import infer_timeframe

DATA_SUFFIXES = (".csv", ".csv.gz")


@dataclass
class FileSummary:
    file: str
    pair: str
    format: str
    timeframe: str
    rows: int
    first_bar: str
    last_bar: str
    missing_bars: int
    largest_gap_bars: int
    problem: str = ""


def summarize_folder(folder: Path) -> list[FileSummary]:
    """One summary per data file of ``folder`` (a file that does not read is listed with its problem)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("data directory not found", str(folder))
    out = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(DATA_SUFFIXES)):
        out.append(summarize_file(path))
    return out


def summarize_file(path: Path) -> FileSummary:
    stem = path.name.split(".")[0]
    pair = stem.removeprefix("Kraken_").rsplit("_", 1)[0] if "_" in stem else stem
    try:
        raw, fmt = read_raw(path)
    except DataError as exc:
        return FileSummary(path.name, pair, "?", "?", 0, "", "", 0, 0, str(exc))
    stamps = raw["timestamp"].dropna().sort_values()
    if stamps.empty:
        return FileSummary(path.name, pair, fmt, "?", 0, "", "", 0, 0, "no rows")
    if fmt == "trades":
        return FileSummary(path.name, pair, fmt, "trades", len(raw), str(stamps.iloc[0]), str(stamps.iloc[-1]), 0, 0)
    index = pd.DatetimeIndex(stamps.drop_duplicates())
    step = _timeframe_from_name(path) or (infer_timeframe(index) if len(index) > 1 else pd.Timedelta(hours=1))
    missing = (index.to_series().diff() / step - 1).fillna(0).clip(lower=0)
    return FileSummary(path.name, pair, fmt, timeframe_name(step), len(raw), str(index[0]), str(index[-1]),
                       int(missing.sum()), int(missing.max()))
