"""Assembles the regime system in a cerebro: the plan (regimes and weights) and the six strategies.

The plan is computed vectorized before the run from closes only (no lookahead: row t uses bars <= t) and
rides on the reference pair's feed as extra lines: ``regime`` and one weight line per strategy. Each strategy
reads its own weight line; a strategy whose weight is 0 holds no slot and winds its sleeve down.
"""

from __future__ import annotations

import pandas as pd

from kraken_global.analyzers.regime import RegimeAnalyzer
from kraken_global.config import BacktestConfig
from kraken_global.errors import ConfigError
from kraken_global.feeds import NumpyFeed, parse_timeframe
from kraken_global.regimes import Regime, compute_regimes
from kraken_global.selection import STRATEGY_NAMES, RegimeSelector, allocation_plan, weight_line
from kraken_global.strategies import REGIME_STRATEGIES


def build_plan(config: BacktestConfig, candles: dict[str, pd.DataFrame], evaluation_start=None) -> pd.DataFrame:
    """Regimes, their inputs and the weight of every strategy, for each bar of the reference pair.

    Bars that close before ``evaluation_start`` are warm-up (no strategy holds a slot), as are the bars before
    the detector's inputs are defined."""
    reference = config.regimes.reference
    if reference not in candles:
        raise ConfigError(f"regimes.reference {reference!r} has no data in this run; pairs with data: "
                          f"{', '.join(candles)}; choose one of them with --reference PAIR (or regimes.reference "
                          "in the config)")
    ref_closes = candles[reference]["close"]
    universe = pd.DataFrame({s: f["close"] for s, f in candles.items()}).reindex(ref_closes.index)
    timeframe = parse_timeframe(config.data.timeframe)
    regimes = compute_regimes(ref_closes, universe, timeframe, config.regimes.thresholds.model())
    if evaluation_start is not None:
        regimes["warmup"] |= regimes.index + timeframe < pd.Timestamp(evaluation_start)
    selector = RegimeSelector(config.regimes.selection_map(), config.regimes.after_panic)
    plan = allocation_plan(regimes, selector)
    return pd.concat([regimes.drop(columns=["regime"]), plan], axis=1)


def plan_lines() -> tuple[str, ...]:
    return ("regime", *(weight_line(name) for name in STRATEGY_NAMES))


def reference_frame(candles: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    frame = candles.copy()
    frame["regime"] = plan["regime"]
    for name in STRATEGY_NAMES:
        frame[weight_line(name)] = plan[name]
    return frame


def add_regime_system(cerebro, config: BacktestConfig, candles: dict[str, pd.DataFrame], plan: pd.DataFrame,
                      probabilities: dict[str, pd.Series] | None = None,
                      feed: type[NumpyFeed] = NumpyFeed, trade_from=None) -> None:
    """Feeds (the reference one with the plan lines; every one with ``p_up`` when a model is used), the six
    strategies and their regime analyzers."""
    timeframe = parse_timeframe(config.data.timeframe)
    model_lines = ("p_up",) if probabilities is not None else ()
    plan_feed = feed.with_lines(*plan_lines(), *model_lines)
    pair_feed = feed.with_lines(*model_lines) if model_lines else feed
    for symbol, frame in candles.items():
        if probabilities is not None:
            frame = frame.assign(p_up=probabilities[symbol].reindex(frame.index))
        if symbol == config.regimes.reference:
            cerebro.adddata(plan_feed(frame=reference_frame(frame, plan), bar_duration=timeframe), name=symbol)
        else:
            cerebro.adddata(pair_feed(frame=frame, bar_duration=timeframe), name=symbol)
    add_regime_strategies(cerebro, config, with_model=probabilities is not None, trade_from=trade_from)


def add_regime_strategies(cerebro, config: BacktestConfig, with_model: bool, trade_from=None) -> None:
    """The six sleeves and their regime analyzers (the feeds, with the plan lines, are the caller's).
    ``trade_from``: no orders before it (warm-up)."""
    bars_per_year = pd.Timedelta(days=365) / parse_timeframe(config.data.timeframe)
    for name in STRATEGY_NAMES:
        params = dict(config.strategy.per_strategy.get(name, {}))
        if name == "VolatilitySwing":
            params.setdefault("bars_per_year", bars_per_year)
        if with_model:  # the model's operating point, whatever the sleeve's parameters (config refuses them)
            params["min_probability"] = config.ml.min_probability
        cerebro.addstrategy(REGIME_STRATEGIES[name], trade_from=trade_from, **params)
    cerebro.addanalyzer(RegimeAnalyzer, _name="regime")


def regime_label(code: float) -> str:
    return Regime(int(code)).name
