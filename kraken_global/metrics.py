"""Performance and risk metrics as pure functions, so analyzers and gates share one tested definition.

Definitions (also in the README):

- **Daily returns**: the portfolio value at the last bar of each UTC day; the first day's return is against
  the starting value. Bars are stamped when they close, so a value stamped exactly 00:00 closes the
  previous day (see :func:`utc_day`).
- **Sharpe**: ``mean(daily) / std(daily, ddof=1) * sqrt(365)``, risk-free rate 0 (crypto trades every day).
  0.0 when there are fewer than two days or no variation.
- **Max drawdown %**: the largest fall from a running peak of the value series, in percent of that peak.
- **Tail loss %**: expected shortfall of daily returns at 95%: the mean of the worst ``ceil(5% * n)`` daily
  returns, as a positive percent (0 when that mean is a gain).
- **Turnover**: mean over days of (traded notional that day, buys plus sells) / (portfolio value at the end of
  that day), pyfolio's definition with the portfolio value as denominator. 1.0 means the whole book traded
  once a day on average.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

PERIODS_PER_YEAR = 365


def utc_day(times) -> pd.DatetimeIndex:
    """The UTC day each close-stamped time belongs to: ``(0:00, 24:00]`` is one day."""
    return (pd.DatetimeIndex(times) - pd.Timedelta(1, "ns")).normalize()


def daily_values(times: Sequence, values: Sequence[float]) -> pd.Series:
    """Value at the last observation of each UTC calendar day."""
    series = pd.Series(np.asarray(values, dtype=float), index=pd.DatetimeIndex(times))
    return series.groupby(utc_day(series.index)).last()


def daily_returns(times: Sequence, values: Sequence[float], start_value: float) -> pd.Series:
    days = daily_values(times, values)
    previous = days.shift(1)
    previous.iloc[0] = start_value
    return days / previous - 1.0


def sharpe_ratio(returns: Sequence[float], periods: int = PERIODS_PER_YEAR) -> float:
    r = np.asarray(returns, dtype=float)
    if r.size < 2:
        return 0.0
    std = r.std(ddof=1)
    if not std > 1e-15:
        return 0.0
    return float(r.mean() / std * math.sqrt(periods))


def max_drawdown_pct(values: Sequence[float]) -> float:
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return 0.0
    peaks = np.maximum.accumulate(v)
    return float(np.max((peaks - v) / peaks) * 100.0)


def expected_shortfall_pct(returns: Sequence[float], level: float = 0.95) -> float:
    r = np.sort(np.asarray(returns, dtype=float))
    if r.size == 0:
        return 0.0
    k = max(1, math.ceil((1.0 - level) * r.size - 1e-12))
    return float(max(0.0, -r[:k].mean()) * 100.0)


def turnover(daily_traded: pd.Series, daily_value: pd.Series) -> float:
    """Mean of traded notional / end-of-day value over all days of ``daily_value``."""
    if daily_value.empty:
        return 0.0
    traded = daily_traded.reindex(daily_value.index, fill_value=0.0)
    return float((traded / daily_value).mean())


def total_return_pct(start_value: float, end_value: float) -> float:
    return (end_value / start_value - 1.0) * 100.0


def annualized_return_pct(returns: Sequence[float], periods: int = PERIODS_PER_YEAR) -> float:
    r = np.asarray(returns, dtype=float)
    if r.size == 0:
        return 0.0
    growth = float(np.prod(1.0 + r))
    return (growth ** (periods / r.size) - 1.0) * 100.0


MIN_ANNUALIZED_DAYS = 30
ANNUALIZED_KEYS = ("annualized_return_pct", "sharpe")


def period_days(bars: int, timeframe: pd.Timedelta) -> float:
    """How long a run is, counted by its bars (61 one-hour bars are 2.5 days, whatever calendar days they touch)."""
    return bars * pd.Timedelta(timeframe) / pd.Timedelta(days=1)


def withhold_annualized(figures: dict, days: float) -> dict:
    """``figures`` with the annualized ones (return, Sharpe) set to None, and the reason, when the period is
    shorter than :data:`MIN_ANNUALIZED_DAYS`: a week's Sharpe of 13 says nothing about a year. Keys stay present,
    so a reader of ``metrics.json`` finds them, null, with ``annualized_withheld`` saying why."""
    out = dict(figures)
    if days >= MIN_ANNUALIZED_DAYS:
        return out
    for key in ANNUALIZED_KEYS:
        if key in out:
            out[key] = None
    out["annualized_withheld"] = (f"the period covers {days:g} days, under {MIN_ANNUALIZED_DAYS}: annualized "
                                  "figures (annualized return, Sharpe) would mean nothing")
    return out


def value_figures(times: Sequence, values: Sequence[float], start_value: float, timeframe: pd.Timedelta) -> dict:
    """The headline figures of a stretch of a value series (e.g. the out-of-sample part of a run): total and
    annualized return, Sharpe, max drawdown and tail loss, with the annualized ones withheld under 30 days."""
    returns = daily_returns(times, values, start_value) if len(values) else pd.Series(dtype=float)
    end = values[-1] if len(values) else start_value
    figures = {"start_value": start_value, "end_value": float(end), "bars": len(values),
               "period_days": period_days(len(values), timeframe),
               "total_return_pct": total_return_pct(start_value, end),
               "annualized_return_pct": annualized_return_pct(returns), "sharpe": sharpe_ratio(returns),
               "max_drawdown_pct": max_drawdown_pct([start_value, *values]),
               "tail_loss_pct": expected_shortfall_pct(returns)}
    return withhold_annualized(figures, figures["period_days"])
