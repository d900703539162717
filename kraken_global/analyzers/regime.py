"""RegimeAnalyzer: what each strategy did in each regime.

Attached to every strategy of the regime system, it records per bar the regime in force (from the plan
feed's ``regime`` line), the strategy's allocation, its sleeve's exposure (holdings / portfolio value) and its
P&L. A bar's P&L change is attributed to the regime of the previous bar, the one in which the positions
were decided. :func:`summarize_regimes` combines the instances into the report's regime and strategy tables.
"""

from __future__ import annotations

import backtrader as bt
import numpy as np
import pandas as pd

from kraken_global.regimes import Regime


class RegimeAnalyzer(bt.Analyzer):
    def start(self) -> None:
        self.plan_feed = getattr(self.strategy, "plan_feed", None)
        self.rows: list[tuple] = []  # bar time as backtrader's day number: converted once, in frame()
        self._frame: pd.DataFrame | None = None
        if self.plan_feed is not None:
            self._times, self._regimes = self.plan_feed.lines.datetime, self.plan_feed.lines.regime

    def next(self) -> None:
        s = self.strategy
        if self.plan_feed is None or self._times.idx < 0 or not hasattr(s, "sleeve_pnl"):
            return
        value = s.broker.getvalue()
        held = s.sleeve_value()  # once: sleeve_pnl() would sum the holdings again
        self.rows.append((self._times[0], int(self._regimes[0]), s.allocation(),
                          held / value if value > 0 else 0.0, s.cash_flow + held, value))

    def frame(self) -> pd.DataFrame:
        if self._frame is None or len(self._frame) != len(self.rows):
            frame = pd.DataFrame(self.rows, columns=["datetime", "regime", "allocation", "exposure", "pnl", "value"])
            frame["datetime"] = [bt.num2date(t) for t in frame["datetime"]]
            self._frame = frame.set_index("datetime")
        return self._frame

    def stop(self) -> None:
        frame = self.frame()
        self.rets["strategy"] = type(self.strategy).__name__
        if frame.empty:
            return
        change = frame["pnl"].diff().fillna(frame["pnl"].iloc[0])
        decided_in = frame["regime"].shift(1).fillna(frame["regime"].iloc[0]).astype(int)
        self.rets["pnl"] = float(frame["pnl"].iloc[-1])
        self.rets["pnl_by_regime"] = {Regime(r).name: float(change[decided_in == r].sum())
                                      for r in sorted(decided_in.unique())}
        self.rets["active_share_pct"] = float((frame["allocation"] > 0).mean() * 100)


def summarize_regimes(analyzers: list[RegimeAnalyzer], warmup: pd.Series, evaluation_start=None) -> dict:
    """Portfolio and per-strategy figures by regime, and the slot checks, from all strategies' analyzers.

    ``warmup``: True for warm-up bars, indexed like the analyzers' frames (bar close time). Only bars from
    ``evaluation_start`` count, and warm-up bars among them are counted as warm-up, never as a regime."""
    frames = {a.get_analysis()["strategy"]: a.frame() for a in analyzers}
    if evaluation_start is not None:
        frames = {name: f[f.index >= pd.Timestamp(evaluation_start)] for name, f in frames.items()}
    first = next(iter(frames.values()))
    if first.empty:
        return {}
    warm = warmup.reindex(first.index).fillna(False).astype(bool).to_numpy()
    regimes = first["regime"].astype(int).where(~warm, -1)
    value = first["value"]
    change = value.diff().fillna(value.iloc[0] - value.iloc[0])
    decided_in = regimes.shift(1).fillna(regimes.iloc[0]).astype(int)
    table = {}
    for regime in Regime:
        in_regime = regimes == regime
        table[regime.name] = {
            "occurred": bool(in_regime.any()),
            "bars": int(in_regime.sum()),
            "share_of_time_pct": float(in_regime.mean() * 100),
            "pnl_usd": float(change[decided_in == regime].sum()),
        }
    if warm.any():
        table["WARMUP"] = {"occurred": True, "bars": int(warm.sum()), "share_of_time_pct": float(warm.mean() * 100),
                           "pnl_usd": float(change[decided_in == -1].sum())}
    allocations = pd.DataFrame({name: f["allocation"] for name, f in frames.items()})
    exposures = pd.DataFrame({name: f["exposure"] for name, f in frames.items()})
    active = (allocations > 0).sum(axis=1)
    excess = (exposures - allocations).where(allocations > 0)
    strategies = {name: _strategy_summary(frame, regimes) for name, frame in frames.items()}
    return {
        "regimes": table,
        "regimes_not_seen": [name for name, row in table.items() if not row["occurred"] and name != "WARMUP"],
        "warmup_bars": int(warm.sum()),
        "regime_changes": int((regimes[~warm].diff().fillna(0) != 0).sum()),
        "strategies": strategies,
        "checks": {
            "max_active_strategies": int(active.max()),
            "max_exposure_over_allocation": float(np.nan_to_num(excess.max().max(), nan=0.0)),
        },
    }


def _strategy_summary(frame: pd.DataFrame, regimes: pd.Series) -> dict:
    """One strategy's P&L, P&L by the regime its positions were decided in, and share of bars with a slot, over
    the evaluated bars (``regimes``: -1 marks warm-up)."""
    change = frame["pnl"].diff().fillna(frame["pnl"].iloc[0])
    decided_in = regimes.shift(1).fillna(regimes.iloc[0]).astype(int)
    names = {int(r): Regime(r).name for r in Regime} | {-1: "WARMUP"}
    return {"pnl": float(frame["pnl"].iloc[-1]),
            "pnl_by_regime": {names[r]: float(change[decided_in == r].sum()) for r in sorted(decided_in.unique())},
            "active_share_pct": float((frame["allocation"] > 0).mean() * 100)}
