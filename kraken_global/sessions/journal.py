"""What the dashboard draws of a running session, kept by the session monitor bar by bar.

The monitor writes from the session's thread, the dashboard reads from its HTTP threads: every access holds the
lock, and readers get copies. Memory stays bounded: past :data:`MAX_POINTS` live bars the equity history is
thinned (every other point dropped, the first and the latest kept), and only the latest :data:`MAX_FILLS` fills
are kept (the count of all is not lost). The full series go to ``equity.csv`` and ``fills.csv`` at the end.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any

MAX_POINTS = 4000
MAX_FILLS = 200


def fill_row(fill: Any) -> dict[str, Any]:
    """A fill (the brokers' dataclass, whatever columns it carries) as plain JSON values."""
    row = asdict(fill) if is_dataclass(fill) else dict(fill)
    return {k: (v.isoformat(sep=" ") if isinstance(v, datetime) else v) for k, v in row.items()}


class SessionJournal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.times: list[str] = []
        self.values: list[float] = []
        self.benchmark: list[float | None] = []
        self.regimes: list[str | None] = []
        self.fills: deque = deque(maxlen=MAX_FILLS)
        self.fill_count = 0
        self.benchmark_name: str | None = None

    def add_bar(self, when: datetime, value: float, benchmark: float | None, regime: str | None) -> None:
        with self._lock:
            self.times.append(when.isoformat(sep=" "))
            self.values.append(value)
            self.benchmark.append(benchmark)
            self.regimes.append(regime)
            if len(self.times) > MAX_POINTS:
                for series in (self.times, self.values, self.benchmark, self.regimes):
                    series[:] = series[:1] + series[1:-1][1::2] + series[-1:]

    def add_fills(self, fills: list) -> None:
        with self._lock:
            self.fills.extend(fill_row(f) for f in fills)
            self.fill_count += len(fills)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"t": list(self.times), "value": list(self.values), "benchmark": list(self.benchmark),
                    "regime": list(self.regimes), "benchmark_name": self.benchmark_name,
                    "fills": list(self.fills), "fill_count": self.fill_count}
