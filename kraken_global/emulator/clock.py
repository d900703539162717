"""The market clock of the emulator: which replayed candle is current. It runs ``speed`` times faster than the
exchange clock (Kraken's own clock, :mod:`kraken_global.clocks`) and can be moved forward on demand (tests use
``speed=0`` and :meth:`ReplayClock.advance` for exact control). Kraken's clock, not this one, stamps orders and
trades and runs deadlines and the dead man's switch."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from kraken_global.clocks import SYSTEM, Clock


class ReplayClock:
    def __init__(self, start: datetime, speed: float = 0.0, exchange_clock: Clock = SYSTEM) -> None:
        self.start = start
        self.speed = speed
        self.exchange_clock = exchange_clock
        self._exchange_start = exchange_clock.time()
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            elapsed = (self.exchange_clock.time() - self._exchange_start) * self.speed
            return self.start + self._offset + timedelta(seconds=elapsed)

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError(f"the market clock only moves forward, not by {delta}")
        with self._lock:
            self._offset += delta
        return self.now()
