"""What a finished cerebro produced, as plain data: metrics from the analyzers and the ledger, the equity curve,
the fills.

Backtests and sessions collect their results the same way, so a paper session's figures mean what a backtest's do.
Every trading figure (round trips, win rate, closed and open P&L) comes from the round-trip ledger built from the
broker's fills (:mod:`kraken_global.ledger`), and ``trading.reconciliation`` shows that it adds up to the change of
the portfolio's value.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import pandas as pd

from kraken_global.breakdowns import breakdowns
from kraken_global.ledger import build_ledger, pnl_summary, reconcile
from kraken_global.metrics import period_days, withhold_annualized
from kraken_global.order_reasons import RUN_END
from kraken_global.paper_broker import Fill, KrakenPaperBroker

__all__ = ["close_frame", "collect_metrics", "equity_frame", "fills_frame", "honest_periods"]


def collect_metrics(strategies: list, broker, closes: pd.DataFrame | None = None,
                    end_reason: str = RUN_END) -> dict[str, Any]:
    """Portfolio figures from the first strategy's analyzers (they all see the same broker); trading figures
    summed over strategies (each analyzer sees only its own strategy's orders) and from the ledger.

    ``closes``: each pair's close per bar (close-stamped), for the per-pair and per-strategy drawdowns of the
    breakdowns; ``end_reason``: what the ledger says of positions still open at the end."""
    a = strategies[0].analyzers
    performance = {**a.returns.get_analysis(), **a.sharpe.get_analysis(), **a.drawdown.get_analysis(),
                   **a.tail_loss.get_analysis()}
    trading: dict[str, Any] = {"turnover": 0.0, "traded_notional": 0.0}
    reasons: Counter = Counter()
    blocked = 0
    for strategy in strategies:
        sa = strategy.analyzers
        for key in ("turnover", "traded_notional"):
            trading[key] += sa.turnover.get_analysis()[key]
        reasons.update(strategy.rejection_reasons)
        blocked += len(getattr(strategy, "blocked_entries", ()))
    # slippage, maker/taker counts and rejections are broker-wide: any strategy's FeesPaid analyzer has them
    broker_costs = {k: v for k, v in a.fees.get_analysis().items() if k != "fees_paid"}
    trading.update({"fees_paid": broker.fees_paid, **broker_costs,
                    "rejection_reasons": dict(sorted(reasons.items())), "entries_blocked_by_model": blocked})
    returns = a.returns
    ledger = build_ledger(broker.fills, last_closes(strategies[0]), opening_positions(returns), end_reason)
    trading.update(pnl_summary(ledger.trips))
    trading["fees"] = ledger.fees
    trading["net_pnl"] = ledger.net
    trading["reconciliation"] = reconcile(ledger, returns.start_value, broker.getvalue())
    equity = pd.Series(returns.values, index=pd.DatetimeIndex(returns.times), dtype=float)
    return {
        "performance": dict(performance),
        "trading": trading,
        "exposure": dict(a.exposure.get_analysis()),
        "benchmark": dict(a.benchmark.get_analysis()),
        "breakdowns": breakdowns(ledger, equity, returns.start_value, closes),
    }


def honest_periods(metrics: dict[str, Any], bars: int, timeframe: pd.Timedelta) -> None:
    """Count the run's length by its bars (``performance.bars``, ``performance.period_days``) and withhold the
    annualized figures of every part of ``metrics`` that has them when that length is under 30 days."""
    days = period_days(bars, timeframe)
    for part in ("performance", "baseline", "benchmark"):
        if part in metrics:
            metrics[part] = withhold_annualized(metrics[part], days)
    metrics["performance"].update(bars=bars, period_days=days)


def close_frame(candles: dict[str, pd.DataFrame], timeframe: pd.Timedelta) -> pd.DataFrame:
    """Each pair's close per bar, stamped at the bar's close like the equity curve (candles are stamped by start)."""
    frame = pd.DataFrame({symbol: candle["close"] for symbol, candle in candles.items()})
    frame.index = frame.index + timeframe
    return frame


def last_closes(strategy) -> dict[str, float]:
    """Each pair's close at the end of the run: the prices the broker's final value is marked at."""
    return {d._name: float(d.close[0]) for d in strategy.datas if len(d)}


def opening_positions(returns) -> list[dict[str, Any]]:
    """Positions held when the evaluation started (see ``Returns365.opening``; a restarted live session resumes
    some), for the ledger, opened at the evaluation's start."""
    return [{"symbol": symbol, "size": size, "price": price, "dt": returns.p.start}
            for symbol, (size, price) in getattr(returns, "opening", {}).items()]


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
