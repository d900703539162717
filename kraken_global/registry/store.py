"""The registry proper: candidates, validations, and the approved pointer, changed atomically and audited.

State changes (promote, rollback) are transactions under a file lock (two promotions at once are serialized):

1. write the new state to ``state.json.next`` (atomic write);
2. append the audit entry, which names the state sequence number it creates;
3. rename ``state.json.next`` over ``state.json``.

A crash can stop this anywhere. :meth:`ModelRegistry.recover`, run under the lock before every command, finishes
or undoes it: a leftover ``state.json.next`` whose sequence number the last audit entry names is renamed into
place (the decision was recorded), any other is deleted (it was not), and a torn last audit line is dropped and
the repair itself audited. So the registry is always the old state or the new one, never a mix.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from kraken_global.registry.audit import AuditLog
from kraken_global.registry.crash import crash_point
from kraken_global.registry.errors import ConfirmationRequired, IntegrityError, RegistryError, UnknownCandidateError
from kraken_global.registry.paths import ArtifactRoot, atomic_write, check_id, fsync_dir
from kraken_global.registry.serialization import load_model, save_model, sha256

PROMOTE_WORD = "yes-promote"
ROLLBACK_WORD = "yes-rollback"
MANIFEST_FIELDS = ("id", "sha256", "created", "feature_schema", "library_versions", "training_window",
                   "data_hash", "config_hash", "metrics")


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def _actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class ModelRegistry:
    def __init__(self, base: Path, namespace: str = "kraken_global", lock_timeout: float = 60.0) -> None:
        self.paths = ArtifactRoot(base, namespace)
        self.root = self.paths.ensure()
        self.audit = AuditLog(self.paths.path("audit.jsonl"))
        self.state_file = self.paths.path("state.json")
        self.next_file = self.paths.path("state.json.next")
        self._lock = FileLock(str(self.paths.path("registry.lock")), timeout=lock_timeout)

    # -- locking and recovery ---------------------------------------------------------------------------

    def locked(self):
        try:
            self._lock.acquire()
        except Timeout:
            raise RegistryError(f"another registry command holds {self._lock.lock_file}; try again") from None
        return _Release(self._lock)

    def recover(self) -> list[str]:
        """Finish or undo an interrupted transaction (call under the lock); returns what was done."""
        done = []
        torn = self.audit.repair_torn_tail()
        for stray in self.root.glob(".*.tmp-*"):
            stray.unlink()
        if self.next_file.exists():
            pending = json.loads(self.next_file.read_text())
            last = self.audit.last()
            if last and last["details"].get("state_seq") == pending["seq"]:
                os.replace(self.next_file, self.state_file)
                done.append(f"completed the interrupted {last['action']} (state {pending['seq']})")
            else:
                self.next_file.unlink()
                done.append("discarded an interrupted change that was never recorded")
            fsync_dir(self.root)
        if torn:
            done.append("dropped a torn last audit line")
        if done:
            self.audit.append("recovered", {"actions": done, "actor": _actor()})
        return done

    # -- candidates ---------------------------------------------------------------------------------------

    def add_candidate(self, model: Any, manifest: dict[str, Any]) -> str:
        """Store a trained model and its manifest as a new candidate; returns its id."""
        created = datetime.now(UTC)
        staging = self.paths.path("candidates", f".staging-{os.getpid()}-{created.strftime('%H%M%S%f')}")
        staging.mkdir(parents=True)
        digest = save_model(model, staging / "model.skops")
        candidate_id = f"{created.strftime('%Y%m%dT%H%M%S%fZ')}-{digest[:8]}"
        manifest = {**manifest, "id": candidate_id, "sha256": digest, "created": created.isoformat()}
        missing = [f for f in MANIFEST_FIELDS if f not in manifest]
        if missing:
            raise RegistryError(f"manifest lacks {', '.join(missing)}")
        atomic_write(staging / "manifest.json", _json(manifest))
        os.replace(staging, self.paths.candidate_dir(candidate_id))
        fsync_dir(self.paths.path("candidates"))
        with self.locked():
            self.audit.append("candidate", {"id": candidate_id, "sha256": digest, "actor": _actor()})
        return candidate_id

    def candidates(self) -> list[str]:
        folder = self.paths.path("candidates")
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))

    def manifest(self, candidate_id: str) -> dict[str, Any]:
        path = self.paths.candidate_dir(candidate_id) / "manifest.json"
        if not path.exists():
            raise UnknownCandidateError(f"no candidate {candidate_id!r}; known: "
                                        f"{', '.join(self.candidates()) or 'none'}")
        try:
            manifest = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise IntegrityError(f"manifest {path} is not valid JSON: {exc.msg}") from None
        missing = [f for f in MANIFEST_FIELDS if f not in manifest]
        if missing:
            raise IntegrityError(f"manifest {path} lacks required field(s): {', '.join(missing)}")
        if manifest["id"] != candidate_id:
            raise IntegrityError(f"manifest {path} names candidate {manifest['id']!r}, not {candidate_id!r}")
        return manifest

    def file_sha256(self, candidate_id: str) -> str:
        self.manifest(candidate_id)  # an unknown id is a usage error, not a failed check
        return sha256((self.paths.candidate_dir(candidate_id) / "model.skops").read_bytes())

    def load_candidate(self, candidate_id: str, expected_sha256: str | None = None) -> tuple[Any, dict[str, Any]]:
        """The model (hash-verified against its manifest, and ``expected_sha256`` when given) and manifest."""
        manifest = self.manifest(candidate_id)
        if expected_sha256 is not None and manifest["sha256"] != expected_sha256:
            raise IntegrityError(f"candidate {candidate_id} manifest records SHA256 {manifest['sha256']}, "
                                 f"but {expected_sha256} was approved")
        model = load_model(self.paths.candidate_dir(candidate_id) / "model.skops", manifest["sha256"])
        return model, manifest

    # -- validations ---------------------------------------------------------------------------------------

    def record_validation(self, candidate_id: str, report: dict[str, Any]) -> None:
        """Store a gates report; it is bound to the SHA256 the gates were computed on (``report["sha256"]``)."""
        check_id(candidate_id)
        with self.locked():
            atomic_write(self.paths.validation_file(candidate_id), _json(report))
            self.audit.append("validation", {"id": candidate_id, "sha256": report.get("sha256"),
                                             "passed": bool(report.get("passed")), "actor": _actor()})

    def validation(self, candidate_id: str) -> dict[str, Any] | None:
        path = self.paths.validation_file(candidate_id)
        return _read_json(path, "gates report", ("passed",)) if path.exists() else None

    # -- state ----------------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        if not self.state_file.exists():
            return {"seq": 0, "approved": None, "approvals": []}
        return _read_json(self.state_file, "registry state", ("seq", "approved", "approvals"))

    def promote(self, candidate_id: str, confirm: str | None) -> dict[str, Any]:
        """Approve a candidate whose gates passed on its exact current hash."""
        if confirm != PROMOTE_WORD:
            raise ConfirmationRequired(f"nothing was promoted: pass --confirm {PROMOTE_WORD} to approve {candidate_id}")
        with self.locked():
            self.recover()
            manifest = self.manifest(candidate_id)
            actual = self.file_sha256(candidate_id)
            if actual != manifest["sha256"]:
                raise IntegrityError(f"candidate {candidate_id}: model file SHA256 {actual} does not match its "
                                     f"manifest {manifest['sha256']}; nothing was promoted")
            report = self.validation(candidate_id)
            if report is None:
                raise RegistryError(f"candidate {candidate_id} has no gates report: run `kraken-global gates "
                                    f"{candidate_id}` first")
            if report.get("sha256") != actual:
                raise RegistryError(f"the gates of {candidate_id} ran on SHA256 {report.get('sha256')}, not on the "
                                    f"current file {actual}: run the gates again")
            if not report.get("passed"):
                failed = [g["name"] for g in report.get("gates", []) if not g.get("passed")]
                raise RegistryError(f"candidate {candidate_id} failed its gates ({', '.join(failed)}); not promoted")
            state = self.state()
            if state["approved"] and state["approved"]["id"] == candidate_id:
                raise RegistryError(f"candidate {candidate_id} is already the approved model")
            entry = {"id": candidate_id, "sha256": actual}
            new_state = {"seq": state["seq"] + 1, "approved": entry, "approvals": [*state["approvals"], entry]}
            self._commit("promote", {**entry, "previous": state["approved"]}, new_state)
            return new_state

    def rollback(self, confirm: str | None) -> dict[str, Any]:
        """Return to the model approved before the current one."""
        if confirm != ROLLBACK_WORD:
            raise ConfirmationRequired(f"nothing was rolled back: pass --confirm {ROLLBACK_WORD}")
        with self.locked():
            self.recover()
            state = self.state()
            if len(state["approvals"]) < 2:
                raise RegistryError("there is no previous approved model to roll back to")
            previous = state["approvals"][-2]
            manifest = self.manifest(previous["id"])
            actual = self.file_sha256(previous["id"])
            if actual != previous["sha256"] or manifest["sha256"] != previous["sha256"]:
                raise IntegrityError(f"the previous model {previous['id']} no longer matches its approved SHA256; "
                                     "nothing was rolled back")
            new_state = {"seq": state["seq"] + 1, "approved": previous, "approvals": state["approvals"][:-1]}
            self._commit("rollback", {**previous, "from": state["approved"]}, new_state)
            return new_state

    def _commit(self, action: str, details: dict[str, Any], new_state: dict[str, Any]) -> None:
        crash_point(f"{action}:before_next")
        atomic_write(self.next_file, _json(new_state))
        crash_point(f"{action}:after_next")
        self.audit.append(action, {**details, "state_seq": new_state["seq"], "actor": _actor()})
        crash_point(f"{action}:after_audit")
        os.replace(self.next_file, self.state_file)
        fsync_dir(self.root)
        crash_point(f"{action}:after_replace")

    def approved_model(self) -> tuple[Any, dict[str, Any]]:
        """The approved model, its bytes verified against the hash recorded at approval; raises otherwise."""
        with self.locked():
            self.recover()
            approved = self.state()["approved"]
        if approved is None:
            raise RegistryError("no model is approved: train, run the gates, then promote one")
        return self.load_candidate(approved["id"], expected_sha256=approved["sha256"])


class _Release:
    def __init__(self, lock: FileLock) -> None:
        self.lock = lock

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.lock.release()


def _read_json(path: Path, what: str, required: tuple[str, ...]) -> dict[str, Any]:
    """A registry JSON file, or an IntegrityError naming it when it is unreadable or has the wrong shape."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntegrityError(f"{what} {path} is damaged ({exc}): restore it from a backup") from None
    if not isinstance(data, dict) or any(key not in data for key in required):
        raise IntegrityError(f"{what} {path} is not a {what} (it needs {', '.join(required)}): restore it from a "
                             "backup") from None
    return data
