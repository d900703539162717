"""Runs a backtest from a :class:`~kraken_global.config.BacktestConfig`: data -> cerebro -> results.

The cerebro is assembled by :mod:`kraken_global.assembly`, the same parts a paper session uses with a live feed;
only the feed and broker differ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from kraken_global.analyzers import Progress
from kraken_global.analyzers.regime import summarize_regimes
from kraken_global.assembly.cerebro import (
    WARMUP_LABEL,
    build_cerebro,
    check_model_applies,
    check_warmup,
    data_notices,
    require_data,
)
from kraken_global.assembly.regime_system import build_plan, regime_label
from kraken_global.assembly.results import collect_metrics, equity_frame, fills_frame
from kraken_global.assembly.warmup import load_with_warmup
from kraken_global.config import BacktestConfig, StrategyConfig
from kraken_global.feeds import parse_timeframe
from kraken_global.feeds.sources import bar_clock
from kraken_global.paper_broker import KrakenPaperBroker

__all__ = ["BacktestResult", "baseline_run", "run_backtest"]


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
    require_data(config, data)
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
        "off_tick_bars": dict(data.off_tick),
        "notices": data_notices(config, data),
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


