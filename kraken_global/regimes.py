"""Market regimes - RISK_ON, NEUTRAL, RISK_OFF, PANIC - computed without lookahead.

Inputs at each bar use only that bar and earlier ones, each over its own fixed window:

- ``trend``: the reference pair's close / its SMA over ``trend_days`` - 1.
- ``vol``: the downside deviation of the reference pair's log returns over ``vol_days`` (root of the summed
  squares of the negative returns over n - 1), annualized: only falls count, since a panic is a fall.
- ``vol_rank``: the share of the last ``vol_history_days`` of ``vol`` values that are <= the current one.
- ``drawdown``: the reference close / its highest close over ``drawdown_days`` - 1 (<= 0).
- ``recent_return``: the reference pair's log return over the last ``vol_days`` (the window ``vol`` measures).
- ``breadth``: the share of pairs (with enough history) whose close is above their SMA over ``breadth_days``.

Raw regime of a bar (first rule that holds):

1. PANIC: ``drawdown <= -panic_drawdown``, ``vol_rank >= panic_vol_rank`` and ``recent_return <
   panic_recent_return`` (default 0): a deep fall in a spike of downside volatility, prices still falling.
   Plain volatility treats rises and falls alike: a sharp rally out of a drawdown (2019-10-25: +8% in an
   hour, BTC 32% below its high) read as a panic and held PANIC for three days of rising prices.
2. RISK_ON: ``trend > trend_band`` and ``breadth >= breadth_risk_on``.
3. RISK_OFF: ``trend < -trend_band`` and ``breadth <= breadth_risk_off``.
4. NEUTRAL otherwise, and during the warm-up while any input is still undefined.

Hysteresis: PANIC is entered at once; any other change needs the new raw regime on ``confirm_bars``
consecutive bars and at least ``min_dwell_bars`` in the current regime, so the regime does not flap.

Two paths give the same regimes on the same bars (tested): :func:`compute_regimes` (vectorized, before a
backtest) and :class:`IncrementalRegimeDetector` (one bar at a time, live). Both evaluate every window with
the same numpy reductions and share :class:`RegimeStateMachine`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from kraken_global.regime_names import Regime


@dataclass(frozen=True)
class RegimeThresholds:
    """Every number the regime rules use; the config's ``regimes`` section maps onto it."""

    trend_days: float = 50
    vol_days: float = 7
    vol_history_days: float = 90
    drawdown_days: float = 90
    breadth_days: float = 20
    trend_band: float = 0.02
    breadth_risk_on: float = 0.6
    breadth_risk_off: float = 0.4
    panic_drawdown: float = 0.25
    panic_vol_rank: float = 0.85
    panic_recent_return: float = 0.0
    confirm_days: float = 1
    min_dwell_days: float = 3


@dataclass(frozen=True)
class RegimeWindows:
    """The thresholds' day counts turned into bar counts for one timeframe."""

    trend: int
    vol: int
    vol_history: int
    drawdown: int
    breadth: int
    confirm: int
    min_dwell: int
    bars_per_year: float

    @classmethod
    def for_timeframe(cls, thresholds: RegimeThresholds, timeframe: pd.Timedelta) -> RegimeWindows:
        per_day = pd.Timedelta(days=1) / timeframe

        def bars(days: float) -> int:
            return max(1, round(days * per_day))

        return cls(bars(thresholds.trend_days), max(2, bars(thresholds.vol_days)), bars(thresholds.vol_history_days),
                   bars(thresholds.drawdown_days), bars(thresholds.breadth_days), bars(thresholds.confirm_days),
                   bars(thresholds.min_dwell_days), per_day * 365)

    @property
    def warmup(self) -> int:
        """Bars before every input is defined."""
        return max(self.trend, self.vol + self.vol_history - 1, self.drawdown, self.breadth)


INPUT_COLUMNS = ("trend", "vol", "vol_rank", "drawdown", "breadth", "recent_return")


def _windowed(values: np.ndarray, n: int, reduce) -> np.ndarray:
    """``reduce`` over each trailing window of ``n`` values; NaN where the window is not full."""
    out = np.full(values.shape[0], np.nan)
    if values.shape[0] >= n:
        out[n - 1:] = reduce(sliding_window_view(values, n), axis=-1)
    return out


def _rank_last(window: np.ndarray, axis: int = -1) -> np.ndarray:
    """Share of a window's values that are <= its last value."""
    last = np.take(window, [-1], axis=axis)
    return np.mean(window <= last, axis=axis)


def _downside(window: np.ndarray, axis: int = -1) -> np.ndarray:
    """Downside deviation: like the standard deviation (ddof 1, around 0), from the negative values only."""
    falls = np.minimum(window, 0.0)
    # rounded: windows of equal falls tie exactly in ``vol_rank`` whichever summation order a path uses
    return np.round(np.sqrt(np.sum(falls * falls, axis=axis) / (np.shape(window)[axis] - 1)), 12)


def regime_inputs(reference: np.ndarray, universe: np.ndarray, windows: RegimeWindows) -> pd.DataFrame:
    """Vectorized inputs. ``reference``: closes of the reference pair; ``universe``: closes, bars x pairs (NaN
    before a pair's data begins). Row t depends on rows <= t only."""
    reference = np.asarray(reference, dtype=float)
    sma = _windowed(reference, windows.trend, np.mean)
    log_returns = np.concatenate([[np.nan], np.diff(np.log(reference))])
    vol = _windowed(log_returns, windows.vol, _downside) * math.sqrt(windows.bars_per_year)
    vol_rank = np.full_like(vol, np.nan)
    first = windows.vol  # the first defined vol is at index vol (one return is lost to the difference)
    if len(vol) - first >= windows.vol_history:
        vol_rank[first + windows.vol_history - 1:] = _rank_last(sliding_window_view(vol[first:], windows.vol_history))
    high = _windowed(reference, windows.drawdown, np.max)
    universe = np.asarray(universe, dtype=float).reshape(len(reference), -1)
    above = np.full(universe.shape, np.nan)
    for j in range(universe.shape[1]):
        pair_sma = _windowed(universe[:, j], windows.breadth, np.mean)
        above[:, j] = np.where(np.isnan(pair_sma), np.nan, universe[:, j] > pair_sma)
    counted = (~np.isnan(above)).sum(axis=1)
    breadth = np.where(counted > 0, np.nansum(above, axis=1) / np.maximum(counted, 1), np.nan)
    recent = np.full_like(reference, np.nan)
    recent[windows.vol:] = np.log(reference[windows.vol:] / reference[:-windows.vol])
    return pd.DataFrame({"trend": reference / sma - 1, "vol": vol, "vol_rank": vol_rank,
                         "drawdown": reference / high - 1, "breadth": breadth, "recent_return": recent})


def classify(trend: float, vol_rank: float, drawdown: float, breadth: float, recent_return: float,
             t: RegimeThresholds) -> Regime:
    """The raw regime of one bar (see the module docstring)."""
    if any(math.isnan(x) for x in (trend, vol_rank, drawdown, breadth, recent_return)):
        return Regime.NEUTRAL
    if drawdown <= -t.panic_drawdown and vol_rank >= t.panic_vol_rank and recent_return < t.panic_recent_return:
        return Regime.PANIC
    if trend > t.trend_band and breadth >= t.breadth_risk_on:
        return Regime.RISK_ON
    if trend < -t.trend_band and breadth <= t.breadth_risk_off:
        return Regime.RISK_OFF
    return Regime.NEUTRAL


class RegimeStateMachine:
    """Hysteresis over raw regimes: immediate PANIC, otherwise confirmation and a minimum dwell."""

    def __init__(self, confirm_bars: int, min_dwell_bars: int, initial: Regime = Regime.NEUTRAL) -> None:
        self.confirm_bars = confirm_bars
        self.min_dwell_bars = min_dwell_bars
        self.current = initial
        self.dwell = 0
        self.pending: Regime | None = None
        self.pending_count = 0

    def step(self, raw: Regime) -> Regime:
        self.dwell += 1
        if raw == self.current:
            self.pending, self.pending_count = None, 0
            return self.current
        if raw == Regime.PANIC:
            return self._switch(raw)
        if raw == self.pending:
            self.pending_count += 1
        else:
            self.pending, self.pending_count = raw, 1
        if self.pending_count >= self.confirm_bars and self.dwell >= self.min_dwell_bars:
            return self._switch(raw)
        return self.current

    def _switch(self, regime: Regime) -> Regime:
        self.current, self.dwell, self.pending, self.pending_count = regime, 0, None, 0
        return regime


def compute_regimes(reference: pd.Series, universe: pd.DataFrame, timeframe: pd.Timedelta,
                    thresholds: RegimeThresholds = RegimeThresholds()) -> pd.DataFrame:
    """Regimes for every bar of ``reference`` (its closes, indexed by time). ``universe``: closes of all pairs,
    aligned to the same index (NaN before a pair's data). Returns the inputs, ``raw`` and ``regime`` columns."""
    windows = RegimeWindows.for_timeframe(thresholds, timeframe)
    universe = universe.reindex(reference.index)
    inputs = regime_inputs(reference.to_numpy(), universe.to_numpy(), windows)
    inputs.index = reference.index
    machine = RegimeStateMachine(windows.confirm, windows.min_dwell)
    raw, final = [], []
    columns = ["trend", "vol_rank", "drawdown", "breadth", "recent_return"]
    for trend, vol_rank, drawdown, breadth, recent in inputs[columns].itertuples(index=False):
        r = classify(trend, vol_rank, drawdown, breadth, recent, thresholds)
        raw.append(int(r))
        final.append(int(machine.step(r)))
    inputs["raw"] = raw
    inputs["regime"] = final
    inputs["warmup"] = np.arange(len(inputs)) < windows.warmup - 1
    return inputs


class IncrementalRegimeDetector:
    """The same regimes one bar at a time, for live trading: keeps only the windows it needs."""

    def __init__(self, pairs: list[str], timeframe: pd.Timedelta, thresholds: RegimeThresholds = RegimeThresholds(),
                 reference: str = "BTC/USD") -> None:
        self.t = thresholds
        self.w = RegimeWindows.for_timeframe(thresholds, timeframe)
        self.reference = reference
        self.pairs = pairs
        longest = max(self.w.trend, self.w.drawdown, self.w.vol + 1)
        self.closes: deque[float] = deque(maxlen=longest)
        self.log_returns: deque[float] = deque(maxlen=self.w.vol)
        self.vols: deque[float] = deque(maxlen=self.w.vol_history)
        self.pair_closes = {p: deque(maxlen=self.w.breadth) for p in pairs}
        self.machine = RegimeStateMachine(self.w.confirm, self.w.min_dwell)

    def update(self, closes: dict[str, float]) -> tuple[Regime, dict[str, float]]:
        """Feed one closed bar (closes by pair; a pair may be absent before its data begins)."""
        close = float(closes[self.reference])
        if self.closes:
            self.log_returns.append(math.log(close / self.closes[-1]))
        else:
            self.log_returns.append(float("nan"))
        self.closes.append(close)
        history = np.asarray(self.closes)
        trend = close / np.mean(history[-self.w.trend:]) - 1 if len(history) >= self.w.trend else float("nan")
        vol = float("nan")
        if len(self.log_returns) == self.w.vol:
            vol = float(_downside(np.asarray(self.log_returns)) * math.sqrt(self.w.bars_per_year))
        if not math.isnan(vol):
            self.vols.append(vol)
        vol_rank = float("nan")
        if len(self.vols) == self.w.vol_history:
            vol_rank = float(_rank_last(np.asarray(self.vols)))
        drawdown = close / np.max(history[-self.w.drawdown:]) - 1 if len(history) >= self.w.drawdown else float("nan")
        above, counted = 0.0, 0
        for pair, window in self.pair_closes.items():
            if pair in closes and not math.isnan(closes[pair]):
                window.append(float(closes[pair]))
            if pair in closes and len(window) == self.w.breadth:
                counted += 1
                above += float(window[-1] > np.mean(np.asarray(window)))
        breadth = above / counted if counted else float("nan")
        recent = math.log(close / history[-self.w.vol - 1]) if len(history) > self.w.vol else float("nan")
        raw = classify(trend, vol_rank, drawdown, breadth, recent, self.t)
        inputs = {"trend": trend, "vol": vol, "vol_rank": vol_rank, "drawdown": drawdown, "breadth": breadth,
                  "recent_return": recent}
        return self.machine.step(raw), inputs
