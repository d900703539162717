"""The out-of-sample windows after a candidate's training data, and one backtest of the regime system per window.

Each backtest loads the history its warm-up needs before the window; the analyzers count only the window.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd

from kraken_global.assembly.cerebro import build_cerebro
from kraken_global.assembly.warmup import load_with_warmup
from kraken_global.config import BacktestConfig
from kraken_global.registry import RegistryError


def oos_windows(train_end: pd.Timestamp, data_end: pd.Timestamp, count: int, embargo: pd.Timedelta):
    """``count`` consecutive windows from ``train_end + embargo`` to ``data_end``."""
    start = train_end + embargo
    if start >= data_end:
        raise RegistryError(f"no out-of-sample data after the training end {train_end} (data ends {data_end})")
    edges = pd.date_range(start, data_end, periods=count + 1)
    return [(edges[i].normalize() if i else start, edges[i + 1]) for i in range(count)]


def run_oos_backtest(config: BacktestConfig, model, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, Any]:
    """The regime system with ``model`` on [start, end], warmed up on the history before ``start``; figures
    from the analyzers restricted to the window."""
    window_config = config.with_overrides({"strategy.name": "regime"})
    data, warmup = load_with_warmup(window_config, start, (end - timedelta(days=1)).normalize() + timedelta(days=1))
    cerebro = build_cerebro(window_config, data.candles, model=model, evaluation_start=warmup.evaluation_start)
    strategies = cerebro.run()
    a = strategies[0].analyzers
    daily = a.returns.daily_returns()
    return {
        "start": str(start), "end": str(end), "days": len(daily),
        "sharpe": a.sharpe.get_analysis()["sharpe"],
        "max_drawdown_pct": a.drawdown.get_analysis()["max_drawdown_pct"],
        "tail_loss_pct": a.tail_loss.get_analysis()["tail_loss_pct"],
        "turnover": sum(s.analyzers.turnover.get_analysis()["turnover"] for s in strategies),
        "total_return_pct": a.returns.get_analysis()["total_return_pct"],
        "daily_returns": [float(x) for x in daily],
        "dates": [str(day.date()) for day in daily.index],
    }
