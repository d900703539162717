"""The metric definitions against values worked out by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from kraken_global import metrics


def test_daily_returns_take_the_last_value_of_each_utc_day():
    # 2024-01-02 00:00 is the close of Jan 1; 2024-01-03 00:00 the close of Jan 2
    times = pd.to_datetime(["2024-01-01 10:00", "2024-01-02 00:00", "2024-01-02 05:00", "2024-01-03 00:00"])
    values = [101.0, 110.0, 99.0, 121.0]
    returns = metrics.daily_returns(times, values, start_value=100.0)
    assert list(returns) == pytest.approx([0.1, 121.0 / 110.0 - 1])
    assert list(returns.index) == list(pd.to_datetime(["2024-01-01", "2024-01-02"]))


def test_sharpe_uses_sample_std_and_365_days():
    returns = [0.01, -0.02, 0.03, 0.0]
    mean = 0.005
    std = math.sqrt(((0.005) ** 2 + (0.025) ** 2 + (0.025) ** 2 + (0.005) ** 2) / 3)
    assert metrics.sharpe_ratio(returns) == pytest.approx(mean / std * math.sqrt(365))


def test_sharpe_is_zero_without_variation_or_data():
    assert metrics.sharpe_ratio([0.01, 0.01, 0.01]) == 0.0
    assert metrics.sharpe_ratio([0.02]) == 0.0


def test_max_drawdown_is_the_largest_fall_from_a_peak():
    # peak 120 -> trough 90 is 25%; the later 130 -> 110 is 15.4%
    assert metrics.max_drawdown_pct([100, 120, 90, 130, 110]) == pytest.approx(25.0)
    assert metrics.max_drawdown_pct([100, 101, 102]) == 0.0


def test_expected_shortfall_averages_the_worst_five_percent():
    # 40 returns: ceil(0.05 * 40) = 2 worst are -0.10 and -0.06 -> ES = 8%
    returns = [0.01] * 38 + [-0.10, -0.06]
    assert metrics.expected_shortfall_pct(returns) == pytest.approx(8.0)
    # 10 returns: ceil(0.5) = 1 worst
    assert metrics.expected_shortfall_pct([0.02] * 9 + [-0.04]) == pytest.approx(4.0)
    assert metrics.expected_shortfall_pct([0.01, 0.02]) == 0.0


def test_turnover_is_mean_of_traded_over_value_per_day():
    days = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"])
    values = pd.Series([1000.0, 2000.0, 1000.0], index=days)
    traded = pd.Series([500.0, 1000.0], index=days[[0, 2]])
    # (0.5 + 0 + 1.0) / 3
    assert metrics.turnover(traded, values) == pytest.approx(0.5)


def test_annualized_return_compounds_over_365_days():
    assert metrics.annualized_return_pct([0.001] * 365) == pytest.approx((1.001 ** 365 - 1) * 100)
