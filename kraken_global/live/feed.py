"""The live feed: history first, then only closed candles, with backtrader's live status notifications.

Start: the local history (older candles, e.g. the bundled data or a download) is merged with the latest 720
candles from Kraken's ``OHLC`` (Kraken wins where they overlap), the still-forming last candle is dropped, and the
result is replayed with status DELAYED. Then the feed polls every ``poll_seconds`` and emits each candle once it
has closed (Kraken's ``OHLC`` always returns the forming candle last), with status LIVE. A failed poll notifies
DISCONNECTED once and the feed keeps trying; the next good poll notifies LIVE again. Bars are stamped at their
close, as :class:`~kraken_global.feeds.NumpyFeed` stamps them, so backtests and live runs see the same times.
``max_live_bars`` and ``max_idle_seconds`` end the feed (for bounded sessions and tests).
"""

from __future__ import annotations

import time
from collections import deque

import backtrader as bt
import pandas as pd

from kraken_global.feeds.timeframes import parse_timeframe
from kraken_global.live.errors import LiveError

_COLUMNS = ("open", "high", "low", "close", "volume")


def candles_from_ohlcv(rows: list[list[float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["ms", *_COLUMNS])
    frame.index = pd.to_datetime(frame.pop("ms"), unit="ms").rename("datetime")
    return frame.astype("float64")


class KrakenLiveFeed(bt.feed.DataBase):
    params = (
        ("store", None),
        ("symbol", "BTC/USD"),
        ("interval", "1h"),
        ("history", None),
        ("poll_seconds", 5.0),
        ("max_live_bars", None),
        ("max_idle_seconds", None),
    )

    def __init__(self) -> None:
        super().__init__()
        self.bar = parse_timeframe(self.p.interval)
        self.queue: deque[tuple[pd.Timestamp, pd.Series]] = deque()
        self.last_start: pd.Timestamp | None = None
        self.live_bars = 0
        self.statuses: list[str] = []
        self._next_poll = 0.0
        self._disconnected = False
        self._last_bar_at = time.monotonic()

    def islive(self) -> bool:
        return True

    def _status(self, status: int) -> None:
        self.statuses.append(self._getstatusname(status))
        self.put_notification(status)

    def start(self) -> None:
        super().start()
        self._status(self.DELAYED)
        recent = candles_from_ohlcv(self.p.store.fetch_ohlcv(self.p.symbol, self.p.interval))
        history = self.p.history if self.p.history is not None else recent.iloc[:0]
        merged = pd.concat([history[list(_COLUMNS)], recent.iloc[:-1]])
        merged = merged[~merged.index.duplicated(keep="last")].sort_index()
        self._enqueue(merged)

    def _enqueue(self, frame: pd.DataFrame) -> int:
        added = 0
        for start, row in frame.iterrows():
            if self.last_start is None or start > self.last_start:
                self.queue.append((start, row))
                self.last_start = start
                added += 1
        return added

    def _poll(self) -> None:
        now = time.monotonic()
        if now < self._next_poll:
            return
        self._next_poll = now + self.p.poll_seconds
        since = int((self.last_start + self.bar).value // 1_000_000) if self.last_start is not None else None
        try:
            rows = self.p.store.fetch_ohlcv(self.p.symbol, self.p.interval, since)
        except LiveError:
            if not self._disconnected:
                self._disconnected = True
                self._status(self.DISCONNECTED)
            return
        if self._disconnected:
            self._disconnected = False
        closed = candles_from_ohlcv(rows).iloc[:-1]  # the last candle is still forming
        self._enqueue(closed)

    def _load(self) -> bool | None:
        if not self.queue:
            if self.p.max_live_bars is not None and self.live_bars >= self.p.max_live_bars:
                return False
            if not self.statuses or self.statuses[-1] != "LIVE":
                self._status(self.LIVE)
            self._poll()
            if not self.queue:
                idle = time.monotonic() - self._last_bar_at
                if self.p.max_idle_seconds is not None and idle > self.p.max_idle_seconds:
                    return False
                return None
            self.live_bars += len(self.queue) if self.statuses[-1] == "LIVE" else 0
        self._last_bar_at = time.monotonic()
        start, row = self.queue.popleft()
        self.lines.datetime[0] = bt.date2num((start + self.bar).to_pydatetime())
        for column in _COLUMNS:
            getattr(self.lines, column)[0] = float(row[column])
        self.lines.openinterest[0] = 0.0
        return True
