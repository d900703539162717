"""Kraken's clock as this process knows it: the local clock plus an offset measured against Kraken's ``Time``.

An order's ``deadline`` is a moment of Kraken's clock, and so is "the deadline has passed". A machine whose clock is
10 s ahead would, on its own clock, give up on an order Kraken may still accept and act on a false absence. So the
store measures the offset to ``Time`` at start and again every ``clock_check_seconds``, stamps deadlines with the
local clock plus that offset, and decides that a deadline has passed by asking ``Time`` itself (no offset can go
stale there). ``Time`` answers whole seconds: Kraken's moment lies in ``[unixtime, unixtime + 1)``, so the offset is
taken at the middle of that second and of the request's round trip, and "passed" only counts whole seconds past.
A skew beyond ``max_skew_seconds`` means a broken clock, not a drifting one: trading is refused until it is fixed.
"""

from __future__ import annotations

from collections.abc import Callable

from kraken_global.clocks import Clock


class KrakenClock:
    def __init__(self, local: Clock, max_skew_seconds: float | None = 60.0) -> None:
        self.local = local
        self.max_skew_seconds = max_skew_seconds
        self.offset = 0.0  # Kraken's clock minus the local one, seconds
        self.measured_at: float | None = None  # local time of the last measurement

    def measure(self, unixtime: Callable[[], float]) -> float:
        """Measure the offset with ``unixtime()`` (Kraken's ``Time``); returns it."""
        before = self.local.time()
        kraken = float(unixtime())
        after = self.local.time()
        self.offset = kraken + 0.5 - (before + after) / 2
        self.measured_at = after
        return self.offset

    def due(self, every_seconds: float) -> bool:
        return self.measured_at is None or self.local.time() >= self.measured_at + every_seconds

    def now(self) -> float:
        """Kraken's time now, estimated from the local clock and the last measured offset."""
        return self.local.time() + self.offset

    def skew_problem(self) -> str | None:
        """Why trading must stop for the clock, or None."""
        if self.max_skew_seconds is None or abs(self.offset) <= self.max_skew_seconds:
            return None
        direction = "ahead of" if self.offset < 0 else "behind"
        return (f"this machine's clock is {abs(self.offset):.1f} s {direction} Kraken's, more than "
                f"live.max_clock_skew_seconds ({self.max_skew_seconds:g}): set the clock right (NTP, e.g. chrony or "
                "systemd-timesyncd) before trading")
