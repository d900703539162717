"""The daily downtime window: no new orders while the model retrains (03:00-05:00 UTC by default).

Three states, decided from a UTC time of day alone:

- ``TRADING``: anything goes.
- ``TRANSITION``: the ``transition_minutes`` before downtime; only orders that reduce exposure, so the
  system enters downtime flat or smaller, never mid-entry.
- ``DOWNTIME``: ``[start, end)``; the broker rejects every new order with reason ``downtime``.

The window may wrap midnight (e.g. 23:00-01:00). Times are UTC whatever the machine's time zone: naive
datetimes are taken as UTC, aware ones are converted.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

_DAY = 86_400


class TradingState(enum.StrEnum):
    TRADING = "trading"
    TRANSITION = "transition"
    DOWNTIME = "downtime"


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _inside(now: int, start: int, end: int) -> bool:
    """``start <= now < end`` on a 24h clock, wrapping midnight when ``end <= start``."""
    if start == end:
        return False
    if start < end:
        return start <= now < end
    return now >= start or now < end


@dataclass(frozen=True)
class DowntimeSchedule:
    """When trading pauses each day (UTC). ``enabled=False`` makes every moment TRADING."""

    start: time = time(3, 0)
    end: time = time(5, 0)
    transition_minutes: int = 30
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("downtime start and end must differ")
        if not 0 <= self.transition_minutes < 24 * 60:
            raise ValueError("transition_minutes must be between 0 and 1439")
        if self.transition_minutes * 60 + self.downtime_seconds > _DAY:
            raise ValueError("transition plus downtime cannot exceed 24 hours")

    @property
    def downtime_seconds(self) -> int:
        return (_seconds(self.end) - _seconds(self.start)) % _DAY

    @property
    def transition_start(self) -> time:
        moment = datetime.combine(datetime(2000, 1, 2).date(), self.start) - timedelta(minutes=self.transition_minutes)
        return moment.time()

    def state_at(self, moment: datetime) -> TradingState:
        """The trading state at ``moment`` (naive = UTC)."""
        if not self.enabled:
            return TradingState.TRADING
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        now = _seconds(moment.time())
        start, end = _seconds(self.start), _seconds(self.end)
        if _inside(now, start, end):
            return TradingState.DOWNTIME
        if self.transition_minutes and _inside(now, (start - self.transition_minutes * 60) % _DAY, start):
            return TradingState.TRANSITION
        return TradingState.TRADING

    def boundaries(self) -> list[tuple[time, TradingState]]:
        """The times of day at which the state changes, with the state that begins there."""
        if not self.enabled:
            return []
        out = [(self.start, TradingState.DOWNTIME), (self.end, TradingState.TRADING)]
        if self.transition_minutes:
            out.insert(0, (self.transition_start, TradingState.TRANSITION))
        return out
