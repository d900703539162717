"""The live feed against the emulator: backfill, closed candles only, status notifications, reconnection."""

from __future__ import annotations

import backtrader as bt
import pandas as pd
import pytest

from kraken_global.emulator import EmulatorServer
from kraken_global.feeds import bundled_data_dir, load_candles
from kraken_global.feeds.sources import BUNDLED_FILES
from kraken_global.live.credentials import Credentials
from kraken_global.live.feed import KrakenLiveFeed
from kraken_global.live.poller import CandlePoller
from kraken_global.live.store import KrakenStore, StoreSettings

HOUR = pd.Timedelta(hours=1)


class Recorder(bt.Strategy):
    params = (("emulator", None), ("fail_polls", 0))

    def __init__(self):
        self.bars: list = []
        self.notes: list[str] = []

    def notify_data(self, data, status, *args, **kwargs):
        self.notes.append(data._getstatusname(status))

    def next(self):
        self.bars.append((self.data.datetime.datetime(0), self.data.close[0], self.p.emulator.clock.now()))
        if self.notes and self.notes[-1] == "LIVE" and self.p.fail_polls and len(self.bars) % 3 == 0:
            self.p.emulator.faults.add("OHLC", "http_500", count=self.p.fail_polls)


@pytest.fixture
def emulator():
    with EmulatorServer(fault_delay=1.0, speed=5 * 3600) as server:  # one market hour every 0.2 s
        yield server


def run_feed(emulator, history=None, fail_polls=0, live_bars=6, on_polled=None):
    store = KrakenStore(Credentials(emulator.key, emulator.secret),
                        StoreSettings(api_url=emulator.base_url, enable_rate_limit=False, max_attempts=1,
                                      timeout_ms=3000)).start()
    cerebro = bt.Cerebro(stdstats=False)
    poller = CandlePoller(store, ["BTC/USD"], "1h", 0.05, on_polled=on_polled)
    feed = KrakenLiveFeed(store=store, poller=poller, symbol="BTC/USD", history=history,
                          max_live_bars=live_bars, max_idle_seconds=20)
    cerebro.adddata(feed, name="BTC/USD")
    cerebro.addstrategy(Recorder, emulator=emulator, fail_polls=fail_polls)
    return cerebro.run()[0], feed


def test_backfill_then_only_closed_candles_stamped_at_their_close(emulator):
    history = load_candles(bundled_data_dir() / BUNDLED_FILES["BTC/USD"], start=pd.Timestamp("2019-03-01"),
                           end=pd.Timestamp("2019-05-15"))
    strategy, feed = run_feed(emulator, history)
    stamps = pd.DatetimeIndex([t for t, _, _ in strategy.bars])
    assert stamps[0] == pd.Timestamp("2019-03-01 01:00")  # history first
    assert (stamps.to_series().diff().dropna() == HOUR).all()  # no gap, no duplicate where the sources meet
    for stamp, _, market_now in strategy.bars:
        assert stamp <= market_now  # never a candle that has not closed yet
    assert feed.live_bars >= 6
    truth = load_candles(bundled_data_dir() / BUNDLED_FILES["BTC/USD"], start=pd.Timestamp("2019-03-01"))
    closes = pd.Series([c for _, c, _ in strategy.bars], index=stamps - HOUR)
    assert (closes == truth["close"].reindex(closes.index)).all()
    assert strategy.notes[0] == "DELAYED" and "LIVE" in strategy.notes


def test_without_history_the_feed_starts_from_krakens_720_candles(emulator):
    strategy, _ = run_feed(emulator, live_bars=2)
    live_start = [i for i, note in enumerate(strategy.notes) if note == "LIVE"]
    assert live_start and len(strategy.bars) >= 719


def test_a_failed_poll_reports_disconnected_then_live_again(emulator, caplog):
    beats = []

    def heartbeat():  # the session's status file on a full disk: logged, and the feed goes on
        beats.append(emulator.app.requests.count("OHLC"))
        raise OSError(28, "No space left on device")

    strategy, _ = run_feed(emulator, fail_polls=1, live_bars=6, on_polled=heartbeat)
    assert 0 < len(beats) < emulator.app.requests.count("OHLC"), "a failed poll counted as a heartbeat"
    assert "could not write the session's heartbeat: [Errno 28] No space left on device" in caplog.text
    assert "DISCONNECTED" in strategy.notes
    after = strategy.notes[strategy.notes.index("DISCONNECTED"):]
    assert "LIVE" in after
    stamps = pd.DatetimeIndex([t for t, _, _ in strategy.bars])
    assert (stamps.to_series().diff().dropna() == HOUR).all()  # nothing lost across the outage
