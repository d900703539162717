"""The parity comparison on hand-made records: which differences count, and the fill cost in USD and bps."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kraken_global.config import BacktestConfig
from kraken_global.replay.parity import Replay, SessionRecord
from kraken_global.replay.parity_compare import compare

LIVE = pd.Timestamp("2024-01-02 00:00")
BAR = pd.Timedelta(hours=1)


def orders(*rows) -> pd.DataFrame:
    return pd.DataFrame([{"bar": LIVE + i * BAR, "symbol": symbol, "side": side, "size": size, "exectype": "Market",
                          "strategy": "TrendFollowing", "order_id": i + 1, "status": "Completed"}
                         for i, (symbol, side, size) in enumerate(rows)])


def fills(*rows) -> pd.DataFrame:
    return pd.DataFrame([{"dt": LIVE + (i + 1) * BAR, "symbol": symbol, "side": side, "size": size, "price": price,
                          "fee": fee, "order_id": i + 1} for i, (symbol, side, size, price, fee) in enumerate(rows)])


def record(mode: str, session_orders: pd.DataFrame, session_fills: pd.DataFrame) -> SessionRecord:
    replay = {"feeds": {"BTC/USD": {"live_from": str(LIVE), "last_bar": str(LIVE + 5 * BAR)}}, "seed": 7}
    return SessionRecord(Path("session"), mode, BacktestConfig(), replay, pd.DataFrame(), session_orders,
                         session_fills)


ORDERS = orders(("BTC/USD", "buy", 1.0), ("BTC/USD", "sell", 1.0))
BACKTEST = Replay(pd.DataFrame(), ORDERS, fills(("BTC/USD", "buy", 1.0, 100.0, 0.26),
                                                ("BTC/USD", "sell", 1.0, 100.0, 0.26)))


def test_live_fills_at_other_prices_are_measured_not_counted_as_differences():
    # the session bought 1.00 higher with the same fee, and sold 1.00 lower paying 0.01 less fee
    session = record("live", ORDERS, fills(("BTC/USD", "buy", 1.0, 101.0, 0.26), ("BTC/USD", "sell", 1.0, 99.0, 0.25)))
    report = compare(session, BACKTEST)
    assert report["identical_decisions"] and report["identical"]
    buy, sell = report["fills"]["per_order"]
    assert buy["cost_usd"] == pytest.approx(1.0) and buy["cost_bps"] == pytest.approx(100.0)
    assert sell["cost_usd"] == pytest.approx(0.99) and sell["cost_bps"] == pytest.approx(99.0)
    (fill,) = sell["fills"]  # one fill a side: paired fill by fill
    assert fill["session"]["price"] == 99.0 and fill["backtest"]["price"] == 100.0
    assert fill["cost_bps"] == pytest.approx(99.0)
    assert report["fills"]["total_cost_usd"] == pytest.approx(1.99)
    assert report["fills"]["total_cost_bps"] == pytest.approx(99.5)  # 1.99 USD on 200 USD of backtest notional
    assert {d["what"] for d in report["fills"]["differences"]} == {"fill price", "fill fee"}


def test_the_same_fills_in_paper_are_identical_and_cost_nothing():
    report = compare(record("paper", ORDERS, BACKTEST.fills), BACKTEST)
    assert report["identical"] and report["fills"]["total_cost_bps"] == 0.0 and not report["fills"]["differences"]


def test_a_paper_fill_that_differs_makes_the_run_differ_but_not_the_decisions():
    session = record("paper", ORDERS, fills(("BTC/USD", "buy", 1.0, 100.0, 0.26), ("BTC/USD", "sell", 0.5, 100.0,
                                                                                     0.13)))
    report = compare(session, BACKTEST)
    assert report["identical_decisions"] and not report["identical"]
    assert [d["what"] for d in report["fills"]["differences"]] == ["fill size", "fill fee"]
    assert report["fills"]["total_cost_usd"] == pytest.approx(0.0)  # half the size at the same unit cost


def test_order_side_size_and_presence_are_decisions():
    session = record("live", orders(("BTC/USD", "buy", 1.0 + 1e-6), ("BTC/USD", "buy", 1.0),
                                    ("BTC/USD", "sell", 2.0)), pd.DataFrame())
    report = compare(session, BACKTEST)
    assert not report["identical_decisions"]
    assert [(d["what"], d["session"], d["backtest"]) for d in report["orders"]["differences"]] == [
        ("order size", 1.0 + 1e-6, 1.0), ("order side", "buy", "sell"), ("order", "sell 2", "none")]
    # a looser size tolerance accepts the first order's size
    loose = compare(session, BACKTEST, size_tolerance=1e-3)
    assert [d["what"] for d in loose["orders"]["differences"]] == ["order side", "order"]


def test_orders_before_the_first_live_bar_are_not_compared():
    early = ORDERS.assign(bar=ORDERS["bar"] - 10 * BAR)
    report = compare(record("paper", early, pd.DataFrame()), Replay(pd.DataFrame(), early, pd.DataFrame()))
    assert report["orders"]["compared"] == 0 and report["identical"]
