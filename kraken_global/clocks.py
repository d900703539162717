"""Clocks shared by the live code and the emulator, so that time is the machine's in production and a test's in tests.

Live trading waits on durations: an order's deadline plus a margin, a backoff after a rate limit, the dead man's
switch's refresh. A test that waited them out in real time would take minutes, so everything that reads the time or
sleeps takes a :class:`Clock`:

- :data:`SYSTEM` (:class:`SystemClock`): the machine's clock, for production and for subprocess tests.
- :class:`SteppedClock`: virtual time that moves only when it is advanced. The thread that sleeps on it drives it
  (``sleep(5)`` moves it 5 s at once); other threads run periodic work with :meth:`Clock.every`, and the clock never
  moves past a moment a worker is due at before that worker has done its round: background work (the dead man's
  switch) happens at its virtual times, as it would on a real clock.
- :class:`SkewedClock`: another clock read with a fixed error (a machine whose clock is 30 s off).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol

#: How long (real seconds) a stepped clock waits for a woken worker to finish its round before moving on anyway.
WORKER_GRACE_SECONDS = 10.0


class Clock(Protocol):
    def time(self) -> float:
        """Unix seconds."""

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass."""

    def every(self, interval: Callable[[], float], stop: threading.Event) -> Iterator[None]:
        """Yield once per ``interval()`` seconds until ``stop`` is set (the loop of a background worker)."""


class SystemClock:
    """The machine's clock."""

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def every(self, interval: Callable[[], float], stop: threading.Event) -> Iterator[None]:
        while not stop.wait(max(interval(), 0.0)):
            yield

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM = SystemClock()


class SkewedClock:
    """``base`` read ``skew`` seconds off (positive: ahead); sleeping and waiting are the base clock's."""

    def __init__(self, base: Clock, skew: float) -> None:
        self.base = base
        self.skew = float(skew)

    def time(self) -> float:
        return self.base.time() + self.skew

    def sleep(self, seconds: float) -> None:
        self.base.sleep(seconds)

    def every(self, interval: Callable[[], float], stop: threading.Event) -> Iterator[None]:
        return self.base.every(interval, stop)

    def __repr__(self) -> str:
        return f"SkewedClock({self.base!r}, skew={self.skew:+g})"


class SteppedClock:
    """Virtual time (see the module docstring). ``start``: unix seconds it shows first (default: the machine's
    time, a whole second)."""

    def __init__(self, start: float | None = None) -> None:
        self._now = float(start if start is not None else int(time.time()))
        self._cond = threading.Condition()
        self._due: dict[int, float] = {}  # worker thread -> the moment it waits for
        self._running: set[int] = set()  # workers woken and not yet waiting again

    def time(self) -> float:
        with self._cond:
            return self._now

    def __repr__(self) -> str:
        return f"SteppedClock(now={self.time():.3f})"

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds``, stopping at each moment a worker is due to let it do its round."""
        if seconds < 0:
            raise ValueError(f"a clock only moves forward, not by {seconds}")
        with self._cond:
            target = self._now + seconds
            while True:
                self._settle()
                due = [t for t in self._due.values() if self._now < t <= target]
                if not due and self._now >= target:
                    return self._now
                self._now = min(due) if due else target
                self._cond.notify_all()

    def sleep(self, seconds: float) -> None:
        """The driving thread moves the clock; a worker in its round waits for the driver to move it."""
        me = threading.get_ident()
        with self._cond:
            if me not in self._running:
                worker = False
            else:
                worker = True
                self._running.discard(me)
                self._due[me] = self._now + max(seconds, 0.0)
                self._cond.notify_all()
                while self._now < self._due[me]:
                    self._cond.wait(0.05)
                del self._due[me]
                self._running.add(me)
        if not worker:
            self.advance(max(seconds, 0.0))

    def _settle(self) -> None:
        """Wait (real time, bounded) until every worker woken by the current moment has finished its round."""
        deadline = time.monotonic() + WORKER_GRACE_SECONDS
        while self._running or any(t <= self._now for t in self._due.values()):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._cond.wait(min(left, 0.05))

    def every(self, interval: Callable[[], float], stop: threading.Event) -> Iterator[None]:
        me = threading.get_ident()
        try:
            while True:
                with self._cond:
                    self._running.discard(me)
                    self._due[me] = self._now + max(interval(), 0.0)
                    self._cond.notify_all()
                    while not stop.is_set() and self._now < self._due[me]:
                        self._cond.wait(0.05)
                    del self._due[me]
                    if stop.is_set():
                        return
                    self._running.add(me)
                yield
        finally:
            with self._cond:
                self._due.pop(me, None)
                self._running.discard(me)
                self._cond.notify_all()
