"""Trades into candles in bounded memory: chunk by chunk, carrying only the candle still open.

Kraken's full BTC trade history is hundreds of millions of rows; :func:`read_trade_candles` reads a trade file
(``unix_seconds,price,volume``, no header, oldest first, ``.gz``/``.zip`` or plain) ``chunk_rows`` at a time and
feeds :class:`CandleBuilder`, so memory holds one chunk plus the candles, whatever the file's size. Every chunk is
checked as a candle file is: unparseable or non-finite values, non-positive prices, negative volume and
unsorted rows are errors naming the file and the line.

Candles come out as Kraken's OHLCVT export writes them: one row per interval that had trades, stamped at the
interval's start. Intervals without trades are left out; the loader's gap policy decides about them, as for any
candle file (:func:`kraken_global.feeds.validation.fill_gaps`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kraken_global.errors import DataError
from kraken_global.feeds.formats import DAMAGED, damaged

CHUNK_ROWS = 500_000
COLUMNS = ("open", "high", "low", "close", "volume", "trades")


@dataclass
class _Open:
    bucket: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int


class CandleBuilder:
    """Aggregates sorted trades, chunk after chunk, into candles of ``timeframe``.

    :meth:`add` returns the candles completed by a chunk (every bucket before the chunk's last one); the last
    bucket stays open, since the next chunk may add to it. :meth:`flush` returns it at the end of the data.
    """

    def __init__(self, timeframe: pd.Timedelta) -> None:
        self.step = int(pd.Timedelta(timeframe).value)
        self.pending: _Open | None = None
        self.last_time: int | None = None

    def add(self, times_ns: np.ndarray, prices: np.ndarray, volumes: np.ndarray) -> pd.DataFrame:
        """Candles completed by these trades (times in ns, sorted, not before earlier chunks' trades)."""
        if len(times_ns) == 0:
            return _frame(np.array([], dtype="int64"), *([np.array([])] * 6))
        buckets = times_ns // self.step
        starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
        ends = np.r_[starts[1:], len(buckets)]
        keys = buckets[starts]
        opens = prices[starts]
        closes = prices[ends - 1]
        highs = np.maximum.reduceat(prices, starts)
        lows = np.minimum.reduceat(prices, starts)
        vols = np.add.reduceat(volumes, starts)
        counts = (ends - starts).astype("int64")
        if self.pending is not None:
            p = self.pending
            if keys[0] == p.bucket:  # the chunk continues the open candle
                opens[0] = p.open
                highs[0] = max(highs[0], p.high)
                lows[0] = min(lows[0], p.low)
                vols[0] += p.volume
                counts[0] += p.trades
            else:
                keys = np.r_[p.bucket, keys]
                opens, highs, lows = np.r_[p.open, opens], np.r_[p.high, highs], np.r_[p.low, lows]
                closes, vols, counts = np.r_[p.close, closes], np.r_[p.volume, vols], np.r_[p.trades, counts]
        self.pending = _Open(int(keys[-1]), float(opens[-1]), float(highs[-1]), float(lows[-1]), float(closes[-1]),
                             float(vols[-1]), int(counts[-1]))
        self.last_time = int(times_ns[-1])
        return _frame(keys[:-1] * self.step, opens[:-1], highs[:-1], lows[:-1], closes[:-1], vols[:-1], counts[:-1])

    def flush(self) -> pd.DataFrame:
        """The open candle, as the last one of the data (empty frame if there is none)."""
        p, self.pending = self.pending, None
        if p is None:
            return _frame(np.array([], dtype="int64"), *([np.array([])] * 6))
        return _frame(np.array([p.bucket * self.step]), np.array([p.open]), np.array([p.high]), np.array([p.low]),
                      np.array([p.close]), np.array([p.volume]), np.array([p.trades]))


def _frame(start_ns, opens, highs, lows, closes, vols, counts) -> pd.DataFrame:
    index = pd.DatetimeIndex(np.asarray(start_ns, dtype="int64").astype("datetime64[ns]"), name="datetime")
    return pd.DataFrame({"open": opens, "high": highs, "low": lows, "close": closes, "volume": vols,
                         "trades": np.asarray(counts, dtype="float64")}, index=index)


def iter_trade_chunks(path: Path, chunk_rows: int = CHUNK_ROWS, opener=None) -> Iterator[tuple[int, pd.DataFrame]]:
    """(first file line, chunk) of a trade file, each chunk validated; see the module docstring. ``opener``: a
    callable giving a fresh binary file to read instead of ``path`` (a zip member; ``path`` then names it).

    Chunks are parsed straight to floats (pandas' C parser, the fast path). A field that is not a number stops
    that parser without saying where, so the file is then read again as text to name the line."""
    path = Path(path)
    line, last = 1, None
    try:
        with _source(path, opener) as (source, compression):
            reader = pd.read_csv(source, header=None, names=["time", "price", "volume"], dtype="float64",
                                 chunksize=chunk_rows, compression=compression)
            for chunk in reader:
                if not isinstance(chunk.index, pd.RangeIndex):  # more fields than names: pandas made an index
                    raise DataError("trades: expected 3 columns (unix_seconds,price,volume); force another "
                                    "layout with --format / data.format", str(path), line)
                values = {c: chunk[c].to_numpy() for c in ("time", "price", "volume")}
                _check(path, line, values, last)
                last = values["time"][-1]
                yield line, chunk
                line += len(chunk)
    except (pd.errors.ParserError, ValueError) as exc:
        _locate_bad_field(path, opener, line, chunk_rows)
        raise DataError(f"cannot parse as trades: {exc}; if the file is in another layout, force it with --format "
                        "or data.format", str(path)) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"cannot parse as trades: {exc}", str(path)) from exc
    except DAMAGED as exc:
        raise damaged(exc, path) from exc


@contextmanager
def _source(path: Path, opener):
    if opener is None:
        yield path, ("zip" if path.suffix == ".zip" else "infer")
        return
    with opener() as handle:
        yield handle, None


def _locate_bad_field(path: Path, opener, line: int, chunk_rows: int) -> None:
    """Re-read the failing chunk as text and raise the error at its line (returns if it cannot find it)."""
    with _source(path, opener) as (source, compression):
        chunk = pd.read_csv(source, header=None, names=["time", "price", "volume"], dtype=str,
                            compression=compression, keep_default_na=False, skiprows=line - 1,
                            nrows=chunk_rows, on_bad_lines="skip")
    values = {c: pd.to_numeric(chunk[c], errors="coerce").to_numpy("float64") for c in ("time", "price", "volume")}
    _check(path, line, values, None)


def _check(path: Path, line: int, values: dict[str, np.ndarray], previous: float | None) -> None:
    def fail(mask: np.ndarray, message) -> None:
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise DataError(message(i) if callable(message) else message, str(path), line + i)

    for column in ("time", "price", "volume"):
        v = values[column]
        fail(np.isnan(v), f"missing or non-numeric value in column {column!r}")
        fail(np.isinf(v), lambda i, c=column, v=v: f"non-finite value {v[i]} in column {c!r}")
    fail(values["price"] <= 0, lambda i: f"non-positive price {values['price'][i]}")
    fail(values["volume"] < 0, lambda i: f"negative volume {values['volume'][i]}")
    times = values["time"]
    back = np.r_[previous is not None and times[0] < previous, times[1:] < times[:-1]]
    fail(back, lambda i: f"unsorted: trade at {times[i]} comes after an earlier, later trade")


def read_trade_candles(path: Path, timeframe: pd.Timedelta, chunk_rows: int = CHUNK_ROWS,
                       on_chunk=None, opener=None) -> pd.DataFrame:
    """Candles of ``timeframe`` (intervals with trades only) from a trade file, streamed in chunks.
    ``on_chunk(rows)``: progress callback; ``opener``: see :func:`iter_trade_chunks`."""
    builder = CandleBuilder(timeframe)
    parts = []
    for _, chunk in iter_trade_chunks(path, chunk_rows, opener):
        times = np.round(chunk["time"].to_numpy() * 1e9).astype("int64")
        parts.append(builder.add(times, chunk["price"].to_numpy(), chunk["volume"].to_numpy()))
        if on_chunk is not None:
            on_chunk(len(chunk))
    parts.append(builder.flush())
    if not any(len(p) for p in parts):
        raise DataError("no rows", str(path))
    out = pd.concat([p for p in parts if len(p)])
    out.attrs["timeframe"] = pd.Timedelta(timeframe)
    return out
