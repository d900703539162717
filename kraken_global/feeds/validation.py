"""Checks that raw candles and trades are usable, and the documented repair for gaps.

Every check raises :class:`~kraken_global.errors.DataError` naming the file, the first offending line and the
problem, with a count of further lines that share it. Rows come out oldest first on a regular grid with the
timestamp at the candle's START (Kraken's convention).

Gap policy: Kraken writes no OHLCVT row for an interval without trades. A gap of up to ``max_fill`` missing
bars is filled with flat bars (open = high = low = close = previous close, volume 0), which is what the market
looked like. A longer gap raises, unless ``on_larger_gap="fill"`` asks for the same repair there too.

Price jumps: a bar whose close is ``max_jump`` times (or 1/``max_jump`` of) the previous close, or whose high or
low is that far from its own body, cannot be a market price (a 1000x print, a misplaced decimal point). It
raises, unless ``on_jump="repair"``: a one-bar spike (the next close returns near the previous one) is then made
flat at the previous close and a wild wick is cut to the body; the count is reported (``repaired_bars``). A jump
that does not revert is a level change no repair can guess, and stays an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from kraken_global.errors import DataError
from kraken_global.feeds.formats import CANDLE_COLUMNS, PRICE_COLUMNS
from kraken_global.feeds.timeframes import timeframe_name


@dataclass(frozen=True)
class GapPolicy:
    """How missing bars and implausible price jumps are handled; see the module docstring."""

    max_fill: int = 6
    on_larger_gap: Literal["error", "fill"] = "error"
    max_jump: float | None = 10.0
    on_jump: Literal["error", "repair"] = "error"


DEFAULT_GAPS = GapPolicy()


def _fail(path: str, raw: pd.DataFrame, mask: np.ndarray | pd.Series, problem) -> None:
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return
    positions = np.flatnonzero(mask)
    first = positions[0]
    more = len(positions) - 1
    suffix = f" (and {more} more row{'s' if more > 1 else ''} with this problem)" if more else ""
    message = problem(first) if callable(problem) else problem
    row = int(raw["row"].iloc[first]) if "row" in raw else None  # candles built from trades have no file line
    raise DataError(f"{message}{suffix}", path, row)


def validate_candles(
    raw: pd.DataFrame,
    path: str,
    *,
    newest_first: bool = False,
    timeframe: pd.Timedelta | None = None,
    gaps: GapPolicy = DEFAULT_GAPS,
) -> pd.DataFrame:
    """Validate raw candle rows (from :mod:`formats`) and return clean candles indexed by start time."""
    if raw.empty:
        raise DataError("no rows", path)
    _fail(path, raw, raw["timestamp"].isna(), "timestamp missing or unparseable")
    for column in CANDLE_COLUMNS:
        _fail(path, raw, raw[column].isna(), f"missing or non-numeric value (NaN) in column {column!r}")
        values = raw[column]
        _fail(path, raw, np.isinf(values.to_numpy()),
              lambda i, c=column, v=values: f"non-finite value {v.iloc[i]} in column {c!r}")
    for column in PRICE_COLUMNS:
        values = raw[column]
        _fail(path, raw, values <= 0, lambda i, c=column, v=values: f"non-positive price in column {c!r}: {v.iloc[i]}")
    _fail(path, raw, raw["high"] < raw["low"],
          lambda i: f"high {raw['high'].iloc[i]} < low {raw['low'].iloc[i]}")
    body_high = raw[["open", "close"]].max(axis=1)
    body_low = raw[["open", "close"]].min(axis=1)
    _fail(path, raw, (raw["high"] < body_high) | (raw["low"] > body_low),
          "open or close outside the high-low range")
    _fail(path, raw, raw["volume"] < 0, lambda i: f"negative volume {raw['volume'].iloc[i]}")

    stamps = raw["timestamp"]
    duplicated = stamps.duplicated(keep="first").to_numpy()
    _fail(path, raw, duplicated, lambda i: f"duplicate timestamp {stamps.iloc[i]}")
    step = stamps.diff().to_numpy()
    backwards = step > np.timedelta64(0) if newest_first else step < np.timedelta64(0)
    order = "newest first" if newest_first else "oldest first"
    _fail(path, raw, backwards, lambda i: f"unsorted: timestamp {stamps.iloc[i]} breaks the {order} order "
          f"after {stamps.iloc[i - 1]}")

    candles = raw.set_index("timestamp")
    if newest_first:
        candles = candles.iloc[::-1]
    candles.index.name = "datetime"
    candles = check_jumps(candles, path, gaps)
    repaired = candles.attrs.get("repaired_bars", 0)
    out = fill_gaps(candles, path, timeframe, gaps)
    out.attrs["repaired_bars"] = repaired
    return out


def check_jumps(candles: pd.DataFrame, path: str, gaps: GapPolicy) -> pd.DataFrame:
    """Raise on (or, by the policy, repair) implausible price jumps; see the module docstring. ``candles``
    oldest first with a ``row`` column."""
    if gaps.max_jump is None or len(candles) < 2:
        return candles
    limit = np.log(gaps.max_jump)
    close = candles["close"].to_numpy()
    body_high = np.maximum(candles["open"].to_numpy(), close)
    body_low = np.minimum(candles["open"].to_numpy(), close)
    step = np.abs(np.diff(np.log(close), prepend=np.log(close[0])))
    wick = (np.log(candles["high"].to_numpy() / body_high) >= limit) | \
        (np.log(body_low / candles["low"].to_numpy()) >= limit)
    jump = step >= limit
    if gaps.on_jump == "repair":
        candles = candles.copy()
        after = np.r_[close[2:], np.nan] if len(close) > 2 else np.full(len(close) - 1, np.nan)
        before = close[:-1]
        spike = np.r_[False, jump[1:] & (np.abs(np.log(after / before)) < limit)]
        flat = np.r_[np.nan, before][spike]
        for column in ("open", "high", "low", "close"):
            candles.loc[spike, column] = flat
        jump &= ~spike
        jump[1:] &= ~spike[:-1]  # the bar after a repaired spike comes back from it, not from a jump
        fixed = wick & ~spike
        candles.loc[fixed, "high"] = np.maximum(candles["open"], candles["close"])[fixed]
        candles.loc[fixed, "low"] = np.minimum(candles["open"], candles["close"])[fixed]
        candles.attrs["repaired_bars"] = int(spike.sum() + fixed.sum())
        wick = np.zeros_like(wick)
    hint = "set data.gaps.on_jump: repair to flatten one-bar spikes, or raise data.gaps.max_jump"
    frame = candles.reset_index()
    _fail(path, frame, jump, lambda i: f"implausible price jump: close {close[i]} after {close[i - 1]} "
          f"(more than {gaps.max_jump:g}x; {hint})")
    _fail(path, frame, wick, lambda i: f"implausible high/low {candles['high'].iloc[i]}/{candles['low'].iloc[i]} "
          f"around a body of {body_low[i]}-{body_high[i]} (more than {gaps.max_jump:g}x; {hint})")
    return candles


def off_tick_bars(candles: pd.DataFrame, tick_size: float, symbol: str, path: str) -> int:
    """How many bars of ``candles`` have a price finer than the pair's tick (Kraken's ticks were finer in past years,
    so they are counted and reported, not refused); a price below one tick is no price of this pair (another
    pair's file, a scaled export: every fill would round to 0 or to a multiple of the price) and raises."""
    prices = candles[list(PRICE_COLUMNS)].to_numpy(dtype="float64")
    below = (prices < tick_size).any(axis=1)
    if below.any():
        i = int(np.flatnonzero(below)[0])
        raise DataError(f"price {prices[i].min():g} at {candles.index[i]} is below {symbol}'s tick {tick_size:g}: "
                        f"is this the file of another pair? (and {int(below.sum()) - 1} more such bars)", path)
    steps = prices / tick_size
    return int((np.abs(steps - np.round(steps)) > 1e-6 + 1e-9 * steps).any(axis=1).sum())


def infer_timeframe(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The most common spacing of ``index`` (the regular bar size of a file with some gaps)."""
    if len(index) < 2:
        raise DataError("need at least 2 rows to infer the timeframe")
    diffs = pd.Series(index[1:] - index[:-1])
    return diffs.mode().iloc[0]


def fill_gaps(candles: pd.DataFrame, path: str, timeframe: pd.Timedelta | None, gaps: GapPolicy) -> pd.DataFrame:
    """Put ``candles`` (sorted, unique) on a regular grid, filling gaps as the policy allows."""
    tf = timeframe or infer_timeframe(candles.index)
    # Kraken's candles start on the UTC grid of their size (a 1h candle on the hour, 4h at 00:00, 04:00, ...): a
    # file shifted off it, or with fractional-second stamps, is another clock's data, not a Kraken candle
    origin = pd.Timestamp(0) if pd.Timedelta(days=1) % tf == pd.Timedelta(0) else candles.index[0]
    misaligned = np.asarray((candles.index - origin) % tf != pd.Timedelta(0))
    size = timeframe_name(tf)
    _fail(path, candles.reset_index(), misaligned,
          lambda i: f"timestamp {candles.index[i]} is not on the {size} grid of this file (a {size} candle starts "
                    f"at a whole multiple of {size} from {origin:%Y-%m-%d %H:%M} UTC)")
    missing = (candles.index.to_series().diff() / tf - 1).fillna(0).astype("int64").to_numpy()
    if gaps.on_larger_gap == "error":
        too_long = missing > gaps.max_fill
        _fail(path, candles.reset_index(), too_long,
              lambda i: f"gap of {missing[i]} missing bars before {candles.index[i]} (tolerance {gaps.max_fill}; "
              "set data.gaps.on_larger_gap: fill to forward-fill it with zero-volume bars)")
    columns = [c for c in candles.columns if c != "row"]
    grid = pd.date_range(candles.index[0], candles.index[-1], freq=tf, name="datetime")
    out = candles[columns].reindex(grid)
    filled = out["close"].isna()
    if filled.any():
        close = out["close"].ffill()
        for column in PRICE_COLUMNS:
            out[column] = out[column].fillna(close)
        out["volume"] = out["volume"].fillna(0.0)
        if "trades" in out:
            out["trades"] = out["trades"].fillna(0)
    out.attrs["filled_bars"] = int(filled.sum())
    out.attrs["timeframe"] = tf
    return out


def validate_trades(raw: pd.DataFrame, path: str) -> pd.DataFrame:
    """Validate raw trade rows: parseable time, positive price, non-negative volume, oldest first."""
    if raw.empty:
        raise DataError("no rows", path)
    _fail(path, raw, raw["timestamp"].isna(), "timestamp missing or unparseable")
    for column in ("price", "volume"):
        _fail(path, raw, raw[column].isna(), f"missing or non-numeric value (NaN) in column {column!r}")
    _fail(path, raw, raw["price"] <= 0, lambda i: f"non-positive price {raw['price'].iloc[i]}")
    _fail(path, raw, raw["volume"] < 0, lambda i: f"negative volume {raw['volume'].iloc[i]}")
    stamps = raw["timestamp"]
    _fail(path, raw, stamps.diff().to_numpy() < np.timedelta64(0),
          lambda i: f"unsorted: trade at {stamps.iloc[i]} comes after {stamps.iloc[i - 1]}")
    return raw.set_index("timestamp")[["price", "volume"]]
