"""Walk-forward optimization over history: ``kraken-global optimize``.

1. Every point of the grid runs once over the whole period, as a sweep (:mod:`.sweep`: shared inputs, streamed to
   disk, resumable). Its daily returns are the days x points matrix of everything that follows.
2. In each window (:mod:`kraken_global.research.walk_forward`) every point is scored on its in-sample days, taken
   from its run over the whole period (its state at the window's start comes from earlier bars only: no
   lookahead), and the best is chosen.
3. The chosen point is then traded **fresh** on the out-of-sample days: a new backtest from flat, warmed up on the
   history before the window, as a user switching to it would. The legs are stitched into the honest result.
4. The same legs run again under the cost scenarios (:mod:`kraken_global.research.costs`: 1.5x, 2x, the current
   Kraken schedule), with the same choices; the stitched days get a Monte Carlo; the matrix gets its PBO; the
   whole sweep's best row gets its DSR over the trial ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kraken_global import metrics
from kraken_global.assembly.inputs import RunInputs
from kraken_global.config import BacktestConfig
from kraken_global.distributed import run_tasks
from kraken_global.errors import InsufficientEvidence
from kraken_global.research.costs import cost_scenarios, return_figures, stress_result
from kraken_global.research.objectives import best_column
from kraken_global.research.pbo import pbo
from kraken_global.research.walk_forward import (
    WalkForwardResult,
    WindowChoice,
    choose_in_sample,
    stability,
    walk_forward_windows,
)
from kraken_global.runners.grid import Grid
from kraken_global.runners.stress import monte_carlo, or_refusal
from kraken_global.runners.sweep import run_sweep
from kraken_global.runners.trials import deflated_statistics, open_ledger


def leg_config(config: BacktestConfig, overrides: dict[str, Any], start, last_day) -> BacktestConfig:
    """``config`` at a chosen point, evaluated on ``[start, last_day]`` (warm-up loaded before ``start``)."""
    return config.with_overrides({**overrides, "data.start": str(start), "data.end": str(last_day)})


def run_legs(configs: list[BacktestConfig]) -> list[dict[str, Any]]:
    """One window's out-of-sample legs, one per cost scenario (a task: the scenarios share the window's candles
    and plan). Each leg: the strategy's and buy-and-hold's daily returns."""
    from kraken_global.runners.backtest import run_backtest

    inputs, legs = RunInputs(), []
    for config in configs:
        result = run_backtest(config, with_baseline=False, inputs=inputs)
        daily, equity = result.daily_returns(), result.equity
        bench = None
        if "benchmark_value" in equity and equity["benchmark_value"].notna().any():
            held = equity["benchmark_value"].dropna()
            start_value = result.metrics["performance"]["start_value"]
            bench = [float(x) for x in metrics.daily_returns(held.index, held, start_value)]
        legs.append({"days": [str(d.date()) for d in daily.index], "daily": [float(x) for x in daily],
                     "benchmark": bench})
    return legs


def walk_forward(config: BacktestConfig, grid: Grid, out: Path, client=None,
                 on_done: Callable[[int, int], None] | None = None) -> WalkForwardResult:
    """Walk-forward optimization of ``grid`` around ``config`` (``config.research`` holds the windows, the
    objective, the PBO splits and the Monte Carlo settings); the sweep is kept in ``out``. ``on_done(done,
    total)``: progress over the sweep's points, then the windows' out-of-sample tasks."""
    research = config.research
    store = run_sweep(config, grid, out, client, on_done)
    days, points, matrix = store.returns_matrix()
    if not len(days):
        raise InsufficientEvidence("no point of the sweep produced daily returns: see the refusals in sweep.csv")
    windows = walk_forward_windows(days[0].date(), days[-1].date(), research.in_sample_days,
                                   research.out_of_sample_days, research.anchored)
    columns, scores = choose_in_sample(days, matrix, windows, research.objective)
    chosen = [points[column] for column in columns]

    scenarios = cost_scenarios(config)
    jobs = [[leg_config(scenario.config, grid.point(point), window.in_sample_end, window.out_of_sample_last_day)
             for scenario in scenarios] for window, point in zip(windows, chosen, strict=True)]
    legs_done = None if on_done is None else (lambda done, total: on_done(grid.size + done, grid.size + total))
    per_window = run_tasks(run_legs, jobs, client, label="walk-forward-legs", on_done=legs_done)
    by_scenario = [[legs[i] for legs in per_window] for i in range(len(scenarios))]
    configured = by_scenario[0]
    stitched_returns = np.concatenate([leg["daily"] for leg in configured])
    stitched_days = pd.DatetimeIndex([d for leg in configured for d in leg["days"]])

    whole_best = best_column(matrix, research.objective)
    on_stitched_days = pd.Series(matrix[:, whole_best], index=days).reindex(stitched_days)
    bench = None if any(leg["benchmark"] is None for leg in configured) else \
        np.concatenate([leg["benchmark"] for leg in configured])
    daily = pd.DataFrame({"window": np.repeat(np.arange(len(windows)), [len(leg["daily"]) for leg in configured]),
                          "walk_forward": stitched_returns, "in_sample_best": on_stitched_days.to_numpy(),
                          "buy_and_hold": bench if bench is not None else np.nan},
                         index=pd.DatetimeIndex(stitched_days, name="day"))
    return WalkForwardResult(
        objective=research.objective, anchored=research.anchored, in_sample_days=research.in_sample_days,
        out_of_sample_days=research.out_of_sample_days,
        windows=tuple(WindowChoice(window, point, grid.point(point), score, return_figures(leg["daily"]))
                      for window, point, score, leg in zip(windows, chosen, scores, configured, strict=True)),
        stitched={**return_figures(stitched_returns), "first_day": str(stitched_days[0].date()),
                  "last_day": str(stitched_days[-1].date())},
        in_sample_best={"point": points[whole_best], "overrides": grid.point(points[whole_best]),
                        "whole_period": return_figures(matrix[:, whole_best]),
                        "stitched_days": return_figures(on_stitched_days.dropna().to_numpy())},
        buy_and_hold=None if bench is None else {"symbol": config.universe.benchmark, **return_figures(bench),
                                                 "note": "bought at the start of each out-of-sample leg"},
        stability=stability([grid.point(point) for point in chosen]),
        pbo=or_refusal(lambda: pbo(matrix, research.pbo_splits).to_dict()),
        monte_carlo=or_refusal(lambda: monte_carlo(config, stitched_returns).to_dict()),
        cost_stress=stress_result(scenarios, [np.concatenate([leg["daily"] for leg in legs_of])
                                              for legs_of in by_scenario]).to_dict(),
        best_row_statistics=deflated_statistics(open_ledger(config), matrix[:, whole_best]),
        daily=daily,
    )

