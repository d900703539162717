"""The registry's shadow area: what a candidate would have done beside the approved model, on live bars.

A shadow run is a candidate replayed on the bars a paper or live session traded live (see
:mod:`kraken_global.replay.shadow`); its decisions and would-be fills are stored under
``shadow/<candidate>/<session>/`` and never sent. Each record is audited (the summary's SHA256, the candidate's
model SHA256, the session's id and the live period counted), so the shadow days that ``promote`` counts against
the policy's ``min_shadow_days`` come from the keyed chain, not from files anyone could write.

Days count only inside the live period the session itself signed as it ran, and only for a session against
Kraken (:mod:`kraken_global.registry.sessions`); only live bars after the candidate's training window count
(bars it could have been fitted on are not a forward test). Overlapping sessions, and a session shadowed twice
(a copied folder), count their common days once.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from kraken_global.registry.errors import RegistryError
from kraken_global.registry.paths import atomic_write, check_id, file_json
from kraken_global.registry.sessions import SessionLedger

if TYPE_CHECKING:
    from kraken_global.registry.store import RegistryStore


class ShadowArea:
    def __init__(self, registry: RegistryStore) -> None:
        self.registry = registry

    def folder(self, candidate_id: str, session: str):
        check_id(candidate_id)
        check_id(session)
        return self.registry.paths.path("shadow", candidate_id, session)

    def record(self, candidate_id: str, session: str, summary: dict[str, Any], files: dict[str, bytes]) -> dict:
        """Store a shadow run and audit it; a second run of the same session replaces the first."""
        with self.registry.locked():
            folder = self.folder(candidate_id, session)
            folder.mkdir(parents=True, exist_ok=True)
            for name, data in files.items():
                atomic_write(folder / name, data)
            data = file_json(summary)
            atomic_write(folder / "summary.json", data)
            return self.registry.record("shadow", {
                "id": candidate_id, "sha256": summary["candidate"]["sha256"], "session": session,
                "session_id": summary.get("session_id"), "counted_from": summary.get("counted_from"),
                "counted_until": summary.get("counted_until"), "summary_sha256": hashlib.sha256(data).hexdigest()})

    def records(self, entries: list[dict[str, Any]], candidate_id: str | None = None) -> list[dict[str, Any]]:
        """The audited shadow runs (the last per candidate and session), each with its summary when the file still
        matches the audited hash (``summary`` None and ``problem`` set otherwise)."""
        last: dict[tuple[str, str], dict[str, Any]] = {}
        for entry in entries:
            if entry["action"] == "shadow" and candidate_id in (None, entry["details"]["id"]):
                last[(entry["details"]["id"], entry["details"]["session"])] = entry
        out = []
        for (cid, session), entry in sorted(last.items()):
            details = dict(entry["details"])
            path = self.folder(cid, session) / "summary.json"
            try:
                data = path.read_bytes() if path.is_file() and not path.is_symlink() else None
            except OSError:
                data = None
            if data is None:
                details.update(summary=None, problem=f"{path} is missing")
            elif hashlib.sha256(data).hexdigest() != details["summary_sha256"]:
                details.update(summary=None, problem=f"{path} does not match its audit entry (line {entry['seq']})")
            else:
                details.update(summary=json.loads(data), problem=None)
            out.append(details)
        return out

    def days(self, entries: list[dict[str, Any]], candidate_id: str, model_sha256: str) -> float:
        """Days of live bars the candidate (exactly this model) ran in shadow, from intact audited records, each
        clipped to the live period its session signed on Kraken; the union of them, so overlaps count once."""
        sessions = SessionLedger(self.registry)
        spans = []
        for r in self.records(entries, candidate_id):
            audited = sessions.audited(entries, r.get("session_id"))
            if r["sha256"] != model_sha256 or r["summary"] is None or not r["counted_from"] or audited is None \
                    or not audited.on_kraken or audited.first_live_bar is None:
                continue
            start = max(_time(r["counted_from"]), _time(audited.first_live_bar))
            end = min(_time(r["counted_until"]), _time(audited.last_live_bar))
            if end > start:
                spans.append((start, end))
        spans.sort()
        total = timedelta(0)
        current: list[datetime] | None = None
        for start, end in spans:
            if current is None or start > current[1]:
                if current is not None:
                    total += current[1] - current[0]
                current = [start, end]
            else:
                current[1] = max(current[1], end)
        if current is not None:
            total += current[1] - current[0]
        return total / timedelta(days=1)

    def check_for_promotion(self, entries: list[dict[str, Any]], candidate_id: str, model_sha256: str,
                            min_days: int) -> None:
        if min_days <= 0:
            return
        days = self.days(entries, candidate_id, model_sha256)
        if days < min_days:
            raise RegistryError(f"candidate {candidate_id} has {days:.1f} days in shadow; the policy requires "
                                f"{min_days}: run it beside the approved model (`kraken-global paper --shadow "
                                f"{candidate_id}` or `live --shadow`), then promote")


def _time(text: str) -> datetime:
    return datetime.fromisoformat(str(text))
