"""Runs a backtest from a :class:`~kraken_global.config.BacktestConfig`: data -> cerebro -> results.

The same cerebro assembly (feeds by pair name, the Kraken paper broker, the standard analyzers) is what paper
trading will reuse with a live feed; only the feed and broker differ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import backtrader as bt
import pandas as pd

from kraken_global.analyzers import STANDARD_ANALYZERS, BuyAndHoldBenchmark, Progress
from kraken_global.config import BacktestConfig
from kraken_global.errors import ConfigError, DataError
from kraken_global.feeds import NumpyFeed, load_universe, parse_timeframe
from kraken_global.paper_broker import KrakenPaperBroker
from kraken_global.strategies import STRATEGIES


@dataclass
class BacktestResult:
    """What a run produced: metrics (JSON-ready), the equity curve, fills and what was left out."""

    config: BacktestConfig
    metrics: dict[str, Any]
    equity: pd.DataFrame
    fills: pd.DataFrame
    missing_pairs: list[str] = field(default_factory=list)


def build_cerebro(config: BacktestConfig, candles: dict[str, pd.DataFrame], preload: bool = True,
                  runonce: bool = True) -> bt.Cerebro:
    """A cerebro with one NumpyFeed per pair (named by symbol), the paper broker and the analyzers."""
    cerebro = bt.Cerebro(stdstats=False, preload=preload, runonce=runonce)
    timeframe = parse_timeframe(config.data.timeframe)
    for symbol, frame in candles.items():
        cerebro.adddata(NumpyFeed(frame=frame, bar_duration=timeframe), name=symbol)
    universe = config.universe.build()
    fees = config.broker.fees.schedule()
    cerebro.broker = KrakenPaperBroker(
        cash=config.broker.cash, universe=universe, fees=fees, slippage_bps=config.broker.slippage_bps,
        random_slippage_bps=config.broker.random_slippage_bps, volume_share=config.broker.volume_share,
        schedule=config.schedule.schedule(), seed=config.run.seed,
    )
    cerebro.addstrategy(STRATEGIES[config.strategy.name], **config.strategy.params)
    for name, analyzer in STANDARD_ANALYZERS.items():
        cerebro.addanalyzer(analyzer, _name=name)
    cerebro.addanalyzer(BuyAndHoldBenchmark, _name="benchmark", symbol=config.universe.benchmark,
                        fee=fees.tiers[0].taker)
    return cerebro


def load_data(config: BacktestConfig):
    universe = config.universe.build()
    start = pd.Timestamp(config.data.start) if config.data.start else None
    end = pd.Timestamp(config.data.end) + timedelta(days=1) if config.data.end else None
    data = load_universe(list(universe), parse_timeframe(config.data.timeframe), config.data.directory,
                         config.data.format, config.data.gaps.policy(), start, end)
    if not data.candles:
        where = config.data.directory or "the bundled data"
        raise DataError(f"no data for any of {', '.join(universe.symbols)} in {where} "
                        f"between {config.data.start or 'the start'} and {config.data.end or 'the end'}")
    return data


def check_warmup(config: BacktestConfig, candles: dict[str, pd.DataFrame]) -> None:
    """Refuse a run too short for the strategy's indicators (backtrader would fail deep inside one)."""
    needed = STRATEGIES[config.strategy.name].warmup_bars(**config.strategy.params)
    longest = max(len(frame) for frame in candles.values())
    if longest <= needed:
        raise ConfigError(
            f"the data has {longest} {config.data.timeframe} bars, but strategy {config.strategy.name!r} needs more "
            f"than {needed} to warm up: use a longer period (data.start/data.end, --from/--to), a shorter "
            "timeframe, or smaller periods in strategy.params")


def run_backtest(config: BacktestConfig, on_progress: Callable[[int, int], None] | None = None,
                 preload: bool = True, runonce: bool = True) -> BacktestResult:
    """Load data, run cerebro, collect metrics. ``on_progress(done, total)`` is called as bars pass."""
    data = load_data(config)
    check_warmup(config, data.candles)
    cerebro = build_cerebro(config, data.candles, preload, runonce)
    clock = pd.DatetimeIndex(sorted(set().union(*(f.index for f in data.candles.values()))))
    if on_progress is not None:
        total = len(clock)
        cerebro.addanalyzer(Progress, _name="progress", callback=lambda done: on_progress(done, total))
    strategy = cerebro.run()[0]
    broker: KrakenPaperBroker = cerebro.broker
    metrics = collect_metrics(strategy, broker)
    metrics["run"] = {
        "strategy": config.strategy.name,
        "pairs_traded": list(data.candles),
        "pairs_without_data": data.missing,
        "data_files": data.files,
        "timeframe": config.data.timeframe,
        "first_bar": str(clock[0]),
        "last_bar": str(clock[-1]),
        "bars": len(clock),
        "filled_gap_bars": {s: int(f.attrs.get("filled_bars", 0)) for s, f in data.candles.items()},
        "seed": config.run.seed,
    }
    return BacktestResult(config, metrics, equity_frame(strategy), fills_frame(broker), data.missing)


def collect_metrics(strategy, broker) -> dict[str, Any]:
    a = strategy.analyzers
    performance = {**a.returns.get_analysis(), **a.sharpe.get_analysis(), **a.drawdown.get_analysis(),
                   **a.tail_loss.get_analysis()}
    trading = {**a.turnover.get_analysis(), **a.fees.get_analysis(), **a.trades.get_analysis(),
               "rejection_reasons": dict(sorted(strategy.rejection_reasons.items()))}
    return {
        "performance": dict(performance),
        "trading": dict(trading),
        "exposure": dict(a.exposure.get_analysis()),
        "benchmark": dict(a.benchmark.get_analysis()),
    }


def equity_frame(strategy) -> pd.DataFrame:
    recorder = strategy.analyzers.returns
    equity = pd.DataFrame({"value": recorder.values}, index=pd.DatetimeIndex(recorder.times, name="datetime"))
    equity["drawdown_pct"] = (1 - equity["value"] / equity["value"].cummax()) * 100
    bench = strategy.analyzers.benchmark
    if bench.values:
        series = pd.Series(bench.values, index=pd.DatetimeIndex(bench.times))
        equity["benchmark_value"] = series.reindex(equity.index)
    return equity


def fills_frame(broker: KrakenPaperBroker) -> pd.DataFrame:
    columns = ["dt", "symbol", "side", "size", "price", "notional", "fee", "fee_rate", "liquidity",
               "reference_price", "slippage_cost", "order_ref"]
    return pd.DataFrame([f.__dict__ for f in broker.fills], columns=columns)
