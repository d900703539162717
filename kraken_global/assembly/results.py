"""What a finished cerebro produced, as plain data: metrics from the analyzers, the equity curve, the fills.

Backtests and sessions collect their results the same way, so a paper session's figures mean what a backtest's do.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import pandas as pd

from kraken_global.paper_broker import Fill, KrakenPaperBroker

__all__ = ["collect_metrics", "equity_frame", "fills_frame"]


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
