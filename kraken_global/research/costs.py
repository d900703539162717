"""Does the edge survive higher costs? The same run at 1.5x and 2x fees and slippage, and under Kraken's current
schedule.

Every figure of a backtest rests on one fee schedule and one slippage guess; a new Kraken Pro account pays more
than the default preset, and real slippage in a thin hour is worse than 5 bps. A system whose edge vanishes at
twice the costs has no edge. The scenarios:

- ``as configured``: the run itself;
- ``1.5x costs`` and ``2x costs``: every fee tier's maker and taker rate and both slippage settings multiplied;
- ``current schedule``: the fee preset :data:`~kraken_global.fees.CURRENT_KRAKEN_PRESET` (what a new account
  pays now), the configured slippage.

Figures come from each scenario's daily returns, the same way for every kind of result (a backtest, a sweep point,
the stitched out-of-sample legs of a walk-forward): total return, Sharpe and max drawdown of the daily values.
**The edge survives 2x costs** when the 2x run still has a positive Sharpe and a positive total return.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kraken_global import metrics
from kraken_global.config import BacktestConfig
from kraken_global.fees import CURRENT_KRAKEN_PRESET

AS_CONFIGURED, STRESS_2X = "as configured", "2x costs"
MULTIPLIERS = (1.5, 2.0)


@dataclass(frozen=True)
class CostScenario:
    name: str
    config: BacktestConfig
    fee_multiplier: float
    slippage_multiplier: float
    fee_preset: str  # the schedule the multiplier applies to


def scaled_costs(config: BacktestConfig, multiplier: float) -> BacktestConfig:
    """``config`` with every fee rate and both slippage settings multiplied (fees become a custom schedule)."""
    tiers = [{"min_volume": tier.min_volume, "maker_pct": tier.maker * 100 * multiplier,
              "taker_pct": tier.taker * 100 * multiplier} for tier in config.broker.fees.schedule().tiers]
    return config.with_overrides({"broker.fees": {"preset": "custom", "tiers": tiers},
                                  "broker.slippage_bps": config.broker.slippage_bps * multiplier,
                                  "broker.random_slippage_bps": config.broker.random_slippage_bps * multiplier})


def cost_scenarios(config: BacktestConfig) -> list[CostScenario]:
    """The scenarios of a cost stress, the configured run first."""
    preset = config.broker.fees.schedule().name
    scenarios = [CostScenario(AS_CONFIGURED, config, 1.0, 1.0, preset)]
    scenarios += [CostScenario(f"{m:g}x costs", scaled_costs(config, m), m, m, preset) for m in MULTIPLIERS]
    current = config.with_overrides({"broker.fees": {"preset": CURRENT_KRAKEN_PRESET, "tiers": []}})
    scenarios.append(CostScenario(f"current schedule ({CURRENT_KRAKEN_PRESET})", current, 1.0, 1.0,
                                  CURRENT_KRAKEN_PRESET))
    return scenarios


def return_figures(daily_returns: Sequence[float]) -> dict[str, float]:
    """Total return, Sharpe and max drawdown (of daily values) of a series of daily returns."""
    r = np.asarray(daily_returns, dtype=float)
    values = np.cumprod(np.concatenate([[1.0], 1.0 + r]))
    return {"total_return_pct": float((values[-1] - 1.0) * 100.0), "sharpe": metrics.sharpe_ratio(r),
            "max_drawdown_pct": metrics.max_drawdown_pct(values), "days": int(r.size)}


@dataclass(frozen=True)
class CostStressResult:
    scenarios: tuple[dict[str, Any], ...]  # name, multipliers, preset and figures of each scenario, in order

    def figures(self, name: str) -> dict[str, Any]:
        return next(s for s in self.scenarios if s["name"] == name)

    @property
    def survives_2x_costs(self) -> bool:
        stressed = self.figures(STRESS_2X)
        return stressed["sharpe"] > 0 and stressed["total_return_pct"] > 0

    @property
    def sharpe_retained_at_2x(self) -> float | None:
        """Sharpe at 2x costs / Sharpe as configured, when the configured Sharpe is positive."""
        base = self.figures(AS_CONFIGURED)["sharpe"]
        return self.figures(STRESS_2X)["sharpe"] / base if base > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {"scenarios": list(self.scenarios), "survives_2x_costs": self.survives_2x_costs,
                "sharpe_retained_at_2x": self.sharpe_retained_at_2x,
                "rule": "survives when the 2x-cost run has a positive Sharpe and a positive total return"}

    def summary(self) -> str:
        parts = [f"{s['name']} {s['total_return_pct']:+.1f}% (Sharpe {s['sharpe']:.2f})" for s in self.scenarios]
        verdict = "survives" if self.survives_2x_costs else "does NOT survive"
        return f"cost stress: {'; '.join(parts)}; the edge {verdict} 2x costs"


def stress_result(scenarios: Sequence[CostScenario], returns: Sequence[Sequence[float]]) -> CostStressResult:
    """The stress result from each scenario's daily returns (same order as ``scenarios``)."""
    rows = [{"name": s.name, "fee_multiplier": s.fee_multiplier, "slippage_multiplier": s.slippage_multiplier,
             "fee_preset": s.fee_preset, **return_figures(r)} for s, r in zip(scenarios, returns, strict=True)]
    return CostStressResult(tuple(rows))


def cost_stress(config: BacktestConfig, run: Callable[[BacktestConfig], Sequence[float]]) -> CostStressResult:
    """Run ``run(config) -> daily returns`` under every scenario (one after the other) and compare them."""
    scenarios = cost_scenarios(config)
    return stress_result(scenarios, [run(s.config) for s in scenarios])
