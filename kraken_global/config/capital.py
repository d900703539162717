"""What the bot may spend of a shared account's cash: ``live.capital``."""

from __future__ import annotations

from pydantic import Field

from kraken_global.config.base import Strict


class CapitalConfig(Strict):
    """The live bot's capital. ``budget_usd``: USD it may spend, plus what its own fills bring back (sells, net of
    fees) and minus what they spent; None: no cap beyond the cash the account has. Coins and cash beyond the
    budget stay the account owner's (see :mod:`kraken_global.live.ownership`)."""

    budget_usd: float | None = Field(default=None, gt=0, le=1e12)
