"""Faults injected on demand, per endpoint: the emulator consumes one matching fault per request.

Kinds: ``http_500`` (the request is refused with HTTP 500, nothing done), ``unavailable`` (``EService:Unavailable``),
``rate_limit`` (``EAPI:Rate limit exceeded``), ``timeout`` (no answer before the client gives up, nothing done) and
``lost_response`` (the request IS carried out, then the answer never arrives: the case that doubles orders in naive
clients). Two more take ``seconds``: ``accepted_late`` (the client times out, and the engine places the order
``seconds`` later, or refuses it then if its ``deadline`` has passed) and ``query_lag`` (the request is carried
out, and the order it placed is invisible to OpenOrders, ClosedOrders and QueryOrders for ``seconds``).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

KINDS = ("http_500", "unavailable", "rate_limit", "timeout", "lost_response", "accepted_late", "query_lag")
TIMED = ("accepted_late", "query_lag")  # kinds that take ``seconds``
MAX_FAULTS = 1000  # queued per call: more is a mistake, not a test
MAX_FAULT_SECONDS = 600  # the longest delay of a timed fault


@dataclass(frozen=True)
class Fault:
    endpoint: str
    kind: str
    seconds: float = 0.0


class FaultPlan:
    def __init__(self) -> None:
        self._queue: deque[Fault] = deque()
        self._lock = threading.Lock()
        self.injected: list[Fault] = []

    def add(self, endpoint: str, kind: str, count: int = 1, seconds: float = 0.0) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(KINDS)}")
        if kind in TIMED and endpoint != "AddOrder":
            raise ValueError(f"fault {kind!r} applies to AddOrder only")
        if kind in TIMED and not 0 < seconds <= MAX_FAULT_SECONDS:
            raise ValueError(f"fault {kind!r} needs seconds between 0 and {MAX_FAULT_SECONDS}, got {seconds}")
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_FAULTS:
            raise ValueError(f"fault count must be a whole number from 1 to {MAX_FAULTS}, got {count!r}")
        with self._lock:
            self._queue.extend(Fault(endpoint, kind, seconds if kind in TIMED else 0.0) for _ in range(count))

    def take(self, endpoint: str) -> Fault | None:
        with self._lock:
            for fault in self._queue:
                if fault.endpoint in (endpoint, "*"):
                    self._queue.remove(fault)
                    self.injected.append(fault)
                    return fault
        return None
