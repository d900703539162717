"""Paper and live sessions follow the exchange's pair rules (Kraken's AssetPairs at start), not the bundled file."""

from __future__ import annotations

import json
import logging

import backtrader as bt

from kraken_global.emulator import EmulatorServer
from kraken_global.feeds import NumpyFeed
from kraken_global.live.broker import KrakenLiveBroker
from kraken_global.live.credentials import Credentials
from kraken_global.live.exchange_rules import exchange_universe
from kraken_global.live.state import TradingState
from kraken_global.live.store import KrakenStore, StoreSettings
from kraken_global.universe import catalog
from tests.conftest import NO_DOWNTIME, ScriptedStrategy, candles


def exchange_with_rules(tmp_path, rules: dict) -> EmulatorServer:
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps({"result": rules}))
    return EmulatorServer(asset_pairs=path)


def store_for(server: EmulatorServer) -> KrakenStore:
    settings = StoreSettings(api_url=server.base_url, timeout_ms=3000, max_attempts=2, backoff_seconds=0.01,
                             enable_rate_limit=False)
    return KrakenStore(Credentials(server.key, server.secret), settings).start()


def test_the_session_universe_takes_the_exchanges_rules_and_logs_each_difference_once(tmp_path, caplog):
    bundled = catalog().select(["BTC/USD", "ETH/USD"])
    with exchange_with_rules(tmp_path, {"XXBTZUSD": {"ordermin": "0.001", "costmin": "5"}}) as server:
        store = store_for(server)
        with caplog.at_level(logging.WARNING, logger="kraken_global.live.exchange_rules"):
            first = exchange_universe(store, bundled)
            again = exchange_universe(store, bundled)
        store.stop()
    btc = first.resolve("BTC/USD")
    assert (btc.ordermin, btc.costmin) == (0.001, 5.0) and bundled.resolve("BTC/USD").ordermin == 0.00005
    assert first.resolve("ETH/USD") == bundled.resolve("ETH/USD") and again.resolve("BTC/USD") == btc
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 1 and "ordermin 5e-05 -> 0.001" in logged[0] and "costmin 0.5 -> 5.0" in logged[0]


def test_the_live_broker_refuses_before_sending_an_order_below_the_exchanges_ordermin(tmp_path):
    with exchange_with_rules(tmp_path, {"XXBTZUSD": {"ordermin": "0.001"}}) as server:
        store = store_for(server)
        universe = exchange_universe(store, catalog().select(["BTC/USD"]))
        cerebro = bt.Cerebro(stdstats=False)
        cerebro.adddata(NumpyFeed(frame=candles([50_000.0] * 5)), name="BTC/USD")
        cerebro.broker = KrakenLiveBroker(store=store, state=TradingState(tmp_path / "state.sqlite"),
                                          universe=universe, schedule=NO_DOWNTIME)
        cerebro.addstrategy(ScriptedStrategy, script={2: [("buy", "BTC/USD", 0.0008, {})],
                                                      3: [("buy", "BTC/USD", 0.002, {})]})
        strategy = cerebro.run()[0]
        store.stop()
        sent = [m for m in server.app.requests if m == "AddOrder"]
    refused = [e for e in strategy.events if e["status"] == "Rejected"]
    assert len(refused) == 1 and "ordermin" in refused[0]["reason"] and "0.001" in refused[0]["reason"]
    assert [e["status"] for e in strategy.events if e["size"]][-1:] == ["Completed"]
    assert sent == ["AddOrder"]  # only the order the exchange's rules allow was sent
