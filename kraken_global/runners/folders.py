"""``kraken-global research KIND FOLDER``: a Monte Carlo, a cost stress or a PBO of results already on disk.

A backtest's folder gives its daily returns (``equity.csv``, from the starting value in ``metrics.json``) and its
config (``config.yaml``); a sweep's or walk-forward's folder gives any point (``--point``, by default the best row
by ``research.objective``), the returns matrix for PBO, and for a walk-forward the stitched out-of-sample days.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from kraken_global import metrics
from kraken_global.config import BacktestConfig, load_config, parse_config
from kraken_global.errors import ConfigError
from kraken_global.files import MB, check_regular, read_json_limited
from kraken_global.research.objectives import best_column
from kraken_global.research.pbo import pbo
from kraken_global.runners.grid import Grid
from kraken_global.runners.stress import monte_carlo, stress_backtest
from kraken_global.runners.sweep import point_returns
from kraken_global.runners.sweep_store import SweepStore


def folder_research(folder: Path, kind: str, point: int | None = None, samples: int | None = None,
                    block: int | None = None, seed: int | None = None, splits: int | None = None) -> dict[str, Any]:
    """The ``kind`` (``monte-carlo``, ``stress``, ``pbo``) section of ``folder``, with a ``source`` line."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder: name a backtest's, a sweep's or a walk-forward's results folder")
    store = SweepStore(folder)
    manifest = store.manifest()
    if manifest is None:
        if kind == "pbo" or point is not None:
            raise ConfigError(f"{folder} holds no sweep (no sweep.json): PBO and --point need a sweep's or a "
                              "walk-forward's folder")
        config, returns, source = _backtest_folder(folder)
    else:
        config = parse_config(yaml.safe_load(manifest["config"]), str(store.manifest_file))
        grid = Grid.from_dict(manifest["grid"])
        if kind == "pbo":
            _, points, matrix = store.returns_matrix()
            result = pbo(matrix, splits or config.research.pbo_splits)
            return {**result.to_dict(), "source": f"{folder} ({len(points)} points)"}
        stitched = folder / "walk_forward.csv"
        if point is None and kind == "monte-carlo" and stitched.exists():
            check_regular(stitched, "walk-forward days file")
            returns = pd.read_csv(stitched, index_col=0)["walk_forward"].to_numpy()
            source = f"{folder} (the walk-forward's stitched out-of-sample days)"
        else:
            if point is None:
                _, points, matrix = store.returns_matrix()
                if not points:
                    raise ConfigError(f"{folder}: no point of the sweep has finished")
                point = points[best_column(matrix, config.research.objective)]
            overrides = grid.point(point)  # a point outside the grid is refused before the folder is read
            returns = point_returns(store, point)
            config = config.with_overrides(overrides)
            source = f"{folder} point {point} ({', '.join(f'{k}={v}' for k, v in overrides.items())})"
    if kind == "monte-carlo":
        chosen = {"research.monte_carlo_samples": samples, "research.monte_carlo_block_days": block, "run.seed": seed}
        config = config.with_overrides({k: v for k, v in chosen.items() if v is not None})
        return {**monte_carlo(config, returns).to_dict(), "source": source}
    return {**stress_backtest(config, pd.Series(returns)).to_dict(), "source": source}


def _backtest_folder(folder: Path) -> tuple[BacktestConfig, np.ndarray, str]:
    files = [folder / name for name in ("config.yaml", "equity.csv", "metrics.json")]
    missing = [f.name for f in files if not f.exists()]
    if missing:
        raise ConfigError(f"{folder} is not a results folder (no {', '.join(missing)}): name the folder a backtest, "
                          "sweep or optimize wrote")
    config = load_config(files[0])
    check_regular(files[1], "equity curve")
    try:
        equity = pd.read_csv(files[1], index_col=0, parse_dates=True)
        values = equity["value"].astype(float)
        times = pd.DatetimeIndex(equity.index)
    except (KeyError, TypeError, ValueError, pd.errors.ParserError):
        raise ConfigError(f"{files[1]} is not a backtest's equity curve (a time index and a value column)") from None
    try:
        start_value = float(read_json_limited(files[2], "metrics file", 10 * MB)["performance"]["start_value"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"{files[2]} has no performance.start_value: is it a backtest's metrics.json?") from None
    returns = metrics.daily_returns(times, values, start_value).to_numpy()
    return config, returns, f"{folder} (backtest)"
