"""A start that Kraken's rate limit (or a busy Kraken) refuses waits and tries again, instead of giving up.

A live start reconciles the state with Kraken's records before anything else, and a failed lookup proves nothing:
an order is never marked settled on one (:mod:`kraken_global.live.state`). So when Kraken refuses every attempt of
a lookup for a while (``EAPI:Rate limit exceeded`` after a crash loop, ``EService:Unavailable``), the start cannot
finish, and ending the process (exit 2) left the retry to a supervisor. The reconciliation is idempotent (every
restart of the crash-loop tests runs it again), so running it again here is exactly what that restart does, minus
the process: :func:`start_patiently` repeats the start's exchange steps with a growing pause (1, 2, 4 ... 30 s)
until they succeed, ``live.start_wait_seconds`` have been spent waiting, or a stop is requested; then the last
error is raised as before (exit 2, nothing marked settled). Only temporary errors wait: a refusal (foreign orders
with the dead man's switch on, a key without permission) ends the start at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from kraken_global.clocks import Clock
from kraken_global.live.errors import TemporaryError

log = logging.getLogger(__name__)
T = TypeVar("T")
FIRST_PAUSE_SECONDS = 1.0
MAX_PAUSE_SECONDS = 30.0
STOP_CHECK_SECONDS = 0.25  # a stop asked for while the start waits is honoured this soon


def start_patiently(step: Callable[[], T], wait_seconds: float, clock: Clock,
                    stopping: Callable[[], bool] = lambda: False) -> T:
    """``step()``, repeated after temporary errors while less than ``wait_seconds`` were spent waiting."""
    waited, pause = 0.0, FIRST_PAUSE_SECONDS
    while True:
        try:
            return step()
        except TemporaryError as exc:
            pause = min(pause, max(wait_seconds - waited, 0.0))
            if pause <= 0 or stopping():
                raise
            log.warning("start: Kraken refused a lookup (%s); no order is settled on a failed lookup: reconciling "
                        "again in %.0f s (%.0f of live.start_wait_seconds %.0f waited)", exc, pause, waited,
                        wait_seconds)
            waited += _pause(clock, pause, stopping)
            if stopping():
                raise
            pause = min(pause * 2, MAX_PAUSE_SECONDS)


def _pause(clock: Clock, seconds: float, stopping: Callable[[], bool]) -> float:
    """Sleep ``seconds`` in short slices, ending early when a stop is asked for; returns the time slept."""
    slept = 0.0
    while slept < seconds and not stopping():
        step = min(STOP_CHECK_SECONDS, seconds - slept)
        clock.sleep(step)
        slept += step
    return slept
