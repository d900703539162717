"""Parameter sweeps: one backtest per combination of values, as Dask tasks (or serially).

``--set strategy.params.fast=20,40,60 --set data.timeframe=1h,4h`` gives 6 backtests. Each runs the same code
as ``kraken-global backtest`` on the same data; results come back in the grid's order whatever ran where, so a
sweep on a cluster gives the table a serial sweep gives. Values are read as YAML (``20`` is a number, ``4h`` a
string, ``[a, b]`` a list).
"""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd
import yaml

from kraken_global.config import BacktestConfig
from kraken_global.distributed import run_tasks
from kraken_global.errors import ConfigError

REPORTED = ("total_return_pct", "sharpe", "max_drawdown_pct", "tail_loss_pct")


def parse_grid(assignments: list[str]) -> dict[str, list[Any]]:
    grid: dict[str, list[Any]] = {}
    for text in assignments:
        key, sep, values = text.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ConfigError(f"--set {text!r}: expected KEY=V1,V2,... (e.g. strategy.params.fast=20,40)")
        grid[key.strip()] = [yaml.safe_load(v) for v in values.split(",")]
    if not grid:
        raise ConfigError("a sweep needs at least one --set KEY=V1,V2,...")
    return grid


def combinations(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*grid.values())]


def _sweep_task(job: tuple[BacktestConfig, dict[str, Any]]) -> dict[str, Any]:
    from kraken_global.runners.backtest import run_backtest

    config, overrides = job
    result = run_backtest(config.with_overrides(overrides), with_baseline=False)
    performance = result.metrics["performance"]
    trading = result.metrics["trading"]
    return {**overrides, **{k: performance[k] for k in REPORTED}, "turnover": trading["turnover"],
            "round_trips": trading["round_trips"], "fees_paid": trading["fees_paid"]}


def run_sweep(config: BacktestConfig, grid: dict[str, list[Any]], client=None, on_done=None) -> pd.DataFrame:
    jobs = combinations(grid)
    for overrides in jobs:  # every combination is validated before anything runs
        config.with_overrides(overrides)
    rows = run_tasks(_sweep_task, [(config, overrides) for overrides in jobs], client, label="sweep",
                     on_done=on_done)
    record_trials(config, jobs, rows)
    return pd.DataFrame(rows)


def record_trials(config: BacktestConfig, jobs: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """Each sweep point is a trial in the registry's ledger: the Deflated Sharpe of any model gated later is
    deflated by it."""
    from kraken_global.gating.candidates import registry_for, trading_system
    from kraken_global.registry.trials import TrialLedger

    registry = registry_for(config)
    approved = registry.state().get("approved") if config.ml.use_model == "approved" else None
    model_sha = approved.get("sha256") if approved else None
    ledger = TrialLedger(registry.root)
    for overrides, row in zip(jobs, rows, strict=True):
        ledger.record("sweep", model_sha, trading_system(config.with_overrides(overrides)), sharpe=row["sharpe"],
                      ref=",".join(f"{k}={v}" for k, v in overrides.items()))
