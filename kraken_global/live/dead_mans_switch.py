"""Kraken's dead man's switch (``CancelAllOrdersAfter``), refreshed on its own timer.

Refreshing it from the trading loop starves it whenever the loop is blocked: a placement that rate limits hold for
two minutes, a slow lookup, a long bar. So a daemon thread refreshes it every ``refresh_seconds`` whatever the
trading thread does (its calls go one at a time with the trading thread's, so nonces stay in order). A refresh
that fails is logged (event ``dms_refresh_failed``) and tried again after ``retry_seconds``; while the last refresh
failed, :attr:`healthy` is False and the broker opens no new order. :meth:`stop` ends the thread and, unless told
to keep it, switches the timer off (timeout 0), so a clean stop leaves nothing armed that would later cancel the
account's orders.

Kraken's switch is account-wide: when it fires it cancels *every* open order of the account, not only the bot's.
"""

from __future__ import annotations

import logging
import threading

from kraken_global.events import emit
from kraken_global.live.errors import LiveError

log = logging.getLogger(__name__)


class DeadMansSwitch:
    def __init__(self, store, timeout_seconds: int = 60, refresh_seconds: float = 20.0,
                 retry_seconds: float = 2.0) -> None:
        if refresh_seconds >= timeout_seconds:
            raise ValueError("refresh_seconds must be shorter than timeout_seconds")
        self.store = store
        self.timeout_seconds = int(timeout_seconds)
        self.refresh_seconds = refresh_seconds
        self.retry_seconds = min(retry_seconds, refresh_seconds)
        self.healthy = False
        self.refreshes = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"DeadMansSwitch(timeout={self.timeout_seconds}s, every {self.refresh_seconds:g}s)"

    def refresh(self) -> bool:
        """One refresh; True when Kraken took it."""
        try:
            self.store.refresh_dead_mans_switch(self.timeout_seconds, attempts=1)
        except LiveError as exc:
            self.healthy = False
            self.failures += 1
            emit(log, logging.WARNING, "dms_refresh_failed",
                 "dead man's switch: refresh failed (%s); trying again in %g s, and no new order until it works",
                 exc, self.retry_seconds, reason=str(exc), timeout_seconds=self.timeout_seconds)
            return False
        if not self.healthy and self.refreshes:
            log.info("dead man's switch: refreshed again")
        self.healthy = True
        self.refreshes += 1
        return True

    def start(self) -> DeadMansSwitch:
        """Arm the switch now (raises when Kraken refuses it) and keep refreshing it from a thread."""
        self.store.refresh_dead_mans_switch(self.timeout_seconds)
        self.healthy = True
        self.refreshes += 1
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="dead-mans-switch", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        for _ in self.store.clock.every(lambda: self.refresh_seconds if self.healthy else self.retry_seconds,
                                        self._stop):
            self.refresh()

    def stop(self, disarm: bool = True) -> None:
        """End the thread; ``disarm``: switch the timer off on Kraken (best effort)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        if disarm:
            try:
                self.store.refresh_dead_mans_switch(0)
            except LiveError as exc:
                log.error("dead man's switch: could not switch it off (%s); it cancels every open order of the "
                          "account within %d s", exc, self.timeout_seconds)
        self.healthy = False
