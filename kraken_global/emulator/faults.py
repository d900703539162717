"""Faults injected on demand, per endpoint: the emulator consumes one matching fault per request.

Kinds: ``http_500`` (the request is refused with HTTP 500, nothing done), ``unavailable`` (``EService:Unavailable``),
``rate_limit`` (``EAPI:Rate limit exceeded``), ``timeout`` (no answer before the client gives up, nothing done) and
``lost_response`` (the request IS carried out, then the answer never arrives: the case that doubles orders in naive
clients).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

KINDS = ("http_500", "unavailable", "rate_limit", "timeout", "lost_response")
MAX_FAULTS = 1000  # queued per call: more is a mistake, not a test


@dataclass(frozen=True)
class Fault:
    endpoint: str
    kind: str


class FaultPlan:
    def __init__(self) -> None:
        self._queue: deque[Fault] = deque()
        self._lock = threading.Lock()
        self.injected: list[Fault] = []

    def add(self, endpoint: str, kind: str, count: int = 1) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(KINDS)}")
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_FAULTS:
            raise ValueError(f"fault count must be a whole number from 1 to {MAX_FAULTS}, got {count!r}")
        with self._lock:
            self._queue.extend(Fault(endpoint, kind) for _ in range(count))

    def take(self, endpoint: str) -> Fault | None:
        with self._lock:
            for fault in self._queue:
                if fault.endpoint in (endpoint, "*"):
                    self._queue.remove(fault)
                    self.injected.append(fault)
                    return fault
        return None
