"""Runs a backtest from a :class:`~kraken_global.config.BacktestConfig`: data -> cerebro -> results.

The same cerebro assembly (feeds by pair name, the Kraken paper broker, the standard analyzers) is what paper
trading will reuse with a live feed; only the feed and broker differ.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import backtrader as bt
import pandas as pd

from kraken_global.analyzers import STANDARD_ANALYZERS, BuyAndHoldBenchmark, Progress
from kraken_global.analyzers.regime import summarize_regimes
from kraken_global.config import BacktestConfig, StrategyConfig
from kraken_global.errors import ConfigError, DataError
from kraken_global.feeds import NumpyFeed, load_universe, parse_timeframe
from kraken_global.feeds.sources import bar_clock
from kraken_global.ml.training import predict_probabilities
from kraken_global.paper_broker import Fill, KrakenPaperBroker
from kraken_global.runners.regime_system import add_regime_system, build_plan, regime_label
from kraken_global.runners.warmup import load_with_warmup, warmup_needs
from kraken_global.strategies import STRATEGIES
from kraken_global.universe import Universe

__all__ = ["BacktestResult", "build_cerebro", "load_data", "paper_broker", "run_backtest", "warmup_needs"]


@dataclass
class BacktestResult:
    """What a run produced: metrics (JSON-ready), the equity curve, fills, the regime plan and what was left out."""

    config: BacktestConfig
    metrics: dict[str, Any]
    equity: pd.DataFrame
    fills: pd.DataFrame
    missing_pairs: list[str] = field(default_factory=list)
    plan: pd.DataFrame | None = None
    sleeves: dict[str, pd.DataFrame] = field(default_factory=dict)


def build_cerebro(config: BacktestConfig, candles: dict[str, pd.DataFrame], preload: bool = True,
                  runonce: bool = True, plan: pd.DataFrame | None = None, model=None,
                  evaluation_start=None, feed: type[NumpyFeed] = NumpyFeed) -> bt.Cerebro:
    """A cerebro with the feeds (named by symbol), the paper broker, the strategy or regime system, analyzers.

    ``model``: an approved entry-filter model; its probabilities ride on the feeds as ``p_up``.
    ``evaluation_start``: analyzers ignore earlier bars and strategies do not trade before it (the history
    before it is warm-up, see :mod:`kraken_global.runners.warmup`).
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


def paper_broker(config: BacktestConfig, universe: Universe | None = None) -> KrakenPaperBroker:
    """The Kraken paper broker as configured (backtests and paper sessions share it); a paper session passes
    the ``universe`` with the exchange's pair rules."""
    return KrakenPaperBroker(
        cash=config.broker.cash, universe=universe or config.universe.build(), fees=config.broker.fees.schedule(),
        slippage_bps=config.broker.slippage_bps, random_slippage_bps=config.broker.random_slippage_bps,
        volume_share=config.broker.volume_share, schedule=config.schedule.schedule(), seed=config.run.seed,
        max_pair_share=config.broker.max_pair_share,
    )


def add_standard_analyzers(cerebro: bt.Cerebro, config: BacktestConfig, evaluation_start=None) -> None:
    """Performance, trading and benchmark analyzers: the same in backtests, paper and live sessions."""
    for name, analyzer in STANDARD_ANALYZERS.items():
        takes_start = "start" in analyzer.params._getkeys()
        cerebro.addanalyzer(analyzer, _name=name, **({"start": evaluation_start} if takes_start else {}))
    cerebro.addanalyzer(BuyAndHoldBenchmark, _name="benchmark", symbol=config.universe.benchmark,
                        fee=config.broker.fees.schedule().tiers[0].taker, start=evaluation_start)


WARMUP_LABEL = "WARMUP"


def load_data(config: BacktestConfig):
    """The universe's candles in [data.start, data.end] exactly (no warm-up; see :func:`load_with_warmup`)."""
    universe = config.universe.build()
    start = pd.Timestamp(config.data.start) if config.data.start else None
    end = pd.Timestamp(config.data.end) + timedelta(days=1) if config.data.end else None
    data = load_universe(list(universe), parse_timeframe(config.data.timeframe), config.data.directory,
                         config.data.format, config.data.gaps.policy(), start, end, config.data.recorded)
    _require_data(config, data)
    return data


def _require_data(config: BacktestConfig, data) -> None:
    if not data.candles:
        where = config.data.directory or "the bundled data"
        raise DataError(f"no data for any of {', '.join(config.universe.build().symbols)} in {where} "
                        f"between {config.data.start or 'the start'} and {config.data.end or 'the end'}")


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


def run_backtest(config: BacktestConfig, on_progress: Callable[[int, int], None] | None = None,
                 preload: bool = True, runonce: bool = True, with_baseline: bool = True, model=None) -> BacktestResult:
    """Load data, run cerebro, collect metrics. ``on_progress(done, total)`` is called as bars pass.

    For the regime system the baseline strategy also runs on the same data, as the report's benchmark line.
    ``model``: an entry-filter model (``ml.use_model: approved`` loads the registry's approved one).
    """
    if model is not None or config.ml.use_model == "approved":
        check_model_applies(config)
    model_used = None
    if model is None and config.ml.use_model == "approved":  # refused before any data is read
        from kraken_global.ml.operating_point import bind_operating_point, model_record
        from kraken_global.registry import ModelRegistry

        model, manifest = ModelRegistry(config.ml.artifacts, config.ml.namespace).approved_model()
        config = bind_operating_point(config, manifest)  # trade at the point the model was gated at
        model_used = model_record(manifest)
    data, warmup = load_with_warmup(config)
    _require_data(config, data)
    check_warmup(config, data.candles)
    evaluation_start = warmup.evaluation_start
    plan = build_plan(config, data.candles, evaluation_start) if config.strategy.name == "regime" else None
    cerebro = build_cerebro(config, data.candles, preload, runonce, plan, model, evaluation_start)
    clock = bar_clock(data.candles)
    if on_progress is not None:
        total = len(clock)
        cerebro.addanalyzer(Progress, _name="progress", callback=lambda done: on_progress(done, total))
    strategies = cerebro.run()
    broker: KrakenPaperBroker = cerebro.broker
    metrics = collect_metrics(strategies, broker)
    equity = equity_frame(strategies[0])
    if plan is not None:
        closes_at = plan.index + parse_timeframe(config.data.timeframe)  # the plan is by candle start
        equity["regime"] = pd.Series(plan["regime"].to_numpy(), index=closes_at).reindex(equity.index) \
            .map(lambda code: regime_label(code) if code == code else None)
        warm = pd.Series(plan["warmup"].to_numpy(), index=closes_at).reindex(equity.index).fillna(False)
        equity.loc[warm.astype(bool), "regime"] = WARMUP_LABEL
        metrics["regime_system"] = summarize_regimes([s.analyzers.regime for s in strategies],
                                                     pd.Series(plan["warmup"].to_numpy(), index=closes_at),
                                                     evaluation_start)
        if with_baseline:
            baseline = baseline_run(config, data.candles, preload, runonce, evaluation_start)
            metrics["baseline"] = baseline["metrics"]
            equity["baseline_value"] = baseline["equity"].reindex(equity.index)
    evaluated = clock if evaluation_start is None else clock[clock + parse_timeframe(config.data.timeframe)
                                                             >= pd.Timestamp(evaluation_start)]
    metrics["run"] = {
        "strategy": config.strategy.name,
        "pairs_traded": list(data.candles),
        "pairs_without_data": data.missing,
        "data_files": data.files,
        "timeframe": config.data.timeframe,
        "first_bar": str(evaluated[0]) if len(evaluated) else None,
        "last_bar": str(clock[-1]),
        "bars": len(evaluated),
        "warmup": warmup.as_dict(),
        "filled_gap_bars": {s: int(f.attrs.get("filled_bars", 0)) for s, f in data.candles.items()},
        "repaired_bars": {s: int(f.attrs.get("repaired_bars", 0)) for s, f in data.candles.items()},
        "seed": config.run.seed,
    }
    metrics["model"] = model_used
    sleeves = {type(s).__name__: s.analyzers.regime.frame() for s in strategies} if plan is not None else {}
    return BacktestResult(config, metrics, equity, fills_frame(broker), data.missing, plan, sleeves)


def baseline_run(config: BacktestConfig, candles: dict[str, pd.DataFrame], preload: bool, runonce: bool,
                 evaluation_start=None) -> dict:
    """The baseline strategy on the same data and broker settings (its own cash), for comparison."""
    baseline_config = config.model_copy(update={"strategy": StrategyConfig(name="baseline")})
    cerebro = build_cerebro(baseline_config, candles, preload, runonce, evaluation_start=evaluation_start)
    strategies = cerebro.run()
    perf = collect_metrics(strategies, cerebro.broker)["performance"]
    return {"metrics": perf, "equity": equity_frame(strategies[0])["value"]}


def collect_metrics(strategies: list, broker) -> dict[str, Any]:
    """Portfolio figures from the first strategy's analyzers (they all see the same broker); trading figures
    summed over strategies (each analyzer sees only its own strategy's orders)."""
    a = strategies[0].analyzers
    performance = {**a.returns.get_analysis(), **a.sharpe.get_analysis(), **a.drawdown.get_analysis(),
                   **a.tail_loss.get_analysis()}
    trading: dict[str, Any] = {"turnover": 0.0, "traded_notional": 0.0, "trades": 0, "wins": 0, "losses": 0,
                               "net_pnl_closed": 0.0}
    reasons: Counter = Counter()
    for strategy in strategies:
        sa = strategy.analyzers
        for key in ("turnover", "traded_notional"):
            trading[key] += sa.turnover.get_analysis()[key]
        for key in ("trades", "wins", "losses", "net_pnl_closed"):
            trading[key] += sa.trades.get_analysis()[key]
        reasons.update(strategy.rejection_reasons)
    trading["win_rate_pct"] = 100.0 * trading["wins"] / trading["trades"] if trading["trades"] else 0.0
    # slippage, maker/taker counts and rejections are broker-wide: any strategy's FeesPaid analyzer has them
    broker_costs = {k: v for k, v in a.fees.get_analysis().items() if k != "fees_paid"}
    trading.update({"fees_paid": broker.fees_paid, **broker_costs,
                    "rejection_reasons": dict(sorted(reasons.items()))})
    return {
        "performance": dict(performance),
        "trading": trading,
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
    columns = [f.name for f in dataclasses.fields(Fill)]
    return pd.DataFrame([dataclasses.astuple(f) for f in broker.fills], columns=columns)
