"""What a session may spend: a capital budget, and the ramp that grows the bot's share of it as its record earns it.

The seed's rollout, "start live with small capital ... gradually increase position sizes", as configuration:
``budget_usd`` is the most the bot may have in positions (None: the account's value when the ramp starts), and
``ramp`` starts the bot at the first of ``shares`` of it and moves to the next share only after ``step_days`` in
which the session's record met every condition (drawdown within ``max_drawdown_pct``, no kill-switch trip, fills
within ``parity_tolerance_bps`` of the backtest's fill model). See :mod:`kraken_global.sessions.ramp`.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from pydantic import Field, field_validator

from kraken_global.config.base import FiniteFloat, Flag, Strict, UserPath


class RampConfig(Strict):
    """A stepwise schedule of the share of the budget the bot may use (off by default)."""

    enabled: Flag = False
    shares: tuple[FiniteFloat, ...] = (0.05, 0.1, 0.25, 0.5, 1.0)  # of the budget; the first is where a ramp starts
    step_days: FiniteFloat = Field(default=7.0, gt=0, le=365)  # days (market time) each share must be held cleanly
    max_drawdown_pct: FiniteFloat = Field(default=10.0, gt=0, le=100)  # of the session's value within the step
    parity_tolerance_bps: FiniteFloat | None = Field(default=50.0, ge=0, le=10_000)  # None: not a condition
    state: UserPath = Path("state/ramp.json")  # where the ramp's step survives restarts (one record per mode)

    @field_validator("shares")
    @classmethod
    def _increasing_shares(cls, shares: tuple[float, ...]) -> tuple[float, ...]:
        if not shares:
            raise ValueError("give at least one share, e.g. [0.05, 0.1, 0.25, 0.5, 1.0]")
        if any(not 0 < s <= 1 for s in shares):
            raise ValueError(f"each share must be in (0, 1], got {list(shares)}")
        if any(b <= a for a, b in pairwise(shares)):
            raise ValueError(f"shares must increase step by step, got {list(shares)}")
        return shares


class CapitalConfig(Strict):
    """``live.capital``: the budget the bot may spend, and its ramp."""

    budget_usd: FiniteFloat | None = Field(default=None, gt=0, le=1e12)  # None: no cap beyond the cash the account has
    ramp: RampConfig = RampConfig()
