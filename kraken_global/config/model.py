"""The entry-filter model: its training, where the registry keeps it, which one trades, and the gates' thresholds."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field

from kraken_global.config.base import FiniteFloat, Flag, Strict, UserPath, WholeNumber


class MLConfig(Strict):
    """Training of the entry-filter model and where the registry keeps it."""

    artifacts: UserPath = Path("artifacts")
    namespace: str = Field(default="kraken_global", pattern=r"^[a-z][a-z0-9_-]{0,63}$")
    train_end: date | None = None
    horizon_bars: WholeNumber = Field(default=24, ge=1, le=10_000)
    embargo_bars: WholeNumber = Field(default=24, ge=0, le=10_000)
    folds: WholeNumber = Field(default=4, ge=2, le=20)
    min_probability: FiniteFloat = Field(default=0.5, ge=0, le=1)
    use_model: Literal["none", "approved"] = "none"
    # a pin: with use_model approved, refuse to run unless the approved model is this one. Results' config.yaml
    # records the model a run traded with here, so re-running a saved config trades the same model or refuses.
    model_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
    model_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class GatesConfig(Strict):
    """The four gates' thresholds (see README "Gates"), and the optional fifth on the Deflated Sharpe Ratio."""

    min_sharpe: FiniteFloat = 0.5
    max_drawdown_pct: FiniteFloat = Field(default=15.0, gt=0)
    max_tail_loss_pct: FiniteFloat = Field(default=5.0, gt=0)
    max_turnover: FiniteFloat = Field(default=2.0, gt=0)
    oos_windows: WholeNumber = Field(default=2, ge=1, le=12)
    dsr_gate: Flag = True
    min_dsr: FiniteFloat = Field(default=0.95, ge=0, le=1)
