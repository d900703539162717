"""Keeps the closed candles a paper or live session receives, so later sessions and retraining can use them.

Kraken serves only the last 720 candles of a pair, and a session needs more history than that to warm up (the
regime detector: about 97 days of hourly bars). Without a record, the local history (``data.directory``) goes
stale while sessions run, and the downtime retraining trains on data that ends where the last export ended.

Each pair has one file in ``live.record_candles``, in Kraken's OHLCVT export layout without the trade count
(``<ALTNAME>_<minutes>.csv``: unix seconds, open, high, low, close, volume), so the loaders read it like any
export. Writes only append candles newer than the file's last one, one fsync per batch; a line torn by a crash is
cut off before the next append, so the file always parses. When new candles do not continue the file (the sessions
stopped for longer than Kraken's 720 candles reach back, leaving a gap of more than ``max_gap_bars``), the file
moves to ``archive/`` and a new one starts: the live file is always one contiguous history, which is what a
session's warm-up needs.

Several sessions may record into one folder at once (a paper and a live session with the default
``live.record_candles``): each append holds an exclusive lock on the file and reads the file's last candle under
it, so no candle is written twice. A candle is never skipped silently: when the file already holds later candles
than a session receives (a record of another exchange, or of an emulator replaying another period), the record is
left as it is and the session's log says, once per pair, that its candles are not recorded and why.

The loaders join the record to ``data.directory``'s candles (:func:`kraken_global.feeds.recorded.extend_history`).
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from kraken_global.feeds.recorded import record_file
from kraken_global.universe import Universe

log = logging.getLogger(__name__)
_TAIL_BYTES = 64 * 1024  # far more than one recorded line


def format_rows(candles: pd.DataFrame) -> str:
    """OHLCV rows as text; floats with ``repr`` (the shortest text that reads back to the same float)."""
    seconds = pd.DatetimeIndex(candles.index).as_unit("s").asi8.tolist()
    columns = [candles[c].to_numpy(dtype="float64").tolist() for c in ("open", "high", "low", "close", "volume")]
    return "".join(f"{t},{o!r},{h!r},{lo!r},{c!r},{v!r}\n" for t, o, h, lo, c, v in zip(seconds, *columns,
                                                                                         strict=True))


def _last_candle(handle: BinaryIO, path: Path) -> pd.Timestamp | None:
    """The start of the last complete candle of the open file, after cutting off a torn last line."""
    size = os.fstat(handle.fileno()).st_size
    if size == 0:
        return None
    handle.seek(max(0, size - _TAIL_BYTES))
    tail = handle.read()
    if b"\n" not in tail and size > len(tail):
        handle.seek(0)
        tail = handle.read()
    end = size - len(tail) + tail.rfind(b"\n") + 1
    if end < size:
        log.warning("%s ends with a torn line (a crash while writing): cut off", path)
        handle.truncate(end)
        handle.flush()
        os.fsync(handle.fileno())
    complete = tail[: end - (size - len(tail))]
    if not complete:
        return None
    line = complete[:-1].rsplit(b"\n", 1)[-1]
    return pd.Timestamp(int(line.split(b",", 1)[0]), unit="s")


def last_recorded(path: Path) -> pd.Timestamp | None:
    """The start of the file's last complete candle (a torn last line is cut off first); None for no file."""
    if not path.is_file():
        return None
    with _locked(path) as handle:
        return _last_candle(handle, path)


@contextmanager
def _locked(path: Path) -> Iterator[BinaryIO]:
    """``path`` opened for appending under an exclusive lock, the file at ``path`` now (another recorder may have
    moved the one this process opened to the archive while it waited for the lock)."""
    while True:
        with open(path, "a+b") as handle:  # closing it releases the lock
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                current = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                current = False
            if current:
                yield handle
                return


class CandleRecorder:
    """Appends closed candles per pair to ``directory``; see the module docstring."""

    def __init__(self, directory: Path, universe: Universe, timeframe: pd.Timedelta, max_gap_bars: int = 6) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.universe = universe
        self.timeframe = timeframe
        self.max_gap_bars = max_gap_bars
        self.not_recorded: dict[str, int] = {}  # per pair, candles the record could not take (see the docstring)

    def path(self, symbol: str) -> Path:
        return record_file(self.directory, self.universe.resolve(symbol).altname, self.timeframe)

    def record(self, symbol: str, candles: pd.DataFrame) -> int:
        """Append the candles of ``symbol`` newer than its file's last one; returns how many were written."""
        if candles.empty:
            return 0
        path = self.path(symbol)
        with _locked(path) as handle:
            try:
                last = _last_candle(handle, path)
            except ValueError:  # its last line is not a candle (an edit, another program): kept aside, not lost
                self._archive(path, "its last line is not a recorded candle")
                last, handle = None, None
            new = candles if last is None else candles[candles.index > last]
            if new.empty:
                if candles.index[-1] < last:
                    self._behind(symbol, path, last, candles)
                return 0
            if last is not None and new.index[0] - last > (self.max_gap_bars + 1) * self.timeframe:
                self._archive(path, f"its candles stop at {last} and resume at {new.index[0]}", last)
                handle = None
            if handle is None:
                with open(path, "ab") as fresh:  # the lock stays on the archived file until this is written
                    _append(fresh, new)
            else:
                _append(handle, new)
        return len(new)

    def _behind(self, symbol: str, path: Path, last: pd.Timestamp, candles: pd.DataFrame) -> None:
        """Candles older than the record's last one: said loudly once per pair, and counted."""
        if symbol not in self.not_recorded:
            log.warning("%s: candles NOT recorded: %s already holds candles up to %s, later than this session's "
                        "(%s): it is the record of another exchange or of an emulator replaying another period. "
                        "It is left as it is; set live.record_candles to another folder for this exchange "
                        "(without a record, parity cannot replay this session)", symbol, path, last,
                        candles.index[-1])
        self.not_recorded[symbol] = self.not_recorded.get(symbol, 0) + len(candles)

    def _archive(self, path: Path, why: str, last: pd.Timestamp | None = None) -> None:
        """Move the file aside to ``archive/`` (never over an earlier archive) so that a new record starts."""
        archive = self.directory / "archive"
        archive.mkdir(exist_ok=True)
        stamp = f"until-{last:%Y%m%d%H%M}" if last is not None else f"damaged-{pd.Timestamp.now('UTC'):%Y%m%d%H%M%S}"
        target = archive / f"{path.stem}.{stamp}.csv"
        number = 1
        while target.exists():
            number += 1
            target = archive / f"{path.stem}.{stamp}-{number}.csv"
        os.replace(path, target)
        log.warning("recorded candles of %s: %s; the old record moved to %s and a new one starts", path.stem, why,
                    target)


def _append(handle: BinaryIO, candles: pd.DataFrame) -> None:
    handle.seek(0, os.SEEK_END)
    handle.write(format_rows(candles).encode())
    handle.flush()
    os.fsync(handle.fileno())
