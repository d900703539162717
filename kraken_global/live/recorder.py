"""Keeps the closed candles a paper or live session receives, so later sessions and retraining can use them.

Kraken serves only the last 720 candles of a pair, and a session needs more history than that to warm up (the
regime detector: about 97 days of hourly bars). Without a record, the local history (``data.directory``) goes
stale while sessions run, and the downtime retraining trains on data that ends where the last export ended.

Each pair has one file in ``live.record_candles``, in Kraken's OHLCVT export layout without the trade count
(``<ALTNAME>_<minutes>.csv``: unix seconds, open, high, low, close, volume), so the loaders read it like any
export. Writes only append candles newer than the file's last one, one fsync per batch; a line torn by a crash is
cut off when the recorder next opens the file, so the file always parses. When new candles do not continue the
file (the sessions stopped for longer than Kraken's 720 candles reach back, leaving a gap of more than
``max_gap_bars``), the file moves to ``archive/`` and a new one starts: the live file is always one contiguous
history, which is what a session's warm-up needs.

The loaders join the record to ``data.directory``'s candles (:func:`kraken_global.feeds.recorded.extend_history`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from kraken_global.feeds.recorded import record_file
from kraken_global.universe import Universe

log = logging.getLogger(__name__)


def format_rows(candles: pd.DataFrame) -> str:
    """OHLCV rows as text; floats with ``repr`` (the shortest text that reads back to the same float)."""
    seconds = pd.DatetimeIndex(candles.index).as_unit("s").asi8.tolist()
    columns = [candles[c].to_numpy(dtype="float64").tolist() for c in ("open", "high", "low", "close", "volume")]
    return "".join(f"{t},{o!r},{h!r},{lo!r},{c!r},{v!r}\n" for t, o, h, lo, c, v in zip(seconds, *columns,
                                                                                         strict=True))


def last_recorded(path: Path) -> pd.Timestamp | None:
    """The start of the file's last complete candle, after cutting off a torn last line."""
    if not path.is_file():
        return None
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        log.warning("%s ends with a torn line (a crash while writing): cut off", path)
        with open(path, "r+b") as handle:
            handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())
    if end == 0:
        return None
    line = data[:end - 1].rsplit(b"\n", 1)[-1]
    return pd.Timestamp(int(line.split(b",", 1)[0]), unit="s")


class CandleRecorder:
    """Appends closed candles per pair to ``directory``; see the module docstring."""

    def __init__(self, directory: Path, universe: Universe, timeframe: pd.Timedelta, max_gap_bars: int = 6) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.universe = universe
        self.timeframe = timeframe
        self.max_gap_bars = max_gap_bars
        self._last: dict[str, pd.Timestamp | None] = {}

    def path(self, symbol: str) -> Path:
        return record_file(self.directory, self.universe.resolve(symbol).altname, self.timeframe)

    def record(self, symbol: str, candles: pd.DataFrame) -> int:
        """Append the candles of ``symbol`` newer than its file's last one; returns how many were written."""
        path = self.path(symbol)
        if symbol not in self._last:
            self._last[symbol] = last_recorded(path)
        last = self._last[symbol]
        new = candles if last is None else candles[candles.index > last]
        if new.empty:
            return 0
        if last is not None and new.index[0] - last > (self.max_gap_bars + 1) * self.timeframe:
            self._archive(path, last, new.index[0])
        with open(path, "a") as handle:
            handle.write(format_rows(new))
            handle.flush()
            os.fsync(handle.fileno())
        self._last[symbol] = new.index[-1]
        return len(new)

    def _archive(self, path: Path, last: pd.Timestamp, resumed: pd.Timestamp) -> None:
        archive = self.directory / "archive"
        archive.mkdir(exist_ok=True)
        target = archive / f"{path.stem}.until-{last:%Y%m%d%H%M}.csv"
        os.replace(path, target)
        log.warning("recorded candles of %s stop at %s and resume at %s: the old record moved to %s",
                    path.stem, last, resumed, target)

