"""Which strategies trade in which regime, and with what share of the capital.

A selection map gives each regime at most two strategies with weights (fractions of the portfolio value,
summing to at most 1). The first regime after PANIC uses the ``after_panic`` slot instead (Recovery by
default) until the regime changes again. During the regime warm-up no strategy has a slot.

:func:`allocation_plan` turns a regime series into a weight per strategy per bar before a backtest; the same
:class:`RegimeSelector` steps one bar at a time in live trading.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from kraken_global.regime_names import Regime

if TYPE_CHECKING:  # loading a config reads the selection constants: it must not import pandas
    import pandas as pd

STRATEGY_NAMES = ("TrendFollower", "VolatilitySwing", "MeanReversion", "DefensiveHedge", "StableAllocator",
                  "Recovery")
MAX_ACTIVE = 2

DEFAULT_SELECTION: dict[Regime, dict[str, float]] = {
    Regime.RISK_ON: {"TrendFollower": 0.6, "VolatilitySwing": 0.4},
    Regime.NEUTRAL: {"MeanReversion": 0.5, "StableAllocator": 0.5},
    Regime.RISK_OFF: {"DefensiveHedge": 0.5, "StableAllocator": 0.5},
    Regime.PANIC: {"DefensiveHedge": 1.0},
}
DEFAULT_AFTER_PANIC: dict[str, float] = {"Recovery": 1.0}


def check_slot(name: str, slot: Mapping[str, float]) -> None:
    """Raise ValueError unless ``slot`` has 1-2 known strategies with weights in (0, 1] summing to <= 1."""
    unknown = sorted(set(slot) - set(STRATEGY_NAMES))
    if unknown:
        raise ValueError(f"{name}: unknown strategy {', '.join(unknown)}; known: {', '.join(STRATEGY_NAMES)}")
    if not 1 <= len(slot) <= MAX_ACTIVE:
        raise ValueError(f"{name}: between 1 and {MAX_ACTIVE} strategies may run at once, got {len(slot)}")
    if any(not 0 < w <= 1 for w in slot.values()) or sum(slot.values()) > 1 + 1e-9:
        raise ValueError(f"{name}: weights must be in (0, 1] and sum to at most 1, got {dict(slot)}")


class RegimeSelector:
    """Steps through regimes and answers the weights in force; see the module docstring."""

    def __init__(self, selection: Mapping[Regime, Mapping[str, float]] = DEFAULT_SELECTION,
                 after_panic: Mapping[str, float] = DEFAULT_AFTER_PANIC) -> None:
        for regime in Regime:
            if regime not in selection:
                raise ValueError(f"the selection map has no entry for {regime.name}")
            check_slot(regime.name, selection[regime])
        check_slot("after_panic", after_panic)
        self.selection = {r: dict(selection[r]) for r in Regime}
        self.after_panic = dict(after_panic)
        self.previous: Regime | None = None
        self.recovering = False

    def step(self, regime: Regime, warmup: bool = False) -> dict[str, float]:
        if self.previous is not None and regime != self.previous:
            self.recovering = self.previous == Regime.PANIC
        self.previous = regime
        if warmup:
            return {}
        return dict(self.after_panic if self.recovering else self.selection[regime])


def allocation_plan(regimes: pd.DataFrame, selector: RegimeSelector) -> pd.DataFrame:
    """Weights per strategy (columns) for every bar of ``regimes`` (columns ``regime`` and ``warmup``)."""
    import pandas as pd

    rows = [selector.step(Regime(int(r)), bool(w)) for r, w in zip(regimes["regime"], regimes["warmup"], strict=True)]
    plan = pd.DataFrame(rows, index=regimes.index, columns=list(STRATEGY_NAMES)).fillna(0.0)
    plan.insert(0, "regime", regimes["regime"].astype(float))
    return plan


def weight_line(strategy_name: str) -> str:
    """The name of the feed line that carries a strategy's weight (``w_trendfollower``)."""
    return f"w_{strategy_name.lower()}"
