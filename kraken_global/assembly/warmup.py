"""Warm-up before an evaluation period: the one implementation the backtest and the gates share.

A run evaluated from ``start`` (``backtest --from``, ``data.start``, a gate's out-of-sample window) loads the
history its regime detector and strategies need before ``start`` from the same files, runs over it without
trading, and counts only bars from ``start`` on: metrics, regime shares, ``equity.csv``, trades and the plot.
Starting cold at ``start`` would report the warm-up as NEUTRAL and miss regimes a longer history shows.

If the files hold less history than needed before ``start``, the run still starts (the first bars of the
evaluation period are then warm-up, shown as such) and :attr:`Warmup.missing_days` says how much was lacking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd

from kraken_global.config import BacktestConfig
from kraken_global.feeds import load_universe, parse_timeframe
from kraken_global.feeds.sources import UniverseData
from kraken_global.regimes import RegimeWindows
from kraken_global.strategies import REGIME_STRATEGIES, STRATEGIES


def warmup_needs(config: BacktestConfig) -> dict[str, int]:
    """Bars of history each part of the run needs before it can act (regime detector and strategies)."""
    if config.strategy.name != "regime":
        return {f"strategy {config.strategy.name!r}":
                STRATEGIES[config.strategy.name].warmup_bars(**config.strategy.params)}
    timeframe = parse_timeframe(config.data.timeframe)
    windows = RegimeWindows.for_timeframe(config.regimes.thresholds.model(), timeframe)
    needs = {"the regime detector": windows.warmup}
    for name, cls in REGIME_STRATEGIES.items():
        needs[f"strategy {name!r}"] = cls.warmup_bars(**config.strategy.per_strategy.get(name, {}))
    return needs


def warmup_bars(config: BacktestConfig) -> int:
    """Bars loaded before the evaluation start: the largest need, plus (regime system) the bars the regime's
    hysteresis takes to settle (``confirm`` + ``min_dwell``), plus one bar (a candle is stamped by its start)."""
    settle = 0
    if config.strategy.name == "regime":
        windows = RegimeWindows.for_timeframe(config.regimes.thresholds.model(), parse_timeframe(config.data.timeframe))
        settle = windows.confirm + windows.min_dwell
    return max(warmup_needs(config).values()) + settle + 1


@dataclass(frozen=True)
class Warmup:
    """The first evaluated candle's start (``None``: the first bar) and how much warm-up history was missing."""

    start: pd.Timestamp | None
    timeframe: pd.Timedelta
    bars_needed: int
    bars_available: int
    missing_days: float

    @property
    def evaluation_start(self):
        """The close time of the first evaluated candle (a datetime): what analyzers and strategies compare their
        bar times with (backtrader stamps a bar at its close), or None."""
        return None if self.start is None else (self.start + self.timeframe).to_pydatetime()

    def as_dict(self) -> dict:
        return {"evaluation_start": str(self.start) if self.start is not None else None,
                "bars_needed": self.bars_needed, "bars_available": self.bars_available,
                "missing_days": self.missing_days}


def load_with_warmup(config: BacktestConfig, start: pd.Timestamp | None = None,
                     end: pd.Timestamp | None = None) -> tuple[UniverseData, Warmup]:
    """The universe's candles from ``warmup_bars`` before ``start`` (default ``data.start``) to ``end``
    (exclusive; default the day after ``data.end``), and the :class:`Warmup` that says where evaluation begins."""
    timeframe = parse_timeframe(config.data.timeframe)
    if start is None and config.data.start:
        start = pd.Timestamp(config.data.start)
    if end is None and config.data.end:
        end = pd.Timestamp(config.data.end) + timedelta(days=1)
    needed = warmup_bars(config)
    load_start = None if start is None else start - needed * timeframe - timedelta(days=1)
    data = load_universe(list(config.universe.build()), timeframe, config.data.directory, config.data.format,
                         config.data.gaps.policy(), load_start, end, config.data.recorded)
    if start is None or not data.candles:
        return data, Warmup(None, timeframe, needed, 0, 0.0)
    first = min(frame.index[0] for frame in data.candles.values())
    start = max(start, first)  # data that begins after the start asked for: evaluation begins with the data
    available = max(0, int((start - first) / timeframe))
    missing = max(0, needed - available) * timeframe / timedelta(days=1)
    return data, Warmup(start, timeframe, needed, available, math.ceil(missing * 10) / 10)
