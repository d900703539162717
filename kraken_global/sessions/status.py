"""A session's status file (``status.json`` in its results folder) and how ``kraken-global status`` reads it.

The running session rewrites the file atomically (a temporary file renamed over it) at each bar, at each feed
status change and, between bars, after polls the exchange answered (:meth:`StatusBoard.beat`, at most every
:data:`BEAT_SECONDS`), so a reader never sees half a file and a recent ``updated_at`` means the session is alive
(:mod:`kraken_global.sessions.health`); the last write, when the session ends, says how it ended.
This module imports only the standard library: ``kraken-global status`` must answer at once.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from kraken_global.errors import ConfigError

STATUS_FILE = "status.json"
RUNNING, STOPPING = "running", "stopping"
ENDED = ("finished", "stopped", "failed")
BEAT_SECONDS = 5.0


class StatusBoard:
    """The current status of one session: fixed facts given at start, the rest updated by the session monitor."""

    def __init__(self, out: Path, **facts: Any) -> None:
        self.path = Path(out) / STATUS_FILE
        self._lock = threading.Lock()
        self._status: dict[str, Any] = {"state": RUNNING, "pid": os.getpid(),
                                        "started_at": _utc_now(), **facts}
        self._written = float("-inf")

    def update(self, **values: Any) -> None:
        """Merge ``values`` and rewrite the file."""
        with self._lock:
            self._status.update(values, updated_at=_utc_now())
            text = json.dumps(self._status, indent=2, sort_keys=True, default=str) + "\n"
            self._written = time.monotonic()
        write_atomically(self.path, text)

    def beat(self) -> None:
        """The exchange answered a poll: ``polled_at`` is now. The file is rewritten only when it is older than
        :data:`BEAT_SECONDS` (else the next update carries it), so polling many times a second does not rewrite
        it as often."""
        with self._lock:
            self._status["polled_at"] = _utc_now()
            due = time.monotonic() - self._written >= BEAT_SECONDS
        if due:
            self.update()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self._status, default=str))


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def session_folders(results: Path) -> list[Path]:
    """The session folders under ``results``, the one whose status file changed last first."""
    if not results.is_dir():
        return []
    found = sorted(results.glob(f"*/{STATUS_FILE}"), key=lambda p: p.stat().st_mtime, reverse=True)
    return [path.parent for path in found]


def latest_session(results: Path) -> Path:
    """The session folder under ``results`` whose status file changed last."""
    found = session_folders(results)
    if not found:
        raise ConfigError(f"no session found under {results}/ (a paper or live session writes "
                          f"<folder>/{STATUS_FILE}); pass the session folder: kraken-global status SESSION_DIR")
    return found[0]


def read_status(session: Path) -> dict[str, Any]:
    path = session / STATUS_FILE if session.is_dir() else session
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist: is {session} a session folder?") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the status file {path}: {exc}") from None
    if not isinstance(status, dict) or "state" not in status:
        raise ConfigError(f"{path} is not a session status file")
    if status["state"] in (RUNNING, STOPPING) and not _alive(status.get("pid")):
        status["state"] = "gone (the process ended without writing its last status)"
    return status


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def format_status(status: dict[str, Any], session: Path) -> str:
    """Plain text for a terminal: what an operator checks first comes first."""
    money = "{:,.2f}".format

    def number(key: str) -> str:
        value = status.get(key)
        return money(value) if isinstance(value, int | float) else "-"

    lines = [f"session {session}: {status.get('mode', '?')} {status['state']}"
             f"{' (' + status['ended'] + ')' if status.get('ended') else ''}",
             f"  last bar     {status.get('last_bar') or '-'} ({status.get('feed') or '-'}, "
             f"{status.get('live_bars', 0)} live bars); status written {status.get('updated_at', '-')}",
             f"  exchange     {status.get('exchange', '-')} link {status.get('link', '-')}"
             f"{', last answer ' + status['polled_at'] if status.get('polled_at') else ''}",
             f"  model        {status.get('model') or 'none'}",
             f"  regime       {status.get('regime') or '-'}",
             f"  value        {number('value')} USD  cash {number('cash')} USD",
             f"  P&L          day {number('day_pnl')} USD  session {number('session_pnl')} USD",
             f"  orders       {status.get('fills', 0)} fills, {status.get('rejections', 0)} refused"]
    positions = status.get("positions") or {}
    lines.append("  positions    " + (", ".join(f"{s} {p['size']:g} ({money(p['value'])} USD)"
                                                for s, p in positions.items()) or "none"))
    open_orders = status.get("open_orders") or []
    lines.append("  open orders  " + (", ".join(f"{o['side']} {o['symbol']} {o['size']:g} ({o['id']})"
                                                for o in open_orders) or "none"))
    for key, label in (("results", "results"), ("log", "log")):
        if status.get(key):
            lines.append(f"  {label:<12} {status[key]}")
    return "\n".join(lines)
