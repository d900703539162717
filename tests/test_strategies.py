"""Each regime strategy alone in a real cerebro, on a crafted price path that shows its rule at work."""

from __future__ import annotations

import numpy as np
import pytest

from kraken_global.strategies import (
    DefensiveHedge,
    MeanReversion,
    Recovery,
    StableAllocator,
    TrendFollower,
    VolatilitySwing,
)
from tests.conftest import candles, run


def path(*segments: tuple[float, float, int]) -> np.ndarray:
    """Piecewise-linear closes: each segment (start, end, bars)."""
    return np.concatenate([np.linspace(a, b, n, endpoint=False) for a, b, n in segments])


def trade_log(broker):
    return [(f.side, round(f.price, 2)) for f in broker.fills]


def bar_of(frame, fill) -> int:
    """Index of the candle a fill happened in (fills are stamped at the candle's close)."""
    return int(np.searchsorted(frame.index + frame.index.freq, fill.dt))


def test_trend_follower_enters_a_clear_uptrend_and_exits_on_reversal():
    closes = path((100, 100, 40), (100, 160, 60), (160, 110, 40))
    frame = candles(closes)
    strategy, broker = run({"ETH/USD": frame}, strategy=TrendFollower, fast=5, slow=20, atr_period=10, stop_atr=3)
    sides = [f.side for f in broker.fills]
    assert sides[0] == "buy" and sides[-1] == "sell"
    first_buy = next(f for f in broker.fills if f.side == "buy")
    last_sell = broker.fills[-1]
    assert 40 <= bar_of(frame, first_buy) <= 55  # early in the uptrend
    assert 100 <= bar_of(frame, last_sell) <= 115  # soon after the top at bar 100
    assert strategy.units[strategy.datas[0]] == 0
    assert last_sell.price > first_buy.price


def test_trend_follower_stays_out_of_a_downtrend():
    _, broker = run({"ETH/USD": candles(path((200, 100, 150)))}, strategy=TrendFollower, fast=5, slow=20,
                    atr_period=10)
    assert broker.fills == []


def test_volatility_swing_buys_the_breakout_and_sells_the_breakdown():
    rng = np.random.default_rng(3)
    flat = 100 + rng.uniform(-1, 1, 60)
    closes = np.concatenate([flat, path((102, 130, 20)), path((130, 95, 20))])
    frame = candles(closes, highs=closes + 0.5, lows=closes - 0.5)
    _, broker = run({"ETH/USD": frame}, strategy=VolatilitySwing, channel=30, exit_channel=10, vol_period=20,
                    target_vol=50.0)
    buy, sell = broker.fills[0], broker.fills[-1]
    assert buy.side == "buy" and 60 <= bar_of(frame, buy) <= 63
    assert sell.side == "sell" and 80 <= bar_of(frame, sell) <= 92


def test_volatility_swing_sizes_smaller_in_a_wilder_market():
    def first_buy_value(noise):
        rng = np.random.default_rng(5)
        base = np.concatenate([np.full(60, 100.0), path((101, 130, 20))])
        closes = base * (1 + rng.normal(0, noise, len(base)))
        closes[60:] = np.maximum.accumulate(closes[60:])  # a clean breakout after the range
        frame = candles(closes, highs=closes * 1.001, lows=closes * 0.999)
        _, broker = run({"ETH/USD": frame}, strategy=VolatilitySwing, channel=30, exit_channel=10,
                        vol_period=30, target_vol=0.5, bars_per_year=8760)
        return broker.fills[0].notional

    assert first_buy_value(0.02) < first_buy_value(0.002) * 0.5


def test_mean_reversion_buys_a_stretched_dip_and_sells_the_snap_back():
    calm = 100 + 0.3 * np.sin(np.arange(60))  # a sine never stretches 2 standard deviations
    closes = np.concatenate([calm, [97.0, 95.0], path((95.5, 100, 8)), 100 + 0.3 * np.sin(np.arange(20))])
    frame = candles(closes)
    _, broker = run({"ETH/USD": frame}, strategy=MeanReversion, period=20, entry_z=2.0, exit_z=0.0, trend_period=0)
    buy, sell = broker.fills[0], broker.fills[1]
    assert buy.side == "buy" and bar_of(frame, buy) in (61, 62) and buy.price < 98
    assert sell.side == "sell" and sell.price > buy.price
    assert 63 <= bar_of(frame, sell) <= 72


def test_mean_reversion_stops_out_when_the_dip_becomes_a_crash():
    closes = np.concatenate([100 + 0.3 * np.sin(np.arange(40)), [97.5], path((96, 60, 10))])
    _, broker = run({"ETH/USD": candles(closes)}, strategy=MeanReversion, period=20, entry_z=2.0, stop_z=2.5,
                    max_hold=30, trend_period=0)
    sides = [f.side for f in broker.fills]
    assert sides[:2] == ["buy", "sell"]
    assert broker.fills[1].price < broker.fills[0].price


def test_mean_reversion_does_not_buy_dips_in_a_decline():
    decline = path((130, 100, 60)) + 0.3 * np.sin(np.arange(60))
    closes = np.concatenate([decline, [97.0, 95.0], path((95.5, 100, 8))])
    _, broker = run({"ETH/USD": candles(closes)}, strategy=MeanReversion, period=20, entry_z=2.0, trend_period=40)
    assert broker.fills == []


def test_defensive_hedge_holds_only_a_core_above_trend_and_parks_the_rest_in_a_stablecoin():
    up = candles(path((100, 150, 80)))
    down = candles(path((150, 100, 80)))
    stable = candles(np.full(80, 1.0), volume=1e9)
    strategy, broker = run({"ETH/USD": up, "XRP/USD": down, "USDT/USD": stable}, strategy=DefensiveHedge,
                           trend_period=20, core_fraction=0.2)
    eth, xrp, usdt = strategy.datas
    value = broker.getvalue()
    assert strategy.units[xrp] == 0  # below its trend: nothing
    assert strategy.units[eth] * eth.close[0] / value == pytest.approx(0.1, abs=0.02)  # 0.2 core / 2 risky
    assert strategy.units[usdt] * usdt.close[0] / value == pytest.approx(0.98 * 0.8, abs=0.1)


def test_defensive_hedge_without_a_stablecoin_keeps_cash():
    _strategy, broker = run({"ETH/USD": candles(path((150, 100, 60)))}, strategy=DefensiveHedge, trend_period=20)
    assert broker.fills == [] and broker.getcash() == pytest.approx(100_000)


def test_stable_allocator_weights_pairs_by_inverse_volatility():
    rng = np.random.default_rng(4)
    calm = 100 * np.cumprod(1 + 0.004 + rng.normal(0, 0.005, 120))  # both rising: both pass the trend filter
    wild = 100 * np.cumprod(1 + 0.008 + rng.normal(0, 0.02, 120))
    strategy, broker = run({"ETH/USD": candles(calm), "XRP/USD": candles(wild)}, strategy=StableAllocator,
                           vol_period=60, max_exposure=0.5)
    eth, xrp = strategy.datas
    value = broker.getvalue()
    eth_w, xrp_w = (strategy.units[d] * d.close[0] / value for d in (eth, xrp))
    assert eth_w + xrp_w == pytest.approx(0.49, abs=0.06)
    eth_vol, xrp_vol = (strategy.now(strategy.vol[d], d) for d in (eth, xrp))
    assert eth_w / xrp_w == pytest.approx(xrp_vol / eth_vol, rel=0.35)


def test_stable_allocator_drops_a_pair_in_a_decline():
    rising = candles(path((100, 130, 120)))
    falling = candles(path((130, 90, 120)))
    strategy, _ = run({"ETH/USD": rising, "XRP/USD": falling}, strategy=StableAllocator, vol_period=60)
    eth, xrp = strategy.datas
    assert strategy.units[eth] > 0 and strategy.units[xrp] == 0


def test_recovery_scales_in_by_tranches_and_exits_when_the_low_breaks():
    closes = path((200, 100, 30), (100, 130, 30), (130, 90, 20))
    frame = candles(closes)
    strategy, broker = run({"ETH/USD": frame}, strategy=Recovery, tranches=3, sma_period=5, step=0.05,
                           lookback=30)
    buys = [f for f in broker.fills if f.side == "buy"]
    assert len(buys) == 3
    assert buys[0].price < buys[1].price < buys[2].price
    assert all(30 <= bar_of(frame, b) < 60 for b in buys)
    assert buys[1].notional == pytest.approx(buys[0].notional, rel=0.25)  # equal tranches
    sell = broker.fills[-1]
    assert sell.side == "sell" and bar_of(frame, sell) > 60  # in the second leg down
    assert sell.price < buys[-1].price * 0.9 + 1  # the failed-recovery stop: 10% under the last tranche
    assert strategy.units[strategy.datas[0]] == 0
