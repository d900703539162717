"""The live feed: history first, then only closed candles, with backtrader's live status notifications.

Start: the local history (older candles, e.g. the bundled data or a download) is merged with the latest 720
candles from Kraken's ``OHLC`` (Kraken wins where they overlap), the still-forming last candle is dropped, and the
result is replayed with status DELAYED. Then the feed polls every ``poll_seconds`` and emits each candle once it
has closed (Kraken's ``OHLC`` always returns the forming candle last), with status LIVE. A failed poll notifies
DISCONNECTED once and the feed keeps trying; the next good poll notifies LIVE again. Bars are stamped at their
close, as :class:`~kraken_global.feeds.NumpyFeed` stamps them, so backtests and live runs see the same times.
``max_live_bars`` and ``max_idle_seconds`` end the feed (for bounded sessions and tests); so does ``stop`` (a
:class:`~kraken_global.sessions.stop.StopRequest`), checked before each bar: the ``leader`` feed (the first one added,
which backtrader loads first in each loop) latches it, the others follow the latched value.

For the parity report (:mod:`kraken_global.replay.parity`) the feed keeps what a replay needs:
:attr:`replayed` (span, count and SHA256 of the candles replayed at start) and :attr:`live_from` (the close time of
the first bar emitted after LIVE: the first bar on which strategies may act) and :attr:`last_bar`.
"""

from __future__ import annotations

import logging
import time
from collections import deque

import backtrader as bt
import pandas as pd

from kraken_global.feeds.fingerprint import candles_fingerprint
from kraken_global.feeds.timeframes import parse_timeframe
from kraken_global.live.errors import LiveError
from kraken_global.live.poller import CandlePoller

log = logging.getLogger(__name__)
_COLUMNS = ("open", "high", "low", "close", "volume")
_IDLE_SLEEP = 0.01  # seconds; keeps cerebro's loop from spinning a core while waiting for the next candle


class KrakenLiveFeed(bt.feed.DataBase):
    """``poller``: a :class:`CandlePoller` shared by all feeds of the run (one is made for this feed alone when
    only ``store`` is given). ``history``: older candles (start-stamped frame) replayed before Kraken's."""

    params = (
        ("store", None),
        ("poller", None),
        ("symbol", "BTC/USD"),
        ("interval", "1h"),
        ("history", None),
        ("poll_seconds", 5.0),
        ("max_live_bars", None),
        ("max_idle_seconds", None),
        ("stop", None),
        ("leader", True),
    )

    @classmethod
    def with_lines(cls, *names: str) -> type[KrakenLiveFeed]:
        """A subclass with extra lines (NaN when loaded), for values computed during the run (regime plan,
        model probability)."""
        return type(f"{cls.__name__}_{'_'.join(names)}", (cls,), {"lines": tuple(names)})

    def __init__(self) -> None:
        super().__init__()
        self.bar = parse_timeframe(self.p.interval)
        self.poller: CandlePoller = self.p.poller or CandlePoller(self.p.store, [self.p.symbol], self.p.interval,
                                                                   self.p.poll_seconds)
        self.poller.add(self.p.symbol)
        self.extra_lines = [name for name in self.lines.getlinealiases() if name not in
                            ("close", "low", "high", "open", "volume", "openinterest", "datetime")]
        self.queue: deque[tuple[pd.Timestamp, pd.Series]] = deque()
        self.last_start: pd.Timestamp | None = None
        self.live_bars = 0
        self.statuses: list[str] = []
        self.replayed: dict = {}
        self.live_from: pd.Timestamp | None = None
        self.last_bar: pd.Timestamp | None = None
        self._disconnected = False
        self._live_phase = False  # True from the first LIVE status on: the bars after it count as live bars
        self._last_bar_at = time.monotonic()

    def islive(self) -> bool:
        return True

    def _status(self, status: int) -> None:
        self.statuses.append(self._getstatusname(status))
        self.put_notification(status)

    def start(self) -> None:
        super().start()
        self._status(self.DELAYED)
        recent = self.poller.take(self.p.symbol, force=True)
        if self.p.history is not None:
            recent = pd.concat([self.p.history[list(_COLUMNS)], recent])
            recent = recent[~recent.index.duplicated(keep="last")].sort_index()
        self.replayed = replay_fingerprint(recent)
        self._enqueue(recent)

    def _enqueue(self, frame: pd.DataFrame) -> int:
        added = 0
        for start, row in frame.iterrows():
            if self.last_start is None or start > self.last_start:
                self.queue.append((start, row))
                self.last_start = start
                added += 1
        return added

    def _poll(self) -> None:
        try:
            closed = self.poller.take(self.p.symbol)
        except LiveError as exc:
            if not self._disconnected:
                self._disconnected = True
                self._status(self.DISCONNECTED)
                log.warning("%s DISCONNECTED: %s; polling again", self.p.symbol, exc)
            return
        self._disconnected = False
        self._enqueue(closed)

    def _stopped(self) -> bool:
        stop = self.p.stop
        if stop is None:
            return False
        return stop.latch() if self.p.leader else stop.stopped

    def _load(self) -> bool | None:
        if self._stopped():
            return False
        if not self.queue:
            if self.p.max_live_bars is not None and self.live_bars >= self.p.max_live_bars:
                return False
            if not self.statuses or self.statuses[-1] != "LIVE":
                was = self.statuses[-1] if self.statuses else None
                self._status(self.LIVE)
                self._live_phase = True
                if was == "DISCONNECTED":
                    log.info("%s LIVE again: the exchange answers", self.p.symbol)
                elif self.p.leader:
                    log.info("warm-up done (DELAYED -> LIVE): trading on each closed candle from now")
            self._poll()
            if not self.queue:
                idle = time.monotonic() - self._last_bar_at
                if self.p.max_idle_seconds is not None and idle > self.p.max_idle_seconds:
                    return False
                time.sleep(_IDLE_SLEEP)
                return None
        if self._live_phase:
            # counted as delivered: a slow start can bring many closed candles in one poll, and the bound is in bars
            if self.p.max_live_bars is not None and self.live_bars >= self.p.max_live_bars:
                return False
            self.live_bars += 1
        self._last_bar_at = time.monotonic()
        start, row = self.queue.popleft()
        if self.live_from is None and "LIVE" in self.statuses:
            self.live_from = start + self.bar
        self.last_bar = start + self.bar
        self.lines.datetime[0] = bt.date2num((start + self.bar).to_pydatetime())
        for column in _COLUMNS:
            getattr(self.lines, column)[0] = float(row[column])
        self.lines.openinterest[0] = 0.0
        for name in self.extra_lines:
            getattr(self.lines, name)[0] = float("nan")
        return True


def replay_fingerprint(candles: pd.DataFrame) -> dict:
    """First and last candle start, count and SHA256 of the OHLCV values (float64 bytes) of ``candles``: enough to
    tell later whether rebuilt candles are exactly the ones a session replayed."""
    return candles_fingerprint(candles)
