"""The regime plan (and the model's probabilities) computed bar by bar, for paper and live runs.

A backtest computes the plan vectorized before the run and loads it on the reference feed's extra lines. A live
run cannot: its bars do not exist yet. :class:`LivePlanKeeper` is a strategy added *before* the six sleeves
(backtrader calls strategies in the order they were added), so at each bar it writes the same lines the sleeves
read in a backtest: ``regime`` and the weight lines on the reference feed, ``p_up`` on every feed when a model is
used. Its regimes come from :class:`~kraken_global.regimes.IncrementalRegimeDetector`, tested to equal the
vectorized ones bar for bar, and its weights from the same :class:`~kraken_global.selection.RegimeSelector`.

The model's probability is only computed on live bars: no order can be placed on a replayed bar, so the
probability of one would never be read.

Being the first strategy of each bar, it also logs the live bar's regime and slot changes: they come before the
orders the sleeves then place on that bar, so the log reads in bar order.
"""

from __future__ import annotations

import logging
import math
from collections import deque

import backtrader as bt
import pandas as pd

from kraken_global.ml.training import predict_probabilities
from kraken_global.regimes import IncrementalRegimeDetector, Regime, RegimeWindows
from kraken_global.selection import STRATEGY_NAMES, RegimeSelector, weight_line
from kraken_global.strategies.base import OnePortfolio

FEATURE_WINDOW = 300  # bars of history the features need (the longest window is 240 bars) plus margin
_OHLCV = ("open", "high", "low", "close", "volume")
log = logging.getLogger("kraken_global.session")


class LivePlanKeeper(OnePortfolio, bt.Strategy):
    params = (
        ("reference", "BTC/USD"),
        ("timeframe", pd.Timedelta(hours=1)),
        ("thresholds", None),
        ("selector", None),
        ("model", None),
    )
    trades = False  # writes the plan; the portfolio's analyzers belong to the sleeves

    def __init__(self) -> None:
        self.reference = self.getdatabyname(self.p.reference)
        pairs = [d._name for d in self.datas]
        self.detector = IncrementalRegimeDetector(pairs, self.p.timeframe, self.p.thresholds, self.p.reference)
        self.warmup = RegimeWindows.for_timeframe(self.p.thresholds, self.p.timeframe).warmup
        self.selector: RegimeSelector = self.p.selector or RegimeSelector()
        self.history = {d: deque(maxlen=FEATURE_WINDOW) for d in self.datas}
        self.replaying: set = set()
        self.bars = 0
        self.rows: list[dict] = []
        self._logged: tuple[str | None, tuple] = (None, ())

    def notify_data(self, data, status, *args, **kwargs) -> None:
        if status == data.DELAYED:
            self.replaying.add(data)
        elif status == data.LIVE:
            self.replaying.discard(data)

    def prenext(self) -> None:
        self.next()

    def next(self) -> None:
        if len(self.reference) <= self.bars:
            return  # another feed moved alone (cannot happen with the shared poller; kept safe anyway)
        self.bars = len(self.reference)
        closes = {d._name: d.close[0] for d in self.datas if len(d)}
        regime, _ = self.detector.update(closes)
        weights = self.selector.step(regime, warmup=self.bars < self.warmup)
        self.reference.lines.regime[0] = float(regime)
        for name in STRATEGY_NAMES:
            getattr(self.reference.lines, weight_line(name))[0] = weights.get(name, 0.0)
        self.rows.append({"datetime": self.reference.datetime.datetime(0), "regime": Regime(regime).name,
                          **{name: weights.get(name, 0.0) for name in STRATEGY_NAMES}})
        if not self.replaying:
            self._log_changes(self.rows[-1])
        if self.p.model is not None:
            self._probabilities()

    def _log_changes(self, row: dict) -> None:
        """The regime and the slots of a live bar, when they changed (the first live bar always says them)."""
        regime, slots = row["regime"], tuple((k, v) for k, v in row.items() if k in STRATEGY_NAMES and v > 0)
        before_regime, before_slots = self._logged
        if regime != before_regime:
            log.info("bar %s: regime %s -> %s", row["datetime"], before_regime or "(start)", regime)
        if slots != before_slots or before_regime is None:
            log.info("bar %s: slots %s", row["datetime"],
                     ", ".join(f"{k} {v:.2f}" for k, v in slots) or "none (all cash)")
        self._logged = (regime, slots)

    def _probabilities(self) -> None:
        for data in self.datas:
            if not len(data):
                continue
            self.history[data].append(tuple(getattr(data, c)[0] for c in _OHLCV))
            if data in self.replaying or len(self.history[data]) < FEATURE_WINDOW:
                continue
            frame = pd.DataFrame(list(self.history[data]), columns=list(_OHLCV))
            p_up = predict_probabilities(self.p.model, frame).iloc[-1]
            data.lines.p_up[0] = p_up if not math.isnan(p_up) else float("nan")
