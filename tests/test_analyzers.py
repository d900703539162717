"""Analyzers inside a real cerebro run, checked against figures computed by hand from the same path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kraken_global import metrics
from kraken_global.analyzers import (
    BuyAndHoldBenchmark,
    Exposure,
    FeesPaid,
    MaxDrawdown,
    Returns365,
    SharpeRatio365,
    TailLoss,
    Turnover,
)
from kraken_global.fees import FeeSchedule
from tests.conftest import candles, run

ANALYZERS = {
    "sharpe": SharpeRatio365, "drawdown": MaxDrawdown, "tail": TailLoss, "turnover": Turnover,
    "fees": FeesPaid, "exposure": Exposure, "returns": Returns365,
    "benchmark": BuyAndHoldBenchmark,
}
PRICES = [100.0, 100.0, 104.0, 98.0, 101.0, 95.0, 99.0, 103.0, 97.0, 100.0, 102.0, 96.0]


def _run_daily(script):
    """Daily BTC candles with open = close (so a market fill at the open is the previous close)."""
    frame = candles(PRICES, start="2024-01-01", freq="1D")
    return run({"BTC/USD": frame}, broker_kwargs={"cash": 1000.0, "fees": FeeSchedule.flat(0.0, 0.0)},
               analyzers=ANALYZERS, script=script)


def test_value_based_analyzers_match_hand_computation():
    # buy 5 BTC at bar 1 -> filled at bar 2's open (100); sell all at bar 6 -> filled at bar 7's open (99)
    strategy, _broker = _run_daily({1: [("buy", "BTC/USD", 5.0, {})], 6: [("sell", "BTC/USD", 5.0, {})]})
    held = np.array([0, 5, 5, 5, 5, 5, 0, 0, 0, 0, 0, 0], dtype=float)
    cash = np.where(held > 0, 500.0, 1000.0)
    cash[6:] = 500.0 + 5 * 99.0
    values = cash + held * np.array(PRICES)
    assert strategy.values == pytest.approx(list(values))
    daily = values / np.concatenate([[1000.0], values[:-1]]) - 1

    a = strategy.analyzers
    assert a.sharpe.get_analysis()["sharpe"] == pytest.approx(daily.mean() / daily.std(ddof=1) * np.sqrt(365))
    peak = np.maximum.accumulate(values)
    assert a.drawdown.get_analysis()["max_drawdown_pct"] == pytest.approx(((peak - values) / peak).max() * 100)
    worst = np.sort(daily)[0]  # ceil(0.05 * 12) = 1
    assert a.tail.get_analysis()["tail_loss_pct"] == pytest.approx(-worst * 100)
    assert a.returns.get_analysis()["total_return_pct"] == pytest.approx((values[-1] / 1000 - 1) * 100)


def test_turnover_fees_and_exposure_match_hand_computation():
    frame = candles(PRICES, start="2024-01-01", freq="1D")
    strategy, _broker = run({"BTC/USD": frame}, broker_kwargs={"cash": 1000.0}, analyzers=ANALYZERS,
                           script={1: [("buy", "BTC/USD", 5.0, {})], 6: [("sell", "BTC/USD", 5.0, {})]})
    a = strategy.analyzers
    buy_fee, sell_fee = 500.0 * 0.0026, 495.0 * 0.0026
    assert a.fees.get_analysis()["fees_paid"] == pytest.approx(buy_fee + sell_fee)
    assert a.fees.get_analysis()["taker_fills"] == 2

    values = pd.Series(strategy.values, index=frame.index)  # daily bars close at the next midnight
    traded = pd.Series({values.index[1]: 500.0, values.index[6]: 495.0})
    assert a.turnover.get_analysis()["turnover"] == pytest.approx((traded / values).sum() / len(values))

    exposure = a.exposure.get_analysis()
    gross = np.array([0, 5, 5, 5, 5, 5, 0, 0, 0, 0, 0, 0]) * np.array(PRICES)
    assert exposure["mean_exposure_pct"] == pytest.approx(np.mean(gross / np.array(strategy.values)) * 100)
    assert exposure["time_in_market_pct"] == pytest.approx(5 / 12 * 100)


def test_buy_and_hold_benchmark_matches_hand_computation():
    strategy, _ = _run_daily({})
    bench = strategy.analyzers.benchmark.get_analysis()
    units = 1000.0 * (1 - 0.0026) / PRICES[0]
    path = units * np.array(PRICES)
    assert bench["total_return_pct"] == pytest.approx((path[-1] / 1000 - 1) * 100)
    daily = path / np.concatenate([[1000.0], path[:-1]]) - 1
    assert bench["sharpe"] == pytest.approx(metrics.sharpe_ratio(daily))
    assert bench["max_drawdown_pct"] == pytest.approx(metrics.max_drawdown_pct([1000.0, *path]))


def test_benchmark_reports_unavailable_without_its_pair():
    frame = candles(PRICES, start="2024-01-01", freq="1D")
    strategy, _ = run({"ETH/USD": frame}, analyzers={"benchmark": BuyAndHoldBenchmark})
    assert strategy.analyzers.benchmark.get_analysis()["available"] is False
