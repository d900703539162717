"""The alert dispatcher: a ``logging.Handler`` that turns ``kg_event`` records into alerts and delivers them from
a worker thread, so a slow or dead webhook never slows the trading loop.

In the logging thread (the trading loop) :meth:`AlertDispatcher.emit` only scrubs, checks the event's rate limit
and puts the alert on a bounded queue without waiting (a full queue drops the alert and counts it). The worker
sends each alert to every sink that takes its event, retrying a failed send with back-off; a sink that still
fails is logged (without the alert's content) and the next alert goes on.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kraken_global.alerts import EVENT_ATTRIBUTE, FIELDS_ATTRIBUTE
from kraken_global.alerts.scrub import Scrubber
from kraken_global.alerts.sinks import SinkError

log = logging.getLogger(__name__)
_STOP = object()
MAX_BACKOFF_SECONDS = 10.0


class AlertDispatcher(logging.Handler):
    """``routes``: (sink, events or None for all). ``session``: named in every alert."""

    def __init__(self, routes: list[tuple[Any, frozenset[str] | None]], scrubber: Scrubber | None = None,
                 min_interval: float = 60.0, retries: int = 3, queue_size: int = 100, session: str | None = None,
                 clock: Callable[[], float] = time.monotonic, backoff: float = 0.5) -> None:
        super().__init__(level=logging.DEBUG)
        self.routes = routes
        self.scrubber = scrubber or Scrubber()
        self.min_interval = min_interval
        self.retries = retries
        self.session = session
        self.clock = clock
        self.backoff = backoff
        self.queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self.host = socket.gethostname()
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.suppressed: dict[str, int] = {}
        self._last: dict[str, float] = {}
        self._guard = threading.Lock()
        self._worker = threading.Thread(target=self._work, name="alerts", daemon=True)
        self._worker.start()

    def add_secret(self, secret: str | None) -> None:
        if secret:
            self.scrubber = Scrubber([*self.scrubber.secrets, secret])

    # -- the logging thread: quick, never blocking, never raising ------------------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, EVENT_ATTRIBUTE, None)
        if not isinstance(event, str) or not any(events is None or event in events for _, events in self.routes):
            return
        try:
            with self._guard:
                now = self.clock()
                last = self._last.get(event)
                if last is not None and now - last < self.min_interval:
                    self.suppressed[event] = self.suppressed.get(event, 0) + 1
                    return
                self._last[event] = now
                suppressed = self.suppressed.pop(event, 0)
            alert = {"event": event, "level": record.levelname, "message": self.scrubber.text(record.getMessage()),
                     "fields": self.scrubber.fields(getattr(record, FIELDS_ATTRIBUTE, None)),
                     "time": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "source": "kraken-global", "host": self.host, "session": self.session,
                     "suppressed": suppressed}
            self.queue.put_nowait(alert)
        except queue.Full:
            self.dropped += 1
        except Exception:  # an alert must never break the code that logged it
            self.dropped += 1

    # -- the worker ------------------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            alert = self.queue.get()
            try:
                if alert is _STOP:
                    return
                for sink, events in self.routes:
                    if events is None or alert["event"] in events:
                        self._deliver(sink, alert)
            finally:
                self.queue.task_done()

    def _deliver(self, sink, alert: dict[str, Any]) -> None:
        for attempt in range(self.retries + 1):
            try:
                sink.send(alert)
            except SinkError as exc:
                if not exc.retry or attempt == self.retries:
                    self.failed += 1
                    log.warning("alert %s to %s not delivered after %d attempt(s): %s", alert["event"], sink.name,
                                attempt + 1, exc)
                    return
                time.sleep(min(self.backoff * 2 ** attempt, MAX_BACKOFF_SECONDS))
            except Exception as exc:  # a sink's bug must not end the worker
                self.failed += 1
                log.warning("alert %s to %s failed: %s", alert["event"], sink.name, type(exc).__name__)
                return
            else:
                self.sent += 1
                return

    def close(self, timeout: float = 15.0) -> None:
        """Send what is queued (the session's last alerts) for up to ``timeout`` seconds, then stop the worker."""
        if self._worker.is_alive():
            with contextlib.suppress(queue.Full):
                self.queue.put(_STOP, timeout=timeout)
            self._worker.join(timeout)
        super().close()
