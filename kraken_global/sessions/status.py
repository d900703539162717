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
import reprlib
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from kraken_global.errors import ConfigError
from kraken_global.files import read_json_limited

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


MAX_STATUS_BYTES = 10_000_000  # a status names positions and open orders: kilobytes, not megabytes

_TEXT, _NUMBER, _WHOLE = (str,), (int, float), (int,)
# what each field of the file holds (None is allowed everywhere but in "state"): a file that says otherwise was
# not written by a session, and is refused rather than shown wrong
_FIELDS: dict[str, tuple[type, ...]] = {
    "state": _TEXT, "mode": _TEXT, "ended": _TEXT, "last_bar": _TEXT, "feed": _TEXT, "link": _TEXT,
    "exchange": _TEXT, "model": _TEXT, "regime": _TEXT, "updated_at": _TEXT, "started_at": _TEXT,
    "results": _TEXT, "log": _TEXT, "polled_at": _TEXT, "configuration": _TEXT, "pid": _WHOLE,
    "live_bars": _WHOLE, "fills": _WHOLE,
    "rejections": _WHOLE, "poll_seconds": _NUMBER, "value": _NUMBER, "cash": _NUMBER, "day_pnl": _NUMBER,
    "session_pnl": _NUMBER, "positions": (dict,), "open_orders": (list,),
}
_POSITION = {"size": _NUMBER, "value": _NUMBER}
_SHORT = reprlib.Repr()  # a wrong value quoted in one line, shortened
_SHORT.maxstring = _SHORT.maxother = 60
_ORDER = {"side": _TEXT, "symbol": _TEXT, "size": _NUMBER, "id": (str, int)}


def _shape_problem(status: Any) -> str | None:
    """What in ``status`` a session would never have written (None: nothing)."""
    if not isinstance(status, dict) or not isinstance(status.get("state"), str):
        return "it is not a JSON object with a \"state\""

    def wrong(value: Any, types: tuple[type, ...]) -> bool:
        return value is not None and (isinstance(value, bool) or not isinstance(value, types))

    for key, types in _FIELDS.items():
        if wrong(status.get(key), types):
            return f"{key} is {_SHORT.repr(status[key])}"
    for symbol, position in (status.get("positions") or {}).items():
        if not isinstance(position, dict) or any(wrong(position.get(k), t) or k not in position
                                                  for k, t in _POSITION.items()):
            return f"the position of {_SHORT.repr(symbol)} is {_SHORT.repr(position)}"
    for order in status.get("open_orders") or []:
        if not isinstance(order, dict) or any(wrong(order.get(k), t) or k not in order for k, t in _ORDER.items()):
            return f"an open order is {_SHORT.repr(order)}"
    return None


def read_status(session: Path) -> dict[str, Any]:
    path = session / STATUS_FILE if session.is_dir() else session
    if not path.exists():
        raise ConfigError(f"{path} does not exist: is {session} a session folder?")
    status = read_json_limited(path, "status file", MAX_STATUS_BYTES)
    problem = _shape_problem(status)
    if problem:
        raise ConfigError(f"{path} is not a session status file: {problem}")
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


def number_of(value: Any) -> str:
    return f"{value:,.2f}" if isinstance(value, int | float) else "-"


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
             f"  model        {status.get('model') or 'none'}"
             + (f" ({status['model_registry']})" if status.get("model_registry") else ""),
             f"  config       {status.get('configuration') or '-'}",
             f"  regime       {status.get('regime') or '-'}",
             f"  value        {number('value')} USD  cash {number('cash')} USD",
             f"  P&L          day {number('day_pnl')} USD  session {number('session_pnl')} USD",
             f"  orders       {status.get('fills', 0)} fills, {status.get('rejections', 0)} refused"]
    late = status.get("late_seconds") or 0
    if late:
        behind = ": FALLING BEHIND (see the log)" if status.get("falling_behind") else ""
        lines.append(f"  lateness     the last bar was handled {late / 3600:.1f} h after it closed (most: "
                     f"{(status.get('max_late_seconds') or late) / 3600:.1f} h){behind}")
    trading = status.get("trading")
    if trading:
        won = trading.get("win_rate_pct")
        lines.append(f"  round trips  {trading['round_trips']} closed ({'-' if won is None else f'{won:.0f}%'} won), "
                     f"{trading['open_round_trips']} open; closed {trading['closed_pnl']:+,.2f}, open "
                     f"{trading['open_pnl']:+,.2f}, fees {trading['fees']:,.2f} USD")
        for key, label in (("by_strategy", "by strategy"), ("by_pair", "by pair")):
            if status.get(key):
                lines.append(f"  {label:<12} " + ", ".join(f"{name} {row['net_pnl']:+,.2f}"
                                                          for name, row in status[key].items()))
    positions = status.get("positions") or {}
    lines.append("  positions    " + (", ".join(f"{s} {p['size']:g} ({money(p['value'])} USD)"
                                                for s, p in positions.items()) or "none"))
    open_orders = status.get("open_orders") or []
    lines.append("  open orders  " + (", ".join(f"{o['side']} {o['symbol']} {o['size']:g} ({o['id']})"
                                                for o in open_orders) or "none"))
    controls = status.get("controls") or {}
    if controls.get("paused"):
        lines.append("  controls     new entries PAUSED from the dashboard (resume there)")
    if controls.get("failed"):
        lines.append(f"  controls     {controls['failed']}")
    ramp = status.get("ramp")
    if ramp:
        following = (f"next {ramp['next_share'] * 100:g}% after {ramp['next_step_at']} if the step stays clean"
                     if ramp.get("next_share") is not None else "at its top")
        lines.append(f"  ramp         {ramp['share'] * 100:g}% of {number_of(ramp.get('base_usd'))} USD = cap "
                     f"{number_of(ramp.get('cap_usd'))} USD (step {ramp['step']} of {ramp['steps']}); {following}")
    unsettled = status.get("unsettled_orders") or []
    if unsettled:
        lines.append(f"  UNSETTLED    {len(unsettled)} order(s) whose outcome Kraken's records have not settled: "
                     f"{', '.join(unsettled)} (no new order on their pairs; the next start settles them)")
    for key, label in (("results", "results"), ("dashboard", "dashboard"), ("log", "log")):
        if status.get(key):
            lines.append(f"  {label:<12} {status[key]}")
    return "\n".join(lines)
