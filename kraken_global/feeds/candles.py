"""Turning trades into candles and candles into longer candles, without inventing prices.

Candles are stamped at their START and cover ``[start, start + timeframe)``, as Kraken stamps them.
A resampled bucket that is not complete (the first or last one of the data) is dropped, so a 4h candle is
always made of four 1h candles.
"""

from __future__ import annotations

import pandas as pd

from kraken_global.errors import DataError

_OHLCV = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


def trades_to_candles(trades: pd.DataFrame, timeframe: pd.Timedelta) -> pd.DataFrame:
    """OHLCV candles of ``timeframe`` from trades (index: time; columns price, volume).

    Intervals without trades become flat zero-volume candles at the previous close: on a quiet pair that is
    the true state of the market, unlike a gap in a candle export.
    """
    buckets = trades.index.floor(timeframe)
    grouped = trades.groupby(buckets)
    candles = grouped["price"].agg(["first", "max", "min", "last"])
    candles.columns = ["open", "high", "low", "close"]
    candles["volume"] = grouped["volume"].sum()
    candles["trades"] = grouped["price"].size().astype("float64")
    grid = pd.date_range(candles.index[0], candles.index[-1], freq=timeframe, name="datetime")
    candles = candles.reindex(grid)
    close = candles["close"].ffill()
    for column in ("open", "high", "low", "close"):
        candles[column] = candles[column].fillna(close)
    candles[["volume", "trades"]] = candles[["volume", "trades"]].fillna(0.0)
    candles.attrs["timeframe"] = timeframe
    return candles


def resample_candles(candles: pd.DataFrame, source: pd.Timedelta, target: pd.Timedelta) -> pd.DataFrame:
    """Aggregate ``candles`` of ``source`` timeframe into ``target`` candles (a whole multiple of it)."""
    if target == source:
        return candles
    ratio = target / source
    if target < source or ratio != int(ratio):
        raise DataError(f"cannot resample {source} candles to {target}: the target must be a whole multiple")
    rules = {c: r for c, r in _OHLCV.items() if c in candles}
    if "trades" in candles:
        rules["trades"] = "sum"
    resampler = candles.resample(target, label="left", closed="left")
    out = resampler.agg(rules)
    counts = resampler["close"].count()
    out = out[counts == int(ratio)]
    out.index.name = "datetime"
    out.attrs["timeframe"] = target
    return out
