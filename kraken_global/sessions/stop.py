"""A clean stop for paper and live sessions: the first SIGINT/SIGTERM finishes the bar, the second stops at once.

A session runs until stopped, and ``docker stop`` sends SIGTERM, Ctrl-C sends SIGINT. Either must leave complete
results, so the first signal only *requests* a stop: the feeds see it at the start of the next cerebro loop and end
there, cerebro returns normally, and the runner writes every result file and the summary as after ``max_bars``.
The request is *latched* by the first feed only, so every feed of one loop agrees (no pair gets a bar the others
do not). A second signal raises :class:`StopNow` wherever the main thread is: the runner's ``finally`` closes the
SQLite state, and SQLite rolls back an unfinished transaction, so the state stays consistent.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopNow(KeyboardInterrupt):
    """A second stop signal: leave at once (a KeyboardInterrupt so that no ``except Exception`` swallows it)."""


class StopRequest:
    """Set by a signal (or a test), latched by the session's first feed at a loop boundary."""

    def __init__(self) -> None:
        self._requested = threading.Event()
        self.stopped = False
        self.reason = ""

    def request(self, reason: str = "requested") -> None:
        self.reason = self.reason or reason
        self._requested.set()

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    def latch(self) -> bool:
        """Called by the first feed at the start of each loop: from then on every feed ends."""
        if not self.stopped and self._requested.is_set():
            self.stopped = True
            log.info("stopping (%s): the current bar is finished, no new bar is processed", self.reason)
        return self.stopped


@contextmanager
def stop_on_signals(stop: StopRequest) -> Iterator[StopRequest]:
    """Install the SIGINT/SIGTERM handlers for the block (main thread only); the old ones come back after it."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handle(signum, _frame) -> None:
        name = signal.Signals(signum).name
        if stop.requested:
            raise StopNow(f"second stop signal ({name})")
        stop.request(name)

    previous = {sig: signal.signal(sig, handle) for sig in SIGNALS}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
