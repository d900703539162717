"""The per-pair exposure limit: the rule by hand, and a one-pair backtest that no longer bets everything."""

from __future__ import annotations

import pandas as pd
import pytest

from kraken_global.config import BacktestConfig
from kraken_global.exposure import allowed_buy_size, is_limited
from kraken_global.reports.summary import summary_table
from kraken_global.runners.backtest import run_backtest


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


class _Bar:
    """The little of a data feed the brokers' limit reads: a name, a length and the last close."""

    def __init__(self, name: str, close: float) -> None:
        self._name, self.close = name, [close]

    def __len__(self) -> int:
        return 1


def test_the_live_broker_sizes_a_buy_as_the_paper_broker_does():
    from kraken_global.live.broker import KrakenLiveBroker

    broker = KrakenLiveBroker(store=None, state=None, max_pair_share=0.5)
    broker.balances = {"USD": {"total": 800.0, "free": 800.0}, "BTC": {"total": 2.0, "free": 2.0},
                       "USDT": {"total": 0.0, "free": 0.0}}
    broker._built = {"BTC/USD": 2.0}  # the bot's own fills bought those 2 BTC (it counts only what it built)
    btc, usdt = _Bar("BTC/USD", 100.0), _Bar("USDT/USD", 1.0)
    broker._know(btc)
    assert broker.getvalue() == pytest.approx(1_000.0)
    # 200 USD of BTC held in a 1,000 USD portfolio: room for 300 USD more, as allowed_buy_size says
    assert broker._pair_room(btc, 10.0, 100.0) == pytest.approx(allowed_buy_size(10.0, 100.0, 2.0, 0.0, 1_000.0, 0.5))
    assert broker._pair_room(btc, 10.0, 100.0) == pytest.approx(3.0)
    assert broker._pair_room(usdt, 900.0, 1.0) == 900.0  # a stablecoin is cash
