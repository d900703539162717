"""Where the P&L came from: by pair, by strategy, by regime, by calendar month and year; best and worst trades.

Two sources, each the right one for its question, and each adding up to the run's P&L:

- **Pairs, strategies, regimes** from the round-trip ledger (:mod:`kraken_global.ledger`): closed and open P&L,
  fees, round trips and their statistics. ``contribution_pct`` is the net P&L in percent of the starting value
  (the rows add up to the total return). ``max_drawdown_usd`` is the largest fall of the group's own P&L curve
  (its cash flows plus its units at each bar's close), from a running peak that starts at 0. A round trip belongs
  to the regime its position was opened in.
- **Months and years** from the equity curve: value at the period's last bar against the previous period's,
  the return, the largest drawdown inside the period (from its running peak, starting at the previous period's
  end value), the fees of its fills and the round trips that closed in it. Bars are stamped at their close, so a
  bar stamped exactly 00:00 on the 1st belongs to the month before (as daily returns do).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kraken_global import metrics
from kraken_global.ledger import Allocation, Ledger, RoundTrip, group_trips, pnl_summary

BEST_AND_WORST = 5


def period_of(times, freq: str) -> pd.PeriodIndex:
    """The calendar month (``freq="M"``) or year (``"Y"``) of each close-stamped time."""
    return (pd.DatetimeIndex(times) - pd.Timedelta(1, "ns")).to_period(freq)


def pnl_curve(allocations: list[Allocation], closes: pd.DataFrame) -> np.ndarray:
    """Cumulative P&L of ``allocations`` at each bar of ``closes`` (index: bar close times; columns: pairs):
    cash paid and received (fees included) plus the units held at the bar's close."""
    bars = closes.index.to_numpy()
    curve = np.zeros(len(bars))
    by_symbol: dict[str, list[Allocation]] = {}
    for a in allocations:
        by_symbol.setdefault(a.symbol, []).append(a)
    for symbol, parts in by_symbol.items():
        times = pd.DatetimeIndex([a.dt for a in parts]).to_numpy()
        units = np.cumsum([a.signed_size for a in parts])
        cash = np.cumsum([-a.signed_size * a.price - a.fee for a in parts])
        at = np.searchsorted(times, bars, side="right") - 1
        seen = at >= 0
        held = np.where(seen, units[np.maximum(at, 0)], 0.0)
        price = closes[symbol].to_numpy() if symbol in closes else np.zeros(len(bars))
        marked = np.where(held != 0, held * np.nan_to_num(price), 0.0)
        curve += np.where(seen, cash[np.maximum(at, 0)], 0.0) + marked
    return curve


def max_drawdown_usd(curve: np.ndarray) -> float:
    """Largest fall of a P&L curve from its running peak (the peak starts at 0: nothing made yet)."""
    if len(curve) == 0:
        return 0.0
    peaks = np.maximum.accumulate(np.maximum(curve, 0.0))
    return float(np.max(peaks - curve))


def group_breakdown(trips: list[RoundTrip], allocations: list[Allocation], attribute: str, start_value: float,
                    closes: pd.DataFrame | None) -> dict[str, dict[str, Any]]:
    """The ledger's figures per value of the round trips' ``attribute`` (``symbol``, ``strategy``, ``regime``)."""
    out = {}
    for name, group in group_trips(trips, lambda t: getattr(t, attribute)).items():
        row = pnl_summary(group)
        row["contribution_pct"] = 100.0 * row["net_pnl"] / start_value if start_value else None
        if closes is not None and attribute in ("symbol", "strategy"):
            parts = [a for a in allocations if getattr(a, attribute) == name]
            row["max_drawdown_usd"] = max_drawdown_usd(pnl_curve(parts, closes))
        out[name] = row
    return out


def period_breakdown(equity: pd.Series, start_value: float, allocations: list[Allocation],
                     trips: list[RoundTrip], freq: str) -> dict[str, dict[str, Any]]:
    """Return, P&L, max drawdown, fees and closed round trips per calendar month (``"M"``) or year (``"Y"``)."""
    if equity.empty:
        return {}
    periods = period_of(equity.index, freq)
    fees = pd.Series([a.fee for a in allocations], index=period_of([a.dt for a in allocations], freq),
                     dtype=float).groupby(level=0).sum() if allocations else pd.Series(dtype=float)
    closed = [t for t in trips if not t.is_open]
    closed_in = period_of([t.closed for t in closed], freq) if closed else pd.PeriodIndex([], freq=freq)
    out: dict[str, dict[str, Any]] = {}
    before = start_value
    for period, values in equity.groupby(periods, sort=True):
        end = float(values.iloc[-1])
        trips_here = [t for t, p in zip(closed, closed_in, strict=True) if p == period]
        out[str(period)] = {
            "start_value": before, "end_value": end, "pnl": end - before,
            "return_pct": metrics.total_return_pct(before, end) if before else None,
            "max_drawdown_pct": metrics.max_drawdown_pct([before, *values.to_numpy()]),
            "fees": float(fees.get(period, 0.0)),
            "round_trips": len(trips_here), "wins": sum(1 for t in trips_here if t.net > 0),
            "closed_trips_pnl": sum(t.net for t in trips_here),
        }
        before = end
    return out


def best_and_worst(trips: list[RoundTrip], count: int = BEST_AND_WORST) -> dict[str, list[dict[str, Any]]]:
    """The ``count`` closed round trips with the highest and the lowest net P&L."""
    closed = sorted((t for t in trips if not t.is_open), key=lambda t: (t.net, t.number))
    return {"best": [t.as_dict() for t in reversed(closed[-count:])], "worst": [t.as_dict() for t in closed[:count]]}


def breakdowns(ledger: Ledger, equity: pd.Series, start_value: float,
               closes: pd.DataFrame | None = None) -> dict[str, Any]:
    """Every breakdown of a run (see the module docstring). ``equity``: portfolio value per evaluated bar;
    ``closes``: each pair's close on the same bars (for the per-pair and per-strategy drawdowns)."""
    if closes is not None:
        closes = closes.reindex(equity.index).ffill()
    trips, parts = ledger.trips, ledger.allocations
    return {
        "by_pair": group_breakdown(trips, parts, "symbol", start_value, closes),
        "by_strategy": group_breakdown(trips, parts, "strategy", start_value, closes),
        "by_regime": group_breakdown(trips, parts, "regime", start_value, None),
        "by_month": period_breakdown(equity, start_value, parts, trips, "M"),
        "by_year": period_breakdown(equity, start_value, parts, trips, "Y"),
        "round_trips": best_and_worst(trips),
    }
