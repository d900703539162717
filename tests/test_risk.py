"""Risk limits and the daily-loss kill switch, by hand."""

from __future__ import annotations

from datetime import datetime

import pytest

from kraken_global.live.risk import RiskGuard, RiskLimits

LIMITS = RiskLimits(max_order_notional=1_000, max_position_notional=2_500, max_daily_loss_pct=5)


def test_order_and_position_limits():
    guard = RiskGuard(LIMITS)
    assert guard.check_order("buy", 0.01, 50_000, 0.0) is None  # 500 USD
    assert "exceeds max_order_notional" in guard.check_order("buy", 0.03, 50_000, 0.0)  # 1500 USD
    assert "above max_position_notional" in guard.check_order("buy", 0.015, 50_000, 0.04)  # 2750 after
    assert guard.check_order("sell", 0.015, 50_000, 0.04) is None


def test_the_kill_switch_trips_at_the_daily_loss_and_resets_next_day():
    guard = RiskGuard(LIMITS)
    assert guard.observe_equity(datetime(2024, 1, 1, 0, 5), 10_000) is False
    assert guard.observe_equity(datetime(2024, 1, 1, 9, 0), 9_600) is False  # -4%
    assert guard.observe_equity(datetime(2024, 1, 1, 10, 0), 9_499) is True  # -5.01%: trips once
    assert guard.observe_equity(datetime(2024, 1, 1, 11, 0), 9_000) is False
    assert "kill switch" in guard.check_order("buy", 0.001, 50_000, 0.0)
    assert guard.check_order("sell", 0.01, 50_000, 0.01) is None  # reducing is allowed
    assert guard.observe_equity(datetime(2024, 1, 2, 0, 1), 9_000) is False
    assert guard.check_order("buy", 0.001, 50_000, 0.0) is None


def test_limits_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        RiskLimits(max_daily_loss_pct=0)
