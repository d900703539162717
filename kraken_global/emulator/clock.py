"""The market clock of the emulator: replay time that runs ``speed`` times faster than the wall clock, and can be
moved forward on demand (tests use ``speed=0`` and :meth:`ReplayClock.advance` for exact control)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta


class ReplayClock:
    def __init__(self, start: datetime, speed: float = 0.0) -> None:
        self.start = start
        self.speed = speed
        self._wall_start = time.monotonic()
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            elapsed = (time.monotonic() - self._wall_start) * self.speed
            return self.start + self._offset + timedelta(seconds=elapsed)

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError(f"the market clock only moves forward, not by {delta}")
        with self._lock:
            self._offset += delta
        return self.now()
