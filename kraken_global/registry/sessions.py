"""Paper and live sessions as the audit chain saw them: where they traded and which live bars they saw.

Shadow runs count days of a session's live bars toward the policy's ``min_shadow_days``. Those days must come from
what the session did, not from its results folder, which anyone with write access could edit (``config.yaml``
saying Kraken when it was the emulator, ``session.json`` stretching the period). So:

- a session is entered in the chain when it starts (``session``: a new id, the mode, the exchange URL its store
  connects to, ``kraken`` for Kraken itself, and its folder's name);
- it signs its progress as it runs: after each live bar, ``sessions/<id>.json`` holds its count of live bars and
  its first and last live bar, with an HMAC under the audit key (outside the artifacts: nobody who can only
  write the artifacts can forge or stretch it), so a session killed without warning still has its bars;
- its end is a ``session_end`` entry with the final figures.

A shadow run reads the session's id from the session folder and counts only that session's audited period, and
only when it traded against Kraken itself. A copied folder names the same session (its days count once); an
edited or unaudited one counts for nothing.
"""

from __future__ import annotations

import hmac
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kraken_global.registry.approvals import last_entry
from kraken_global.registry.errors import RegistryError
from kraken_global.registry.keys import sign
from kraken_global.registry.paths import atomic_write, check_id, read_regular

if TYPE_CHECKING:
    from kraken_global.registry.store import RegistryStore

log = logging.getLogger(__name__)
KRAKEN = "kraken"
PROGRESS_MAX_BYTES = 4096


@dataclass(frozen=True)
class AuditedSession:
    """A session's start entry and its signed live period."""

    session: str
    mode: str
    exchange: str
    started_at_entry: int
    live_bars: int = 0
    first_live_bar: str | None = None
    last_live_bar: str | None = None

    @property
    def on_kraken(self) -> bool:
        return self.exchange == KRAKEN


class SessionLedger:
    """Sessions in one registry namespace's chain."""

    def __init__(self, registry: RegistryStore) -> None:
        self.registry = registry

    def progress_file(self, session: str):
        check_id(session)
        return self.registry.paths.path("sessions", f"{session}.json")

    def start(self, mode: str, exchange_url: str | None, folder: str | None) -> SessionRecorder:
        """Enter a new session in the chain; returns the recorder it signs its live bars with."""
        session = uuid.uuid4().hex
        self.registry.record("session", {"session": session, "mode": mode, "exchange": exchange_url or KRAKEN,
                                         "folder": folder})
        self.progress_file(session).parent.mkdir(exist_ok=True)
        return SessionRecorder(self, session, self.registry.keys.key(create=False))

    def audited(self, entries: list[dict[str, Any]], session: str | None) -> AuditedSession | None:
        """The session as the chain and its signed progress say (None: never entered)."""
        started = next((e for e in entries if e["action"] == "session" and e["details"].get("session") == session),
                       None) if session else None
        if started is None:
            return None
        details = started["details"]
        found = AuditedSession(session, details["mode"], details["exchange"], started["seq"])
        ended = last_entry([e for e in entries if e["details"].get("session") == session], "session_end")
        progress = ended["details"] if ended is not None else self._signed_progress(session)
        if progress is None:
            return found
        return AuditedSession(session, found.mode, found.exchange, found.started_at_entry,
                              int(progress["live_bars"]), progress["first_live_bar"], progress["last_live_bar"])

    def _signed_progress(self, session: str) -> dict[str, Any] | None:
        path = self.progress_file(session)
        if not path.exists():
            return None
        try:
            data = json.loads(read_regular(path, "session progress", max_bytes=PROGRESS_MAX_BYTES))
            body = {k: data[k] for k in ("session", "live_bars", "first_live_bar", "last_live_bar")}
            valid = body["session"] == session and hmac.compare_digest(
                str(data["mac"]), sign(self.registry.keys.key(create=False), body))
        except (OSError, ValueError, KeyError, TypeError):
            valid = False
        if not valid:
            log.warning("%s is damaged or not signed with the audit key: the session's live bars count for nothing",
                        path)
            return None
        return body


class SessionRecorder:
    """Signs one running session's live bars as they happen, and enters its end in the chain."""

    def __init__(self, ledger: SessionLedger, session: str, key: bytes) -> None:
        self.ledger = ledger
        self.session = session
        self._key = key
        self.live_bars = 0
        self.first_live_bar: str | None = None
        self.last_live_bar: str | None = None

    def __repr__(self) -> str:  # the key stays out of logs and tracebacks
        return f"SessionRecorder({self.session}, {self.live_bars} live bars)"

    def progress(self) -> dict[str, Any]:
        return {"session": self.session, "live_bars": self.live_bars, "first_live_bar": self.first_live_bar,
                "last_live_bar": self.last_live_bar}

    def live_bar(self, when: datetime) -> None:
        """One more live bar, closing at ``when``: the signed progress file is rewritten at once."""
        self.live_bars += 1
        self.first_live_bar = self.first_live_bar or str(when)
        self.last_live_bar = str(when)
        body = self.progress()
        atomic_write(self.ledger.progress_file(self.session),
                     (json.dumps({**body, "mac": sign(self._key, body)}, sort_keys=True) + "\n").encode())

    def end(self) -> None:
        self.ledger.registry.record("session_end", self.progress())


def audit_session(registry: RegistryStore, mode: str, exchange_url: str | None,
                  folder: str | None) -> SessionRecorder | None:
    """Enter a starting session in ``registry``'s chain; None (with a warning) when the chain cannot take it: the
    session trades on, and shadow runs of it count no days."""
    try:
        return SessionLedger(registry).start(mode, exchange_url, folder)
    except (RegistryError, OSError) as exc:
        log.warning("this session is not entered in the audit log (%s): shadow runs of it count no days", exc)
        return None


def end_audited_session(recorder: SessionRecorder | None) -> None:
    """Enter a session's end (its signed progress stands when this fails)."""
    if recorder is None:
        return
    try:
        recorder.end()
    except (RegistryError, OSError) as exc:
        log.warning("the end of session %s is not entered in the audit log (%s); its signed live bars stand",
                    recorder.session, exc)
