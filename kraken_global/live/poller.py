"""Closed candles for several pairs, released in lock-step.

backtrader moves a multi-feed live run forward at the earliest new bar among its feeds. If each pair's feed polled
Kraken on its own, a candle that closes between two polls would reach BTC/USD in one loop and ETH/USD in the next,
and the strategies (and the regime detector, which reads every pair's close) would see bar *t* of one pair next to
bar *t-1* of another, unlike the backtest. The poller fetches every pair in one round and releases candles only up
to the latest start that **every** pair has closed, so all feeds get bar *t* in the same loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pandas as pd

from kraken_global.feeds.timeframes import parse_timeframe

log = logging.getLogger(__name__)
_COLUMNS = ("open", "high", "low", "close", "volume")


def candles_from_ohlcv(rows: list[list[float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["ms", *_COLUMNS])
    frame.index = pd.to_datetime(frame.pop("ms"), unit="ms").rename("datetime")
    return frame.astype("float64")


class CandlePoller:
    """One polling schedule for all the feeds of a run. Raises the store's ``LiveError`` when a round fails."""

    def __init__(self, store, symbols: list[str], interval: str = "1h", poll_seconds: float = 5.0,
                 on_closed: Callable[[str, pd.DataFrame], object] | None = None,
                 on_polled: Callable[[], object] | None = None) -> None:
        """``on_closed(symbol, candles)``: called with each batch of released candles (the session's record);
        ``on_polled()``: after each round the exchange answered (the session's heartbeat, between two bars)."""
        self.store = store
        self.on_closed = on_closed
        self.on_polled = on_polled
        self.symbols = list(symbols)
        self.interval = interval
        self.bar = parse_timeframe(interval)
        self.poll_seconds = poll_seconds
        self.released: dict[str, pd.Timestamp | None] = dict.fromkeys(self.symbols)
        self.pending: dict[str, pd.DataFrame] = {}
        self.market_now: pd.Timestamp | None = None  # the latest forming candle's start: the exchange is past it
        self._next_round = 0.0

    def add(self, symbol: str) -> None:
        if symbol not in self.released:
            self.symbols.append(symbol)
            self.released[symbol] = None

    def take(self, symbol: str, force: bool = False) -> pd.DataFrame:
        """The closed candles of ``symbol`` not taken before (polling first when a round is due)."""
        if symbol not in self.pending and (force or time.monotonic() >= self._next_round):
            self._round()
        return self.pending.pop(symbol, pd.DataFrame(columns=list(_COLUMNS), dtype="float64"))

    def _since(self, symbol: str) -> int | None:
        last = self.released[symbol]
        return None if last is None else int((last + self.bar).value // 1_000_000)

    def _round(self) -> None:
        self._next_round = time.monotonic() + self.poll_seconds
        fetched = {}
        for symbol in self.symbols:
            # Kraken's OHLC always ends with the candle still forming: drop it (its start says where the market is)
            candles = candles_from_ohlcv(self.store.fetch_ohlcv(symbol, self.interval, self._since(symbol)))
            if len(candles) and (self.market_now is None or candles.index[-1] > self.market_now):
                self.market_now = candles.index[-1]
            fetched[symbol] = candles.iloc[:-1]
        self._polled()
        if any(frame.empty for frame in fetched.values()):
            return
        cutoff = min(frame.index[-1] for frame in fetched.values())
        for symbol, frame in fetched.items():
            last = self.released[symbol]
            new = frame[(frame.index <= cutoff) & ((frame.index > last) if last is not None else True)]
            if new.empty:
                continue
            self.pending[symbol] = pd.concat([self.pending[symbol], new]) if symbol in self.pending else new
            self.released[symbol] = new.index[-1]
            self._record(symbol, new)

    def _polled(self) -> None:
        if self.on_polled is None:
            return
        try:
            self.on_polled()
        except OSError as exc:  # a status file that cannot be written must not stop trading
            log.error("could not write the session's heartbeat: %s", exc)

    def _record(self, symbol: str, candles: pd.DataFrame) -> None:
        if self.on_closed is None:
            return
        try:
            self.on_closed(symbol, candles)
        except OSError as exc:  # a full or failing disk must not stop trading; these candles stay unrecorded
            log.error("could not record the candles of %s: %s", symbol, exc)
