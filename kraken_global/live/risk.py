"""Risk limits checked before any live order, and the daily-loss kill switch.

- ``max_order_notional``: no single order above this many USD.
- ``max_position_notional``: no order that would take a pair's position above this many USD.
- ``max_daily_loss_pct``: when equity falls this far below its value at the start of the UTC day, the kill switch
  trips: every order is refused except those that reduce a position, and the broker must cancel open orders and
  flatten. It resets at the next UTC day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class RiskLimits:
    max_order_notional: float = 5_000.0
    max_position_notional: float = 10_000.0
    max_daily_loss_pct: float = 5.0

    def __post_init__(self) -> None:
        if min(self.max_order_notional, self.max_position_notional, self.max_daily_loss_pct) <= 0:
            raise ValueError("risk limits must be positive")


class RiskGuard:
    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits
        self.day: date | None = None
        self.day_start_equity = 0.0
        self.killed = False

    def observe_equity(self, now: datetime, equity: float) -> bool:
        """Track the day's starting equity; returns True when this observation trips the kill switch."""
        if self.day != now.date():
            self.day, self.day_start_equity, self.killed = now.date(), equity, False
            return False
        floor = self.day_start_equity * (1 - self.limits.max_daily_loss_pct / 100)
        if not self.killed and equity < floor:
            self.killed = True
            return True
        return False

    def check_order(self, side: str, amount: float, price: float, position: float) -> str | None:
        """The reason to refuse an order, or None. ``position``: the pair's current size (base units)."""
        reduces = side == "sell" and amount <= position + 1e-12
        if self.killed and not reduces:
            return f"kill switch: equity fell more than {self.limits.max_daily_loss_pct}% today; only reductions"
        notional = amount * price
        if notional > self.limits.max_order_notional:
            return f"order notional {notional:.2f} USD exceeds max_order_notional {self.limits.max_order_notional}"
        after = (position + amount if side == "buy" else position - amount) * price
        if side == "buy" and after > self.limits.max_position_notional:
            return (f"position would be {after:.2f} USD, above max_position_notional "
                    f"{self.limits.max_position_notional}")
        return None
