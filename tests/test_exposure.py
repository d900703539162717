"""The per-pair exposure limit: the rule by hand, and a one-pair backtest that no longer bets everything."""

from __future__ import annotations

import pandas as pd
import pytest

from kraken_global.config import BacktestConfig
from kraken_global.exposure import allowed_buy_size, is_limited
from kraken_global.runners.backtest import run_backtest
from kraken_global.runners.report import summary_table


@pytest.mark.parametrize(("size", "held", "pending", "limit", "expected"), [
    (10.0, 0.0, 0.0, 0.5, 5.0),      # 10 units of 100 USD in a 1,000 USD portfolio: room for 500 USD
    (10.0, 3.0, 0.0, 0.5, 2.0),      # 300 USD held already
    (10.0, 3.0, 2.0, 0.5, 0.0),      # and 200 USD in an open buy: no room
    (1.0, 0.0, 0.0, 0.5, 1.0),       # small enough
    (10.0, 9.0, 0.0, None, 10.0),    # no limit
])
def test_allowed_buy_size(size, held, pending, limit, expected):
    assert allowed_buy_size(size, 100.0, held, pending, 1_000.0, limit) == pytest.approx(expected)


def test_stablecoin_pairs_are_cash_not_a_bet():
    assert is_limited("BTC") and not is_limited("USDT") and not is_limited("usdc")


def _one_pair(limit: float | None):
    config = BacktestConfig().with_overrides({
        "universe.pairs": ["BTC/USD"], "data.timeframe": "4h", "data.start": "2019-01-01", "data.end": "2019-12-15",
        "strategy.name": "baseline", "strategy.params": {"fast": 60, "slow": 300}, "run.progress": False,
        "broker.max_pair_share": limit})
    return run_backtest(config)


def test_one_pair_no_longer_takes_the_whole_portfolio():
    unlimited = _one_pair(None).metrics["exposure"]
    limited = _one_pair(0.5)
    exposure = limited.metrics["exposure"]
    assert unlimited["max_pair_share_pct"] > 90  # the baseline invests 95% in its only pair
    assert exposure["max_pair"] == "BTC/USD" and exposure["max_pair_share_pct"] < unlimited["max_pair_share_pct"]
    # buys stop at 50% of the portfolio; the share can then drift above it only as the price rises
    fills = limited.fills
    units = fills["size"].where(fills["side"] == "buy", -fills["size"]).cumsum()
    value = limited.equity["value"]
    for held, price, when, side in zip(units, fills["price"], pd.to_datetime(fills["dt"]), fills["side"], strict=True):
        if side == "buy":
            assert held * price / value.asof(when) <= 0.5 * 1.01
    assert (fills["side"] == "buy").sum() >= 2
    table = summary_table(limited)
    assert "largest share of one pair" in [str(cell) for cell in table.columns[0]._cells]
