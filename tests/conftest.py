"""Shared helpers: crafted candle frames, a scripted strategy, and a one-call cerebro runner."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

from kraken_global.feeds import NumpyFeed
from kraken_global.fees import FeeSchedule
from kraken_global.paper_broker import KrakenPaperBroker
from kraken_global.schedule import DowntimeSchedule

DATA_DIR = Path(__file__).parent / "data"


@pytest.fixture(scope="session", autouse=True)
def audit_key_dir(tmp_path_factory):
    """The registry's audit key and anchors in a temporary folder for the whole run (subprocesses inherit it):
    tests never read or create the user's ~/.config/kraken-global."""
    folder = tmp_path_factory.mktemp("audit-keys")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KRAKEN_GLOBAL_KEY_DIR", str(folder))
        yield folder


NO_DOWNTIME = DowntimeSchedule(enabled=False)


def candles(
    opens: Sequence[float],
    highs: Sequence[float] | None = None,
    lows: Sequence[float] | None = None,
    closes: Sequence[float] | None = None,
    volume: float | Sequence[float] = 1_000.0,
    start: str = "2024-01-01 00:00",
    freq: str = "1h",
) -> pd.DataFrame:
    """A candle frame indexed by start time; missing columns default to the opens."""
    opens = np.asarray(opens, dtype=float)
    closes = opens if closes is None else np.asarray(closes, dtype=float)
    highs = np.maximum(opens, closes) if highs is None else np.asarray(highs, dtype=float)
    lows = np.minimum(opens, closes) if lows is None else np.asarray(lows, dtype=float)
    vol = np.broadcast_to(np.asarray(volume, dtype=float), opens.shape)
    index = pd.date_range(start, periods=len(opens), freq=freq, name="datetime")
    return pd.DataFrame({"open": opens, "high": highs, "low": lows, "close": closes, "volume": vol}, index=index)


class ScriptedStrategy(bt.Strategy):
    """Places the orders of ``script`` ({bar number from 1: [(side, symbol, size, kwargs)]}) and records events."""

    params = (("script", None), ("cancel_at", None))

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.orders: list = []
        self.values: list[float] = []

    def prenext(self) -> None:
        self.next()

    def next(self) -> None:
        self.values.append(self.broker.getvalue())
        for side, symbol, size, kwargs in (self.p.script or {}).get(len(self), []):
            data = self.getdatabyname(symbol)
            order = (self.buy if side == "buy" else self.sell)(data=data, size=size, **kwargs)
            self.orders.append(order)

    def notify_order(self, order) -> None:
        self.events.append({
            "ref": order.ref, "status": order.getstatusname(), "size": order.executed.size,
            "price": order.executed.price, "comm": order.executed.comm, "remsize": order.executed.remsize,
            "reason": order.info.get("reject_reason"), "dt": order.data.datetime.datetime(0),
        })


def run(frames: dict[str, pd.DataFrame], strategy=ScriptedStrategy, broker_kwargs: dict | None = None,
        analyzers: dict | None = None, **strategy_kwargs):
    """Run cerebro on ``frames`` with the paper broker; returns (strategy, broker)."""
    cerebro = bt.Cerebro(stdstats=False)
    for symbol, frame in frames.items():
        cerebro.adddata(NumpyFeed(frame=frame), name=symbol)
    kwargs = {"cash": 100_000.0, "schedule": NO_DOWNTIME, "fees": FeeSchedule.flat(0.0016, 0.0026),
              "slippage_bps": 0.0, "volume_share": None}
    kwargs.update(broker_kwargs or {})
    cerebro.broker = KrakenPaperBroker(**kwargs)
    cerebro.addstrategy(strategy, **strategy_kwargs)
    for name, analyzer in (analyzers or {}).items():
        cerebro.addanalyzer(analyzer, _name=name)
    result = cerebro.run()[0]
    return result, cerebro.broker


@pytest.fixture(scope="module")
def stepped_server():
    """One emulator for a test module, on a stepped Kraken clock that the code under test's own waits move (and
    that tests advance), dropping at once the connection of a reply a fault withholds: deadlines, lags and timeouts
    cost no real time."""
    from kraken_global.clocks import SteppedClock
    from kraken_global.emulator import EmulatorServer

    with EmulatorServer(fault_delay=0.0, exchange_clock=SteppedClock()) as server:
        yield server


@pytest.fixture
def stepped_emulator(stepped_server):
    """The module's stepped emulator with a fresh account (10,000 USD) for each test."""
    stepped_server.reset({"ZUSD": 10_000.0})
    return stepped_server


SHARED_ACCOUNT = {"ZUSD": 10_000.0, "XXBT": 0.5}  # the owner's coins before the bot starts


@pytest.fixture(scope="module")
def shared_account_server():
    """One stepped emulator for a test module, charging the current fee schedule (kraken-2026-07)."""
    from kraken_global.clocks import SteppedClock
    from kraken_global.emulator import EmulatorServer
    from kraken_global.fees import KRAKEN_2026_07

    with EmulatorServer(fault_delay=0.0, exchange_clock=SteppedClock(), fees=KRAKEN_2026_07) as server:
        yield server


@pytest.fixture
def shared_account(shared_account_server):
    """The module's emulator with an account that already holds the owner's coins (:data:`SHARED_ACCOUNT`) and
    every market online, fresh for each test."""
    from dataclasses import replace

    shared_account_server.reset(SHARED_ACCOUNT)
    rules = shared_account_server.market.rules
    for pid, pair_rules in list(rules.items()):
        rules[pid] = replace(pair_rules, status="online")
    return shared_account_server


def account_store(emulator, **settings):
    """A started :class:`KrakenStore` on ``emulator``'s account and Kraken clock (no client-side throttle);
    ``settings``: any other :class:`StoreSettings`."""
    from kraken_global.live.credentials import Credentials
    from kraken_global.live.store import KrakenStore, StoreSettings

    options = {"api_url": emulator.base_url, "timeout_ms": 5000, "enable_rate_limit": False, **settings}
    return KrakenStore(Credentials(emulator.key, emulator.secret), StoreSettings(**options),
                       clock=emulator.exchange_clock).start()


@pytest.fixture
def flat_btc() -> pd.DataFrame:
    return candles([50_000.0] * 10)
