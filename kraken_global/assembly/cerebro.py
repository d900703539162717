"""A cerebro for any mode: feeds named by pair, the Kraken paper broker, the strategy or the regime system and the
standard analyzers; the data it runs on, checked.

This is the lower room backtests, paper sessions, parity replays and the gates all build on: only the feed and the
broker differ between modes, so they are assembled here once and nowhere else.
"""

from __future__ import annotations

from datetime import timedelta

import backtrader as bt
import pandas as pd

from kraken_global.analyzers import STANDARD_ANALYZERS, BuyAndHoldBenchmark
from kraken_global.assembly.regime_system import add_regime_system, build_plan
from kraken_global.assembly.warmup import warmup_needs
from kraken_global.config import BacktestConfig
from kraken_global.errors import ConfigError, DataError
from kraken_global.feeds import NumpyFeed, load_universe, parse_timeframe
from kraken_global.ml.training import predict_probabilities
from kraken_global.paper_broker import KrakenPaperBroker
from kraken_global.strategies import STRATEGIES
from kraken_global.universe import Universe

__all__ = ["WARMUP_LABEL", "add_standard_analyzers", "build_cerebro", "check_model_applies", "check_warmup",
           "data_notices", "load_data", "paper_broker", "require_data"]

WARMUP_LABEL = "WARMUP"


def build_cerebro(config: BacktestConfig, candles: dict[str, pd.DataFrame], preload: bool = True,
                  runonce: bool = True, plan: pd.DataFrame | None = None, model=None,
                  evaluation_start=None, feed: type[NumpyFeed] = NumpyFeed) -> bt.Cerebro:
    """A cerebro with the feeds (named by symbol), the paper broker, the strategy or regime system, analyzers.

    ``model``: an approved entry-filter model; its probabilities ride on the feeds as ``p_up``.
    ``evaluation_start``: analyzers ignore earlier bars and strategies do not trade before it (the history
    before it is warm-up, see :mod:`kraken_global.assembly.warmup`).
    ``feed``: the feed class (the parity report's replay feed sends a session's feed statuses)."""
    if model is not None:
        check_model_applies(config)
    cerebro = bt.Cerebro(stdstats=False, preload=preload, runonce=runonce)
    timeframe = parse_timeframe(config.data.timeframe)
    cerebro.broker = paper_broker(config)
    if config.strategy.name == "regime":
        probabilities = None
        if model is not None:
            probabilities = {s: predict_probabilities(model, frame) for s, frame in candles.items()}
        if plan is None:
            plan = build_plan(config, candles, evaluation_start)
        add_regime_system(cerebro, config, candles, plan, probabilities, feed, trade_from=evaluation_start)
    else:
        for symbol, frame in candles.items():
            cerebro.adddata(feed(frame=frame, bar_duration=timeframe), name=symbol)
        cerebro.addstrategy(STRATEGIES[config.strategy.name], trade_from=evaluation_start, **config.strategy.params)
    add_standard_analyzers(cerebro, config, evaluation_start)
    return cerebro


def check_model_applies(config: BacktestConfig) -> None:
    """Refuse to run with a model the strategy would ignore: only the regime system's sleeves filter entries by
    ``p_up``, and a run that claims to use the approved model must trade with it."""
    if config.strategy.name != "regime":
        raise ConfigError(f"strategy {config.strategy.name!r} does not use the entry-filter model, so the approved "
                          "model would be ignored: trade the regime system (strategy.name: regime) or run "
                          "without a model (--model none, ml.use_model: none)")


def paper_broker(config: BacktestConfig, universe: Universe | None = None,
                 broker_class: type = KrakenPaperBroker, **extra) -> KrakenPaperBroker:
    """The Kraken paper broker as configured (backtests and paper sessions share it); a paper session passes
    the ``universe`` with the exchange's pair rules, and its own subclass with its ``extra`` parameters."""
    return broker_class(
        cash=config.broker.cash, universe=universe or config.universe.build(), fees=config.broker.fees.schedule(),
        slippage_bps=config.broker.slippage_bps, random_slippage_bps=config.broker.random_slippage_bps,
        volume_share=config.broker.volume_share, schedule=config.schedule.schedule(), seed=config.run.seed,
        max_pair_share=config.broker.max_pair_share, **extra,
    )


def add_standard_analyzers(cerebro: bt.Cerebro, config: BacktestConfig, evaluation_start=None) -> None:
    """Performance, trading and benchmark analyzers: the same in backtests, paper and live sessions."""
    for name, analyzer in STANDARD_ANALYZERS.items():
        takes_start = "start" in analyzer.params._getkeys()
        cerebro.addanalyzer(analyzer, _name=name, **({"start": evaluation_start} if takes_start else {}))
    cerebro.addanalyzer(BuyAndHoldBenchmark, _name="benchmark", symbol=config.universe.benchmark_symbol(),
                        fee=config.broker.fees.schedule().tiers[0].taker, start=evaluation_start)


def load_data(config: BacktestConfig):
    """The universe's candles in [data.start, data.end] exactly (no warm-up; see :func:`load_with_warmup`)."""
    universe = config.universe.build()
    start = pd.Timestamp(config.data.start) if config.data.start else None
    end = pd.Timestamp(config.data.end) + timedelta(days=1) if config.data.end else None
    data = load_universe(list(universe), parse_timeframe(config.data.timeframe), config.data.directory,
                         config.data.format, config.data.gaps.policy(), start, end, config.data.recorded)
    require_data(config, data)
    return data


def require_data(config: BacktestConfig, data) -> None:
    if not data.candles:
        where = config.data.directory or "the bundled data"
        raise DataError(f"no data for any of {', '.join(config.universe.build().symbols)} in {where} "
                        f"between {config.data.start or 'the start'} and {config.data.end or 'the end'}")


def data_notices(config: BacktestConfig, data) -> list[str]:
    """What a run's data leaves out of what was asked for, in words for the summary and ``metrics.json``: a pair
    whose data ends before ``data.end`` (the run would otherwise look complete), data that starts after
    ``data.start``, prices finer than a pair's tick (fills round to the tick)."""
    timeframe = parse_timeframe(config.data.timeframe)
    notices = []
    if config.data.end is not None:
        end = pd.Timestamp(config.data.end) + timedelta(days=1)
        early: dict[pd.Timestamp, list[str]] = {}
        for symbol, frame in data.candles.items():
            if len(frame) and frame.index[-1] + timeframe < end:
                early.setdefault(frame.index[-1] + timeframe, []).append(symbol)
        for closes, symbols in sorted(early.items()):
            notices.append(f"{', '.join(symbols)}: the data ends at {closes} (the close of the last candle), before "
                           f"the end asked for ({config.data.end}, inclusive): the run stops there")
    if config.data.start is not None and data.candles:
        first = min(frame.index[0] for frame in data.candles.values() if len(frame))
        if first > pd.Timestamp(config.data.start):
            notices.append(f"the data starts at {first}, after the start asked for ({config.data.start}): the run "
                           "begins there")
    universe = config.universe.build()
    for symbol, bars in data.off_tick.items():
        notices.append(f"{symbol}: {bars} bars are priced finer than its tick {universe.resolve(symbol).tick_size:g} "
                       "(Kraken's tick was finer then, or the data is not Kraken's): fills are rounded to the tick")
    return notices


def check_warmup(config: BacktestConfig, candles: dict[str, pd.DataFrame]) -> None:
    """Refuse a run too short for the strategies' indicators (backtrader would fail deep inside one)."""
    if config.strategy.name == "regime":
        what, needed = max(warmup_needs(config).items(), key=lambda item: item[1])
    else:
        needed = STRATEGIES[config.strategy.name].warmup_bars(**config.strategy.params)
        what = f"strategy {config.strategy.name!r}"
    longest = max(len(frame) for frame in candles.values())
    if longest <= needed:
        raise ConfigError(
            f"the data has {longest} {config.data.timeframe} bars, but {what} needs more than {needed} to warm up: "
            "use a longer period (data.start/data.end, --from/--to), a shorter timeframe, or smaller periods")
