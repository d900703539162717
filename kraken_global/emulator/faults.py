"""Faults injected on demand, per endpoint: the emulator consumes one matching fault per request.

Kinds: ``http_500`` (the request is refused with HTTP 500, nothing done), ``unavailable`` (``EService:Unavailable``),
``rate_limit`` (``EAPI:Rate limit exceeded``), ``timeout`` (no answer before the client gives up, nothing done) and
``lost_response`` (the request IS carried out, then the answer never arrives: the case that doubles orders in naive
clients). Two more take ``seconds``: ``accepted_late`` (the client times out, and the engine places the order
``seconds`` later, or refuses it then if its ``deadline`` has passed) and ``query_lag`` (the request is carried
out, and the order it placed is invisible to OpenOrders, ClosedOrders and QueryOrders for ``seconds``).

Any two faults combine on one request with ``second_fault`` (what a busy exchange does several of at once): the
request is carried out unless either kind refuses it (``http_500``, ``unavailable``, ``rate_limit``, ``timeout``),
an ``accepted_late`` of either delays it, a ``query_lag`` of either hides what it placed, and the client gets the
first kind's answer (none at all for ``timeout``, ``lost_response`` and ``accepted_late``). A lost reply with a
query lag longer than the client's margin is ``lost_response`` + ``query_lag``.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

KINDS = ("http_500", "unavailable", "rate_limit", "timeout", "lost_response", "accepted_late", "query_lag")
TIMED = ("accepted_late", "query_lag")  # kinds that take ``seconds``
REFUSING = ("http_500", "unavailable", "rate_limit", "timeout")  # the request is not carried out
SILENT = ("timeout", "lost_response", "accepted_late")  # the client gets no answer
MAX_FAULTS = 1000  # queued per call: more is a mistake, not a test
MAX_FAULT_SECONDS = 600  # the longest delay of a timed fault


@dataclass(frozen=True)
class Fault:
    endpoint: str
    kind: str
    seconds: float = 0.0
    second: Fault | None = None

    def _both(self) -> tuple[Fault, ...]:
        return (self,) if self.second is None else (self, self.second)

    @property
    def carried_out(self) -> bool:
        return not any(f.kind in REFUSING for f in self._both())

    def seconds_of(self, kind: str) -> float | None:
        """The ``seconds`` of ``kind`` when either fault is of that kind."""
        return next((f.seconds for f in self._both() if f.kind == kind), None)


def checked_fault(endpoint: str, kind: str, seconds: float = 0.0, second: Fault | None = None) -> Fault:
    """A :class:`Fault`, or ``ValueError`` saying what is wrong with it."""
    if kind not in KINDS:
        raise ValueError(f"unknown fault {kind!r}; known: {', '.join(KINDS)}")
    if kind in TIMED and endpoint != "AddOrder":
        raise ValueError(f"fault {kind!r} applies to AddOrder only")
    if kind in TIMED and not 0 < seconds <= MAX_FAULT_SECONDS:
        raise ValueError(f"fault {kind!r} needs seconds between 0 and {MAX_FAULT_SECONDS}, got {seconds}")
    if second is not None:
        second = checked_fault(endpoint, second.kind, second.seconds)
    return Fault(endpoint, kind, seconds if kind in TIMED else 0.0, second)


class FaultPlan:
    def __init__(self) -> None:
        self._queue: deque[Fault] = deque()
        self._lock = threading.Lock()
        self.injected: list[Fault] = []

    def add(self, endpoint: str, kind: str, count: int = 1, seconds: float = 0.0, second_fault: str | None = None,
            second_seconds: float = 0.0) -> None:
        """Queue ``count`` faults of ``kind`` (each combined with ``second_fault`` when given) for ``endpoint``."""
        second = Fault(endpoint, second_fault, second_seconds) if second_fault is not None else None
        fault = checked_fault(endpoint, kind, seconds, second)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_FAULTS:
            raise ValueError(f"fault count must be a whole number from 1 to {MAX_FAULTS}, got {count!r}")
        with self._lock:
            self._queue.extend(fault for _ in range(count))

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self.injected.clear()

    def take(self, endpoint: str) -> Fault | None:
        with self._lock:
            for fault in self._queue:
                if fault.endpoint in (endpoint, "*"):
                    self._queue.remove(fault)
                    self.injected.append(fault)
                    return fault
        return None
