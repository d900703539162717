"""The round-trip ledger and the breakdowns against figures worked out by hand, and the identity closed + open -
fees = the change of value on random fill sequences."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_global import metrics
from kraken_global.breakdowns import best_and_worst, max_drawdown_usd, period_breakdown, pnl_curve
from kraken_global.ledger import Allocation, build_ledger, group_trips, pnl_summary, reconcile, trade_stats

T = pd.Timestamp


def fill(dt, strategy, symbol, side, size, price, fee, reason="entry signal", regime="RISK_ON"):
    return {"dt": T(dt), "strategy": strategy, "symbol": symbol, "side": side, "size": size, "price": price,
            "fee": fee, "reason": reason, "regime": regime}


FILLS = [
    fill("2024-01-01 01:00", "TrendFollower", "BTC/USD", "buy", 2, 100, 1.0),
    fill("2024-01-01 02:00", "TrendFollower", "BTC/USD", "buy", 1, 110, 0.5, "rebalance"),
    fill("2024-01-01 03:00", "TrendFollower", "BTC/USD", "sell", 2, 120, 1.2, "stop"),  # FIFO: the two at 100
    fill("2024-01-01 03:00", "MeanReversion", "BTC/USD", "buy", 1, 115, 0.6, regime="NEUTRAL"),
    fill("2024-01-01 04:00", "TrendFollower", "BTC/USD", "sell", 1, 105, 0.5, "signal exit"),
    fill("2024-01-01 05:00", "portfolio", "BTC/USD", "sell", 1, 100, 0.4, "kill switch", "none"),
    fill("2024-02-01 06:00", "TrendFollower", "ETH/USD", "buy", 10, 10, 0.1),
]


def test_round_trips_are_flat_to_flat_per_sleeve_and_pair_with_fifo_pnl():
    ledger = build_ledger(FILLS, {"BTC/USD": 90.0, "ETH/USD": 12.0}, end_reason="end of the run")
    trend_btc, reversion_btc, trend_eth = ledger.trips
    # TrendFollower BTC: sells 2 of the lots at 100 (+40), then the one at 110 at 105 (-5)
    assert (trend_btc.realized, trend_btc.fees) == pytest.approx((35.0, 3.2))
    assert trend_btc.net == pytest.approx(31.8) and trend_btc.closed == T("2024-01-01 04:00")
    assert (trend_btc.entry_reason, trend_btc.exit_reason, trend_btc.regime) == ("entry signal", "signal exit",
                                                                                 "RISK_ON")
    # the kill switch's sell (no sleeve placed it) closes MeanReversion's lot: 1 x (100 - 115), its fee shared
    assert reversion_btc.realized == pytest.approx(-15.0) and reversion_btc.fees == pytest.approx(1.0)
    assert reversion_btc.exit_reason == "kill switch" and reversion_btc.regime == "NEUTRAL"
    # still open: marked at the last close, 10 x (12 - 10)
    assert trend_eth.is_open and trend_eth.unrealized == pytest.approx(20.0) and trend_eth.net == pytest.approx(19.9)
    assert trend_eth.exit_reason == "end of the run"
    assert (ledger.closed_pnl, ledger.open_pnl, ledger.fees) == pytest.approx((20.0, 20.0, 4.3))
    # cash: 1000 - 201 - 110.5 + 238.8 - 115.6 + 104.5 + 99.6 - 100.1 = 915.7; plus 10 ETH at 12
    recon = reconcile(ledger, 1000.0, 915.7 + 120.0)
    assert recon["difference"] == pytest.approx(0.0, abs=1e-9) and recon["ledger_pnl"] == pytest.approx(35.7)


def test_trade_statistics_of_the_closed_round_trips():
    stats = trade_stats(build_ledger(FILLS, {"BTC/USD": 90.0, "ETH/USD": 12.0}).trips)
    assert (stats["round_trips"], stats["wins"], stats["losses"]) == (2, 1, 1)
    assert stats["win_rate_pct"] == 50.0
    assert (stats["average_win"], stats["average_loss"]) == pytest.approx((31.8, -16.0))
    assert stats["profit_factor"] == pytest.approx(31.8 / 16.0)
    assert stats["expectancy"] == pytest.approx((31.8 - 16.0) / 2)
    empty = trade_stats([])
    assert empty["round_trips"] == 0 and empty["win_rate_pct"] is None and empty["profit_factor"] is None


def test_groups_partition_the_total():
    ledger = build_ledger(FILLS, {"BTC/USD": 90.0, "ETH/USD": 12.0})
    for attribute in ("strategy", "symbol", "regime"):
        groups = group_trips(ledger.trips, lambda t, a=attribute: getattr(t, a))
        assert sum(pnl_summary(g)["net_pnl"] for g in groups.values()) == pytest.approx(ledger.net)
    by_strategy = group_trips(ledger.trips, lambda t: t.strategy)
    assert set(by_strategy) == {"TrendFollower", "MeanReversion"}  # the kill switch's sell belongs to the sleeve


def test_positions_held_at_the_start_and_units_no_buy_held():
    opening = [{"symbol": "BTC/USD", "size": 1.0, "price": 100.0, "dt": None}]
    ledger = build_ledger([fill("2024-01-01", "TrendFollower", "BTC/USD", "sell", 1.5, 110, 0.0)], {"BTC/USD": 110},
                          opening)
    assert ledger.trips[0].entry_reason == "held at start" and ledger.trips[0].realized == pytest.approx(10.0)
    assert ledger.unmatched_units == pytest.approx(0.5)  # said, so the identity's shortfall is explained
    assert ledger.trips[0].as_dict()["opened"] is None  # held from before anything recorded
    assert best_and_worst(ledger.trips)["best"][0]["closed"] == "2024-01-01 00:00:00"


def test_pnl_curve_and_its_drawdown():
    bars = pd.date_range("2024-01-01 01:00", periods=4, freq="h")
    closes = pd.DataFrame({"BTC/USD": [100.0, 90.0, 120.0, 80.0]}, index=bars)
    parts = [Allocation(bars[0], "s", "BTC/USD", 1.0, 100.0, 1.0), Allocation(bars[2], "s", "BTC/USD", -1.0, 120.0,
                                                                             1.0)]
    curve = pnl_curve(parts, closes)
    assert curve.tolist() == pytest.approx([-1.0, -11.0, 18.0, 18.0])
    assert max_drawdown_usd(curve) == pytest.approx(11.0)  # from 0 (nothing made yet) down to -11
    assert max_drawdown_usd(np.array([5.0, 20.0, 2.0, 30.0])) == pytest.approx(18.0)


def test_months_take_the_last_value_of_their_bars_and_a_midnight_bar_belongs_to_the_day_before():
    times = pd.to_datetime(["2024-01-31 12:00", "2024-02-01 00:00", "2024-02-15 00:00", "2024-03-01 00:00"])
    equity = pd.Series([105.0, 110.0, 99.0, 121.0], index=times)
    fees = [Allocation(T("2024-02-01 00:00"), "s", "BTC/USD", 1.0, 1.0, 2.0),
            Allocation(T("2024-02-10 00:00"), "s", "BTC/USD", -1.0, 1.0, 3.0)]
    months = period_breakdown(equity, 100.0, fees, [], "M")
    assert list(months) == ["2024-01", "2024-02"]
    assert months["2024-01"]["pnl"] == pytest.approx(10.0) and months["2024-01"]["fees"] == pytest.approx(2.0)
    assert months["2024-02"]["return_pct"] == pytest.approx(10.0)  # 110 -> 121
    assert months["2024-02"]["max_drawdown_pct"] == pytest.approx(metrics.max_drawdown_pct([110, 99, 121]))
    assert months["2024-02"]["fees"] == pytest.approx(3.0)


def test_annualized_figures_are_withheld_under_thirty_days_with_the_reason():
    figures = {"annualized_return_pct": 39.6, "sharpe": 13.09, "total_return_pct": 0.6}
    short = metrics.withhold_annualized(figures, metrics.period_days(61, pd.Timedelta(hours=1)))
    assert short["annualized_return_pct"] is None and short["sharpe"] is None and short["total_return_pct"] == 0.6
    assert "2.54167 days, under 30" in short["annualized_withheld"]
    assert metrics.withhold_annualized(figures, 30.0) == figures


@st.composite
def fill_sequences(draw):
    """Random buys and sells by two sleeves and the kill switch in two pairs; nothing sold that is not held."""
    held = {(s, p): 0.0 for s in ("A", "B") for p in ("X", "Y")}
    fills = []
    for step in range(draw(st.integers(1, 40))):
        strategy = draw(st.sampled_from(["A", "B", "portfolio"]))
        pair = draw(st.sampled_from(["X", "Y"]))
        price = draw(st.floats(0.5, 500.0))
        fee = draw(st.floats(0.0, 2.0))
        owned = held.get((strategy, pair), 0.0) if strategy != "portfolio" else \
            held[("A", pair)] + held[("B", pair)]
        if strategy != "portfolio" and (owned <= 1e-6 or draw(st.booleans())):
            size = draw(st.floats(0.001, 10.0))
            held[(strategy, pair)] += size
            side = "buy"
        elif owned > 1e-6:
            size = owned * draw(st.floats(0.1, 1.0))
            side = "sell"
            if strategy == "portfolio":
                left = size
                for owner in ("A", "B"):  # any order: the check is on totals
                    take = min(held[(owner, pair)], left)
                    held[(owner, pair)] -= take
                    left -= take
            else:
                held[(strategy, pair)] -= size
        else:
            continue
        fills.append(fill(T("2024-01-01") + pd.Timedelta(hours=step), strategy, pair, side, size, price, fee))
    marks = {"X": draw(st.floats(0.5, 500.0)), "Y": draw(st.floats(0.5, 500.0))}
    return fills, marks


@settings(max_examples=150, deadline=None)
@given(fill_sequences())
def test_closed_plus_open_minus_fees_is_the_change_of_value(sequence):
    fills, marks = sequence
    cash, units = 10_000.0, {"X": 0.0, "Y": 0.0}
    for f in fills:
        sign = 1 if f["side"] == "buy" else -1
        cash -= sign * f["size"] * f["price"] + f["fee"]
        units[f["symbol"]] += sign * f["size"]
    end = cash + sum(units[p] * marks[p] for p in units)
    ledger = build_ledger(fills, marks)
    assert ledger.unmatched_units == pytest.approx(0.0, abs=1e-6)
    scale = 1e-9 * max(1.0, sum(f["size"] * f["price"] for f in fills))
    assert reconcile(ledger, 10_000.0, end)["difference"] == pytest.approx(0.0, abs=scale)
    for attribute in ("strategy", "symbol"):
        parts = group_trips(ledger.trips, lambda t, a=attribute: getattr(t, a))
        assert math.fsum(pnl_summary(g)["net_pnl"] for g in parts.values()) == pytest.approx(ledger.net, abs=scale)
    assert sum(a.fee for a in ledger.allocations) == pytest.approx(ledger.fees, abs=scale)
