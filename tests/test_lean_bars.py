"""The speed-ups of a backtest's bar loop change no number: indicators read by index equal backtrader's own,
bar for bar, in runonce and next mode; portfolio-wide analyzers are attached once."""

from __future__ import annotations

import backtrader as bt
import numpy as np
import pytest

from kraken_global.analyzers import STANDARD_ANALYZERS, BuyAndHoldBenchmark
from kraken_global.assembly.cerebro import build_cerebro, load_data
from kraken_global.assembly.regime_system import build_plan
from kraken_global.config import BacktestConfig
from kraken_global.feeds import NumpyFeed
from kraken_global.indicators import RollingMax, RollingMean, RollingMin, RollingStd
from kraken_global.strategies import REGIME_STRATEGIES
from kraken_global.strategies.base import KrakenStrategy
from tests.conftest import candles


def random_candles(bars: int, seed: int, start: str = "2024-01-01 00:00"):
    rng = np.random.default_rng(seed)
    closes = 100 * np.cumprod(1 + rng.normal(0, 0.01, bars))
    spread = np.abs(rng.normal(0, 0.005, bars)) * closes
    return candles(closes, highs=closes + spread, lows=closes - spread, start=start)


class IndicatorProbe(KrakenStrategy):
    """Records, every bar and for every data, each indicator as the strategies read it (``now``) and, in next
    mode, as backtrader reads it (``indicator[0]``)."""

    indicators_by_index = True

    def __init__(self) -> None:
        super().__init__()
        self.pairs = {}
        for d in self.datas:
            self.pairs[d] = {
                # ours, the one backtrader ships, on the same input
                "mean": (RollingMean(d.close, period=24), bt.ind.SMA(d.close, period=24)),
                "std": (RollingStd(d.close, period=24), bt.ind.StdDev(d.close, period=24)),
                "max": (RollingMax(d.high(-1), period=12), bt.ind.Highest(d.high(-1), period=12)),
                "min": (RollingMin(d.low, period=12), bt.ind.Lowest(d.low, period=12)),
                "ema": (bt.ind.EMA(d.close, period=30), None),
                "atr": (bt.ind.ATR(d, period=14), None),
            }
        self.read: list[tuple] = []
        self.backtrader: list[tuple] = []

    def next(self) -> None:
        for d, indicators in self.pairs.items():
            if self.bars(d) < 31:
                continue
            when = (d._name, self.bars(d))
            self.read.append((*when, *(self.now(ours, d) for ours, _ in indicators.values())))
            if not self.env._dorunonce:  # in next mode backtrader's own reading is valid: compare it too
                self.backtrader.append((*when, *(ours[0] for ours, _ in indicators.values())))
            for name, (ours, reference) in indicators.items():
                if reference is not None:
                    assert self.now(ours, d) == pytest.approx(self.now(reference, d), rel=1e-9, abs=1e-12), name


def probe(runonce: bool) -> IndicatorProbe:
    cerebro = bt.Cerebro(stdstats=False, runonce=runonce)
    # the second pair starts later: bar indices differ between the feeds
    cerebro.adddata(NumpyFeed(frame=random_candles(300, 1)), name="BTC/USD")
    cerebro.adddata(NumpyFeed(frame=random_candles(200, 2, start="2024-01-05 04:00")), name="ETH/USD")
    cerebro.addstrategy(IndicatorProbe)
    return cerebro.run()[0]


def test_indicators_read_by_index_equal_backtrader_bar_for_bar_in_both_modes():
    fast, slow = probe(runonce=True), probe(runonce=False)
    assert len(fast.read) == 270 + 170
    # runonce (detached, read by index) == next mode, every bar, every value: identical for the recursive and
    # max/min ones; rolling mean/std are computed by pandas' running sums in runonce and by fsum per window in
    # next mode, so they agree to rounding (~1e-11)
    assert [row[:2] for row in fast.read] == [row[:2] for row in slow.read]
    runonce, nextmode = np.array([row[2:] for row in fast.read]), np.array([row[2:] for row in slow.read])
    np.testing.assert_array_equal(runonce[:, 2:], nextmode[:, 2:])
    np.testing.assert_allclose(runonce[:, :2], nextmode[:, :2], rtol=1e-10, atol=0)
    assert slow.read == slow.backtrader  # by index == indicator[0] where backtrader advances the indicator


def test_an_indicator_read_the_backtrader_way_after_detaching_fails_loudly():
    strategy = probe(runonce=True)
    data = strategy.datas[0]
    mean = strategy.pairs[data]["mean"][0]
    with pytest.raises(IndexError):
        mean[0]  # would otherwise read a stale bar silently
    assert strategy.now(mean, data) == pytest.approx(np.mean(random_candles(300, 1)["close"].to_numpy()[-24:]))


def test_now_is_nan_before_a_data_has_its_first_bar():
    class Early(IndicatorProbe):
        def next(self) -> None:
            late = self.datas[1]
            if not self.bars(late):
                self.before = self.now(self.pairs[late]["ema"][0], late)

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(NumpyFeed(frame=random_candles(100, 1)), name="BTC/USD")
    cerebro.adddata(NumpyFeed(frame=random_candles(50, 2, start="2024-01-03 00:00")), name="ETH/USD")
    cerebro.addstrategy(Early)
    assert np.isnan(cerebro.run()[0].before)  # not the last bar's value (index -1)


def test_portfolio_wide_analyzers_run_once_and_per_strategy_ones_on_every_sleeve():
    config = BacktestConfig().with_overrides({"data.start": "2019-01-01", "data.end": "2019-03-31",
                                              "universe.pairs": ["BTC/USD", "ETH/USD"]})
    data = load_data(config).candles
    strategies = build_cerebro(config, data, plan=build_plan(config, data)).run()
    assert [type(s).__name__ for s in strategies] == list(REGIME_STRATEGIES)
    portfolio = {name for name, cls in {**STANDARD_ANALYZERS, "benchmark": BuyAndHoldBenchmark}.items()
                 if getattr(cls, "portfolio_wide", False)}
    assert portfolio == {"returns", "sharpe", "drawdown", "tail_loss", "exposure", "benchmark"}
    assert set(strategies[0].analyzers.getnames()) >= portfolio | {"turnover", "fees", "regime"}
    for other in strategies[1:]:
        assert set(other.analyzers.getnames()) == {"turnover", "fees", "regime"}
