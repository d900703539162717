"""Is a session healthy? What ``kraken-global status --check`` answers, and so the container's HEALTHCHECK.

A session is healthy while its process runs, its exchange link is up and its status file is fresh. The session
rewrites ``status.json`` at every bar, every 100th bar of its warm-up, each feed status change and, between bars,
after each poll the exchange answered (at most every few seconds), so a status older than a few poll intervals
means the loop is stuck or the exchange has not answered for that long. A process alive but stuck, an exchange
unreachable, a session that ended: each is a one-line reason, never a traceback. Standard library only, like
:mod:`kraken_global.sessions.status`: the check runs every half minute.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kraken_global.errors import ConfigError
from kraken_global.sessions.status import RUNNING, STOPPING, read_status, session_folders

MIN_AGE_SECONDS = 120.0  # a fresh status is younger than this, or than POLLS poll intervals if that is longer
POLLS = 3


@dataclass(frozen=True)
class Health:
    healthy: bool
    reason: str


def status_age(status: dict[str, Any], now: float) -> float | None:
    """Seconds since the status was written (None: no readable ``updated_at``)."""
    try:
        written = calendar.timegm(time.strptime(str(status["updated_at"]), "%Y-%m-%dT%H:%M:%SZ"))
    except (KeyError, ValueError):
        return None
    return max(0.0, now - written)


def allowed_age(status: dict[str, Any], max_age: float | None = None) -> float:
    """``max_age``, else the larger of :data:`MIN_AGE_SECONDS` and :data:`POLLS` poll intervals of the session."""
    if max_age is not None:
        return max_age
    poll = status.get("poll_seconds")
    return max(MIN_AGE_SECONDS, POLLS * poll) if isinstance(poll, int | float) else MIN_AGE_SECONDS


def judge(status: dict[str, Any], now: float, max_age: float | None = None) -> Health:
    """The health of a session from its status (as :func:`read_status` returns it, the process checked)."""
    state, mode = status.get("state"), status.get("mode", "?")
    if state not in (RUNNING, STOPPING):
        return Health(False, f"the {mode} session is not running: {state}"
                             f"{' (' + status['ended'] + ')' if status.get('ended') else ''}")
    link = str(status.get("link", ""))
    if link.startswith("DOWN"):
        return Health(False, f"the {mode} session cannot reach the exchange {status.get('exchange', '')} "
                             f"({link}; last answer {status.get('polled_at') or '-'})")
    age, limit = status_age(status, now), allowed_age(status, max_age)
    if age is None:
        return Health(False, f"the {mode} session's status has no readable updated_at")
    if age > limit:
        return Health(False, f"the {mode} session has not written its status for {age:.0f} s (limit {limit:.0f} s): "
                             "its loop is stuck or the exchange does not answer; see its log")
    return Health(True, f"healthy: {mode} session {state}, feed {status.get('feed', '-')}, last bar "
                        f"{status.get('last_bar') or '-'}, status written {age:.0f} s ago")


def running_session(results: Path) -> Path | None:
    """The session under ``results`` that runs (its process alive) and wrote its status last, if any."""
    for folder in session_folders(results):
        try:
            if read_status(folder)["state"] in (RUNNING, STOPPING):
                return folder
        except ConfigError:
            continue
    return None


def check_session(session: Path | None, results: Path, max_age: float | None = None,
                  now: float | None = None) -> Health:
    """``session``, else the running session under ``results``: healthy or the reason it is not."""
    folder = session if session is not None else running_session(results)
    if folder is None:
        return Health(False, f"no running session under {results}/")
    try:
        status = read_status(folder)
    except ConfigError as exc:
        return Health(False, str(exc))
    verdict = judge(status, time.time() if now is None else now, max_age)
    return Health(verdict.healthy, f"{verdict.reason} [{folder}]")
