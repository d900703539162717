"""How a run is carried out: its seed, its results folder, plots and progress, and where Dask work runs."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from kraken_global.config.base import Flag, Strict, UserPath, WholeNumber


class RunConfig(Strict):
    # numpy and scikit-learn take seeds of 0..2**32-1
    seed: WholeNumber = Field(default=42, ge=0, le=2**32 - 1)
    out: UserPath = Path("results/default")
    plot: Flag = True
    progress: Flag = True
    # where walk-forward folds, gate windows and sweeps run: serial | local (a LocalCluster) | tcp://host:8786
    scheduler: str = Field(default="local", pattern=r"^(serial|local|tcp://[^\s]+)$")
    workers: WholeNumber | None = Field(default=None, ge=1, le=512)  # LocalCluster size (default: the machine's cores)
