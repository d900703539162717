"""Cost stress and Monte Carlo of a single backtest: ``backtest --stress --monte-carlo`` and ``research`` on a
results folder or a sweep point.

The stressed runs reuse the candles and regime plan of the first (fees and slippage change neither), so a stress
costs three more passes of cerebro, not three more loads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from kraken_global.assembly.inputs import RunInputs
from kraken_global.config import BacktestConfig
from kraken_global.errors import InsufficientEvidence
from kraken_global.research.costs import AS_CONFIGURED, CostStressResult, cost_scenarios, stress_result
from kraken_global.research.monte_carlo import MonteCarloResult, block_bootstrap


def stress_backtest(config: BacktestConfig, as_configured: pd.Series | None = None,
                    inputs: RunInputs | None = None) -> CostStressResult:
    """The backtest of ``config`` under every cost scenario; ``as_configured``: the daily returns of a run of
    ``config`` already made (not run again)."""
    from kraken_global.runners.backtest import run_backtest

    inputs = inputs if inputs is not None else RunInputs()
    scenarios = cost_scenarios(config)
    returns = []
    for scenario in scenarios:
        if scenario.name == AS_CONFIGURED and as_configured is not None:
            returns.append(as_configured.to_numpy())
        else:
            returns.append(run_backtest(scenario.config, with_baseline=False, inputs=inputs).daily_returns()
                           .to_numpy())
    return stress_result(scenarios, returns)


def monte_carlo(config: BacktestConfig, daily_returns) -> MonteCarloResult:
    """The block bootstrap of ``daily_returns`` with the config's research settings and seed."""
    research = config.research
    return block_bootstrap(daily_returns, config.run.seed, research.monte_carlo_samples,
                           research.monte_carlo_block_days)


def research_sections(config: BacktestConfig, daily_returns: pd.Series, with_monte_carlo: bool,
                      with_stress: bool, inputs: RunInputs | None = None) -> dict[str, Any]:
    """The ``monte_carlo`` and ``cost_stress`` sections a backtest's metrics.json gets when asked for."""
    sections: dict[str, Any] = {}
    if with_monte_carlo:
        sections["monte_carlo"] = or_refusal(lambda: monte_carlo(config, daily_returns).to_dict())
    if with_stress:
        sections["cost_stress"] = stress_backtest(config, daily_returns, inputs).to_dict()
    return sections


def or_refusal(compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A statistic's JSON, or ``{"refused": one line}`` saying why it would mean nothing here."""
    try:
        return compute()
    except InsufficientEvidence as exc:
        return {"refused": str(exc)}
