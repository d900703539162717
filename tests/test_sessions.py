"""Paper and live sessions end to end: the real ccxt client over HTTP against the emulator on 127.0.0.1.

Each session is bounded in bars (``live.max_bars``) and seconds (``live.max_idle_seconds``, pytest's timeout);
the emulator replays twenty market hours per wall second.
"""

from __future__ import annotations

import pandas as pd
import pytest

from kraken_global.assembly.regime_system import build_plan, regime_label
from kraken_global.errors import ConfigError
from kraken_global.feeds import bundled_data_dir, load_candles
from kraken_global.feeds.sources import BUNDLED_FILES
from kraken_global.live.credentials import Credentials
from kraken_global.ml.retraining import ModelRefused
from kraken_global.registry import ModelRegistry
from kraken_global.selection import STRATEGY_NAMES
from kraken_global.sessions.configuration_check import OVERRIDE_WORD
from kraken_global.sessions.session import SessionRunner, write_session
from tests.ledger_checks import assert_books_add_up
from tests.session_helpers import (
    LIVE_BARS,
    approve_a_model,
    emulator,
    exchange_orders,
    exchange_trades,
    session_config,
    state_rows,
)

HOUR = pd.Timedelta(hours=1)


def test_a_paper_session_warms_up_on_history_then_trades_live_with_the_backtest_plan(tmp_path):
    with emulator() as server:
        config = session_config(server, tmp_path)
        session_start = pd.Timestamp(server.clock.now())
        result = SessionRunner(config, "paper").run()
    for statuses in result.statuses.values():
        assert statuses[:2] == ["DELAYED", "LIVE"]
    assert not result.fills.empty, "the regime system traded nothing in 120 live hours"
    assert (pd.to_datetime(result.fills["dt"]) > session_start).all(), "an order was filled on a replayed bar"
    assert not exchange_orders(server), "paper trading sent an order to the exchange"
    assert result.metrics["performance"]["days"] <= 10  # the figures cover the session, not the replayed history
    # equity.csv, the dashboard and the ramp count the very bars the figures count (a bar that closed after the start
    # but came with the warm-up's last poll is the session's, LIVE or not)
    assert len(result.journal) == len(result.equity) == result.metrics["performance"]["bars"]
    assert result.journal.index[0] > session_start
    assert_books_add_up(result.metrics, result.fills)

    # the plan computed bar by bar equals the backtest's vectorized plan over the same candles
    first, last = result.plan.index[0] - HOUR, result.plan.index[-1] - HOUR
    candles = {s: load_candles(bundled_data_dir() / BUNDLED_FILES[s]).loc[first:last] for s in config.universe.pairs}
    batch = build_plan(config, candles)
    batch.index = batch.index + HOUR
    live = result.plan
    assert list(live.index) == list(batch.index)
    assert live["regime"].tolist() == [regime_label(code) for code in batch["regime"]]
    for name in STRATEGY_NAMES:
        assert live[name].tolist() == pytest.approx(batch[name].tolist())

    out = write_session(result, tmp_path / "results")
    assert {p.name for p in out.iterdir()} >= {"metrics.json", "fills.csv", "plan.csv", "session.json"}

    # every closed candle the session received (Kraken's 720 less the forming one, then each live one) is on record,
    # exactly as the exchange sent it, for the next session's warm-up and the downtime retraining
    universe = config.universe.build()
    for symbol in config.universe.pairs:
        recorded = load_candles(tmp_path / "candles" / f"{universe.resolve(symbol).altname}_60.csv")
        # up to the last live candle at least: on a busy machine the last poll can bring candles past max_bars
        assert recorded.index[-1] >= live.index[-1] - HOUR
        assert recorded.index[0] <= live.index[-1] - (LIVE_BARS + 700) * HOUR  # and Kraken's 720 before them
        sent = load_candles(bundled_data_dir() / BUNDLED_FILES[symbol]).loc[recorded.index[0]:recorded.index[-1]]
        assert list(sent.index) == list(recorded.index)
        assert recorded[["open", "high", "low", "close"]].to_numpy().tolist() == \
            sent[["open", "high", "low", "close"]].to_numpy().tolist()


def test_a_live_session_matches_the_exchange_order_for_order_and_fill_for_fill(tmp_path):
    with emulator() as server:
        config = session_config(server, tmp_path)
        approve_a_model(config.ml.artifacts)
        result = SessionRunner(config, "live", Credentials(server.key, server.secret),
                               unapproved_config=OVERRIDE_WORD).run()
        orders, trades = exchange_orders(server), exchange_trades(server)
        balances = dict(server.exchange.accounts[server.key].balances)
    assert orders, "the live session placed no order"
    state_orders = {r["client_id"]: r for r in state_rows(config.live.state, "orders")}
    # every exchange order carries a client id the state knows, and each client id is on the exchange once
    client_ids = [o.cl_ord_id for o in orders]
    assert len(client_ids) == len(set(client_ids)) and set(client_ids) <= set(state_orders)
    # every exchange fill is recorded once, and backtrader was told the same prices and fees
    fills = state_rows(config.live.state, "fills")
    assert sorted(f["trade_id"] for f in fills) == sorted(trades)
    assert len(result.fills) == len(fills)
    assert result.fills["fee"].sum() == pytest.approx(sum(f["fee"] for f in fills))
    assert result.fills["notional"].sum() == pytest.approx(sum(f["amount"] * f["price"] for f in fills), rel=1e-6)
    assert (result.fills["price"] > 0).all() and (result.fills["fee"] > 0).all()
    # positions: the state's sum of fills is what the exchange holds
    held = {"BTC/USD": "XXBT", "ETH/USD": "XETH", "XRP/USD": "XXRP"}
    positions = {}
    for f in fills:
        positions[f["symbol"]] = positions.get(f["symbol"], 0.0) + (f["amount"] if f["side"] == "buy" else -f["amount"])
    for symbol, asset in held.items():
        assert positions.get(symbol, 0.0) == pytest.approx(balances.get(asset, 0.0), abs=1e-9)
    assert result.metrics["session"]["model_sha256"]
    # the fee the account pays, read from TradeVolume: the emulator charges Kraken's legacy schedule
    assert result.metrics["fees"] == {"maker_pct": 0.16, "taker_pct": 0.26, "source": "TradeVolume"}
    assert result.unsettled == []


def test_live_refuses_to_start_without_an_approved_model_or_with_a_tampered_one(tmp_path):
    with emulator() as server:
        config = session_config(server, tmp_path)
        credentials = Credentials(server.key, server.secret)
        with pytest.raises(ModelRefused, match="no model is approved"):
            SessionRunner(config, "live", credentials)
        candidate = approve_a_model(config.ml.artifacts)
        model_file = ModelRegistry(config.ml.artifacts).paths.candidate_dir(candidate) / "model.skops"
        model_file.write_bytes(model_file.read_bytes() + b"\0")
        with pytest.raises(ModelRefused, match="refusing to start trading"):
            SessionRunner(config, "live", credentials)
        assert not server.app.requests, "a refused session talked to the exchange"


def test_live_refuses_to_start_without_credentials(tmp_path, monkeypatch):
    monkeypatch.delenv("KRAKEN_API_KEY", raising=False)
    monkeypatch.delenv("KRAKEN_API_SECRET", raising=False)
    with emulator() as server:
        config = session_config(server, tmp_path)
        approve_a_model(config.ml.artifacts)
        with pytest.raises(ConfigError, match="no credentials"):
            SessionRunner(config, "live")


def test_a_paper_session_retrains_in_the_downtime_and_never_promotes(tmp_path):
    """The downtime timer starts a real retraining (train + gates on the data known by then) in the background;
    later downtimes do not stack a second one; the approved model stays approved."""
    with emulator() as server:
        config = session_config(server, tmp_path, bars=48).with_overrides({
            "live.retrain": True, "ml.use_model": "approved", "data.start": "2018-06-01", "ml.folds": 2,
            "ml.train_end": "2018-10-20", "gates.oos_windows": 1, "gates.dsr_gate": False})
        # the registry's policy must allow one window; the out-of-sample period must be at least 90 days
        approved = approve_a_model(config.ml.artifacts, {"oos_windows": "1", "min_sharpe": "0"})
        session_start = pd.Timestamp(server.clock.now())
        result = SessionRunner(config, "paper").run()
    registry = ModelRegistry(config.ml.artifacts)
    started = [pd.Timestamp(r["started_for"]) for r in result.retraining]
    assert all(when > session_start for when in started), "a retraining started on a replayed downtime"
    assert len({when.date() for when in started}) == len(started), "two retrainings for one downtime window"
    ran = [r for r in result.retraining if "skipped" not in r]
    assert ran, "no retraining started in two market days"
    first = ran[0]
    assert "error" not in first, first.get("error")
    assert first["candidate"] in registry.candidates() and registry.validation(first["candidate"]) is not None
    assert first["data_until"] < first["started_for"]
    assert registry.state()["approved"]["id"] == approved
    assert result.metrics["session"]["model"] == approved
    named = result.metrics["model"]["registry"]  # the namespace, the policy and how it is looser than the defaults
    assert named["namespace"] == "kraken_global" and len(named["policy_sha256"]) == 64
    assert "min_sharpe 0.0 (default 0.5)" in named["policy_looser_than_defaults"]
    assert any("looser than the defaults" in flag for flag in named["flags"])
