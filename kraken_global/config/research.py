"""How research over history is judged: the objective a walk-forward maximizes, its windows, the PBO splits and
the Monte Carlo resampling. None of it changes a trading decision, so none of it is part of a trial's identity."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kraken_global.config.base import Flag, Strict, WholeNumber


class ResearchConfig(Strict):
    # what a walk-forward window and a sweep's best row maximize, from daily returns
    objective: Literal["sharpe", "total_return"] = "sharpe"
    in_sample_days: WholeNumber = Field(default=180, ge=7, le=3650)
    out_of_sample_days: WholeNumber = Field(default=60, ge=7, le=3650)
    anchored: Flag = False  # in-sample windows all start at the first day (else they roll)
    pbo_splits: WholeNumber = Field(default=16, ge=2, le=20, multiple_of=2)
    monte_carlo_samples: WholeNumber = Field(default=2000, ge=100, le=100_000)
    monte_carlo_block_days: WholeNumber | None = Field(default=None, ge=1, le=365)  # null: round(days ** (1/3))
