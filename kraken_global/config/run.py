"""How a run is carried out: its seed, its results folder, plots and progress, and where Dask work runs."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from kraken_global.config.base import Strict


class RunConfig(Strict):
    seed: int = 42
    out: Path = Path("results/default")
    plot: bool = True
    progress: bool = True
    # where walk-forward folds, gate windows and sweeps run: serial | local (a LocalCluster) | tcp://host:8786
    scheduler: str = Field(default="local", pattern=r"^(serial|local|tcp://[^\s]+)$")
    workers: int | None = Field(default=None, ge=1, le=512)  # LocalCluster size (default: the machine's cores)
    # a sweep or walk-forward refuses a larger grid (a typo in --set can ask for millions of backtests)
    max_grid_points: int = Field(default=10_000, ge=1, le=10_000_000)
