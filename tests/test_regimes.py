"""Regimes: the rules by hand, hysteresis, batch = incremental, and no lookahead anywhere."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kraken_global.feeds import bundled_data_dir, load_candles
from kraken_global.feeds.sources import BUNDLED_FILES
from kraken_global.regimes import (
    IncrementalRegimeDetector,
    Regime,
    RegimeStateMachine,
    RegimeThresholds,
    classify,
    compute_regimes,
)
from kraken_global.selection import RegimeSelector, allocation_plan

HOUR = pd.Timedelta(hours=1)
T = RegimeThresholds()
NAN = math.nan


@pytest.fixture(scope="module")
def closes() -> pd.DataFrame:
    """Hourly closes of BTC, ETH, XRP, 2017-07 .. 2018-06 (the 2017 bubble and the 2018 crash)."""
    end = pd.Timestamp("2018-07-01")
    return pd.DataFrame({s: load_candles(bundled_data_dir() / BUNDLED_FILES[s], end=end)["close"]
                         for s in ("BTC/USD", "ETH/USD", "XRP/USD")})


@pytest.mark.parametrize(("trend", "vol_rank", "drawdown", "breadth", "recent", "expected"), [
    (-0.2, 0.90, -0.30, 0.0, -0.10, Regime.PANIC),      # deep fall in a volatility spike, still falling
    (-0.2, 0.90, -0.30, 0.0, 0.05, Regime.RISK_OFF),    # same spike, but from a rally: not a panic
    (-0.2, 0.80, -0.30, 0.0, -0.10, Regime.RISK_OFF),   # deep fall, volatility not extreme
    (0.05, 0.50, -0.02, 0.7, 0.01, Regime.RISK_ON),
    (0.05, 0.50, -0.02, 0.5, 0.01, Regime.NEUTRAL),    # trend without breadth
    (0.01, 0.50, -0.02, 0.9, 0.01, Regime.NEUTRAL),    # inside the trend band
    (-0.05, 0.50, -0.10, 0.4, -0.01, Regime.RISK_OFF),
    (-0.05, 0.50, -0.10, 0.5, -0.01, Regime.NEUTRAL),
    (NAN, 0.5, -0.1, 0.5, -0.01, Regime.NEUTRAL),       # warm-up
])
def test_classification_rules(trend, vol_rank, drawdown, breadth, recent, expected):
    assert classify(trend, vol_rank, drawdown, breadth, recent, T) is expected


def _crafted(moves: list[np.ndarray], seed: int = 1) -> pd.Series:
    """Hourly closes: 120 calm days (0.2% a bar), then ``moves`` (log returns per bar)."""
    calm = np.random.default_rng(seed).normal(0.0, 0.002, 24 * 120)
    steps = np.concatenate([calm, *moves])
    return pd.Series(20_000 * np.exp(np.cumsum(steps)), index=pd.date_range("2021-01-01", periods=len(steps),
                                                                              freq="h"))


def test_a_rally_out_of_a_drawdown_does_not_enter_panic():
    # a quiet 40% slide over 60 days, then a jumpy rally (+4% every 8 hours): volatility spikes while the price is
    # still far below its 90-day high - the 2019-10-25 case
    slide = np.full(24 * 60, np.log(0.6) / (24 * 60))
    rally = np.where(np.arange(24 * 3) % 8 == 0, np.log(1.04), 0.0)
    closes = _crafted([slide, rally])
    regimes = compute_regimes(closes, closes.to_frame("BTC/USD"), HOUR)
    after = regimes.iloc[24 * 180:]
    plain_vol = closes.pipe(np.log).diff().rolling(24 * 7).std()
    assert plain_vol.iloc[24 * 180:].max() > 3 * plain_vol.iloc[: 24 * 180].max()  # a volatility spike
    assert (after["drawdown"] <= -T.panic_drawdown).sum() > 10  # deep below the high meanwhile
    assert not (regimes["regime"] == Regime.PANIC).any()


def test_a_crash_enters_panic():
    crash = np.random.default_rng(3).normal(-0.006, 0.02, 24 * 3)  # ~35% down in three days, violently
    closes = _crafted([crash])
    regimes = compute_regimes(closes, closes.to_frame("BTC/USD"), HOUR)
    assert (regimes["regime"].iloc[24 * 120:] == Regime.PANIC).any()


def test_hysteresis_panic_at_once_others_confirmed_and_dwelled():
    machine = RegimeStateMachine(confirm_bars=2, min_dwell_bars=3)
    on, off, panic, neutral = Regime.RISK_ON, Regime.RISK_OFF, Regime.PANIC, Regime.NEUTRAL
    steps = [on, neutral, on, on, on, off, panic, neutral, neutral, neutral, neutral]
    got = [machine.step(r) for r in steps]
    assert got == [neutral, neutral, neutral, on, on, on, panic, panic, panic, neutral, neutral]
    # RISK_ON needs 2 consecutive bars (the flap at bar 1 resets it); PANIC enters at once; leaving PANIC
    # needs 2 confirming bars and 3 bars of dwell


def test_batch_and_incremental_paths_give_the_same_regimes(closes):
    batch = compute_regimes(closes["BTC/USD"], closes, HOUR)
    detector = IncrementalRegimeDetector(list(closes), HOUR)
    regimes, inputs = [], []
    for row in closes.itertuples(index=False):
        regime, values = detector.update(dict(zip(closes.columns, row, strict=True)))
        regimes.append(int(regime))
        inputs.append(values)
    assert regimes == batch["regime"].tolist()
    incremental = pd.DataFrame(inputs, index=batch.index)
    for column in ("trend", "vol", "vol_rank", "drawdown", "breadth", "recent_return"):
        np.testing.assert_allclose(incremental[column], batch[column], rtol=1e-12, atol=1e-14, equal_nan=True)
    assert set(batch["regime"]) == {int(r) for r in Regime}  # all four regimes occur in this year


def test_changing_future_bars_changes_no_past_regime_input_or_weight(closes):
    cut = 6000
    future = closes.copy()
    rng = np.random.default_rng(0)
    future.iloc[cut:] = future.iloc[cut:] * rng.uniform(0.5, 1.5, size=future.iloc[cut:].shape)
    before = compute_regimes(closes["BTC/USD"], closes, HOUR)
    after = compute_regimes(future["BTC/USD"], future, HOUR)
    pd.testing.assert_frame_equal(before.iloc[:cut], after.iloc[:cut])
    assert not before.iloc[cut:].equals(after.iloc[cut:])  # the future did change
    plan_before = allocation_plan(before, RegimeSelector())
    plan_after = allocation_plan(after, RegimeSelector())
    pd.testing.assert_frame_equal(plan_before.iloc[:cut], plan_after.iloc[:cut])


def test_selector_gives_recovery_the_first_regime_after_panic_then_the_map():
    selector = RegimeSelector()
    sequence = [Regime.NEUTRAL, Regime.PANIC, Regime.PANIC, Regime.RISK_OFF, Regime.RISK_OFF, Regime.NEUTRAL]
    slots = [selector.step(r) for r in sequence]
    assert slots[0] == {"MeanReversion": 0.5, "StableAllocator": 0.5}
    assert slots[1] == slots[2] == {"DefensiveHedge": 1.0}
    assert slots[3] == slots[4] == {"Recovery": 1.0}
    assert slots[5] == {"MeanReversion": 0.5, "StableAllocator": 0.5}
    assert selector.step(Regime.NEUTRAL, warmup=True) == {}


def test_selector_refuses_more_than_two_strategies_or_overweight_slots():
    with pytest.raises(ValueError, match="between 1 and 2"):
        RegimeSelector({**{r: {"DefensiveHedge": 1.0} for r in Regime},
                        Regime.RISK_ON: {"TrendFollower": 0.3, "VolatilitySwing": 0.3, "Recovery": 0.3}})
    with pytest.raises(ValueError, match="sum to at most 1"):
        RegimeSelector({**{r: {"DefensiveHedge": 1.0} for r in Regime},
                        Regime.PANIC: {"DefensiveHedge": 0.7, "Recovery": 0.7}})
