"""Fills priced from the bar's own path, in parts, as Kraken's book would give them (``fills="path"``).

A candle's path is taken as open -> first extreme -> second extreme -> close, the extremes at 1/3 and 2/3 of the
bar (a rising bar dips to its low first, a falling one peaks first: the usual assumption when only OHLC is known).
An order that takes liquidity works from the moment it arrives: each stretch of market time it spans yields one
trade at the mean path price over that stretch, for at most ``participation`` of the volume the candle traded in
it. A large order therefore fills in several trades over one or more bars, at prices the bar actually visited.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

DEFAULT_PARTICIPATION = 0.1


def path_vertices(o: float, h: float, low: float, c: float) -> list[tuple[float, float]]:
    """(fraction of the bar, price) of the path's corners."""
    first, second = (low, h) if c >= o else (h, low)
    return [(0.0, o), (1 / 3, first), (2 / 3, second), (1.0, c)]


def path_mean(o: float, h: float, low: float, c: float, start: float, end: float) -> float:
    """The mean price of the piecewise-linear path over the bar fractions [start, end] (0 <= start < end <= 1)."""
    vertices = path_vertices(o, h, low, c)

    def at(x: float) -> float:
        for (x0, p0), (x1, p1) in itertools.pairwise(vertices):
            if x <= x1:
                return p0 + (p1 - p0) * (x - x0) / (x1 - x0)
        return c

    cuts = [start, *(x for x, _ in vertices if start < x < end), end]
    area = sum((b - a) * (at(a) + at(b)) / 2 for a, b in itertools.pairwise(cuts))
    return area / (end - start)


@dataclass(frozen=True)
class Stretch:
    """Part of one candle's time that an order worked through, with the price and volume it offered."""

    end: datetime
    price: float
    volume: float


def stretches(candles: pd.DataFrame, bar: pd.Timedelta, since: datetime, now: datetime,
              participation: float) -> Iterator[Stretch]:
    """The pieces of the candles' paths lying in (since, now], oldest first."""
    since_ts, now_ts = pd.Timestamp(since), pd.Timestamp(now)
    if now_ts <= since_ts:
        return
    window = candles[(candles.index < now_ts) & (candles.index + bar > since_ts)]
    for start, row in window.iterrows():
        a = max((since_ts - start) / bar, 0.0)
        b = min((now_ts - start) / bar, 1.0)
        if b <= a:
            continue
        price = path_mean(row["open"], row["high"], row["low"], row["close"], a, b)
        yield Stretch((start + b * bar).to_pydatetime(), price, participation * float(row["volume"]) * (b - a))
