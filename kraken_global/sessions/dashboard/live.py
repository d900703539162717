"""The dashboard's document for a running session, built in the server's thread from what the session publishes:
its status board, its journal (:class:`~kraken_global.sessions.journal.SessionJournal`), its controls, its log
file and audit trail. Nothing here touches the broker or cerebro."""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kraken_global.sessions.controls import ACTIONS, SessionControls
from kraken_global.sessions.dashboard.views import (
    audit_table,
    fills_table,
    log_tail,
    money,
    now_text,
    orders_table,
    positions_table,
    regime_runs,
)
from kraken_global.sessions.journal import SessionJournal
from kraken_global.sessions.status import ENDED, StatusBoard


@dataclass
class LiveSource:
    """``model``: :func:`~kraken_global.sessions.dashboard.views.model_facts` of the session's model (read once at
    start); ``dead_mans_switch``: what the switch does in this session, in words."""

    board: StatusBoard
    journal: SessionJournal
    folder: Path
    controls: SessionControls | None = None
    model: dict[str, Any] | None = None
    dead_mans_switch: str = "not used (paper)"

    def snapshot(self) -> dict[str, Any]:
        status = self.board.snapshot()
        journal = self.journal.snapshot()
        return {
            "kind": "session", "title": f"{status.get('mode', '?')} session {self.folder.name}",
            "live": status.get("state") not in ENDED, "generated": now_text(),
            "summary": summary_rows(status),
            "health": health_rows(status, self.dead_mans_switch),
            "equity": {k: journal[k] for k in ("t", "value", "benchmark", "benchmark_name")},
            "regimes": regime_runs(journal["t"], journal["regime"]),
            "positions": positions_table(status.get("positions") or {}),
            "open_orders": orders_table(status.get("open_orders") or []),
            "fills": fills_table(journal["fills"], journal["fill_count"]),
            "model": self.model, "ramp": status.get("ramp"),
            "controls": {"enabled": self.controls is not None, "actions": list(ACTIONS),
                         **(self.controls.state() if self.controls is not None else {"paused": False})},
            "log": log_tail(status.get("log")), "audit": audit_table(self.folder),
        }


def summary_rows(status: dict[str, Any]) -> list[list[Any]]:
    """The key figures of a session's status, as a trader reads them first."""
    return [["mode", status.get("mode")], ["state", status.get("state") + (f" ({status['ended']})"
                                                                           if status.get("ended") else "")],
            ["value USD", money(status.get("value"))], ["cash USD", money(status.get("cash"))],
            ["P&L today USD", money(status.get("day_pnl"))], ["P&L session USD", money(status.get("session_pnl"))],
            ["regime", status.get("regime") or "-"], ["fills", status.get("fills", 0)],
            ["refused orders", status.get("rejections", 0)], ["model", status.get("model") or "none"]]


def health_rows(status: dict[str, Any], dead_mans_switch: str) -> list[list[Any]]:
    """``[label, value, ok]``: ok is False for what needs a look, None where there is no judgement."""
    running = status.get("state") not in ENDED
    age = _age_seconds(status.get("updated_at")) if running else None
    late = status.get("late_seconds")
    link = status.get("link", "-")
    rows = [["last bar", f"{status.get('last_bar') or '-'} ({status.get('feed', '-')}, "
                         f"{status.get('live_bars', 0)} live bars)", None],
            ["status written", status.get("updated_at", "-") if age is None else f"{age:.0f} s ago",
             None if age is None else age < 600],
            ["exchange link", link, link == "ok" if running else None],
            ["dead man's switch", status.get("dead_mans_switch") or dead_mans_switch, None]]
    if late is not None:
        rows.insert(1, ["lateness", f"{late:.0f} s behind the market", late < 300])
    approval = status.get("approval")
    if approval:  # the registry still approves what the session trades (sessions/approval_watch.py)
        rows.append(["approval", f"WITHDRAWN, entries refused: {approval['reason']}" if approval.get("withdrawn")
                     else f"approved ({approval.get('checks', 0)} checks)", not approval.get("withdrawn")])
    return rows


def _age_seconds(stamp: Any) -> float | None:
    try:
        return max(time.time() - calendar.timegm(time.strptime(str(stamp), "%Y-%m-%dT%H:%M:%SZ")), 0.0)
    except (ValueError, OverflowError):
        return None
