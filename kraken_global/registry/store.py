"""The registry proper: candidates, validations, and the approved pointer, changed atomically and audited.

State changes (promote, rollback) are transactions under a file lock (two promotions at once are serialized):

1. write the new state to ``state.json.next`` (atomic write);
2. append the audit entry, which names the state sequence number it creates;
3. rename ``state.json.next`` over ``state.json``.

A crash can stop this anywhere. :meth:`ModelRegistry.recover`, run under the lock before every command, finishes
or undoes it: a leftover ``state.json.next`` whose sequence number the last audit entry names is renamed into
place (the decision was recorded), any other is deleted (it was not), and a torn last audit line is dropped and
the repair itself audited. So the registry is always the old state or the new one, never a mix.

What the audit chain (keyed and anchored, see :mod:`kraken_global.registry.audit`) vouches for, and the other
files only mirror:

- the gate policy (``policy.json`` is a readable copy; the chain's last ``policy`` entry is the policy);
- each gates report: its ``validation`` entry holds the report file's SHA256, the model's SHA256, the policy's
  hash and the verdict, so an edited, replaced, swapped or deleted report is refused by ``promote`` and reported
  by ``audit verify``;
- the approved model: ``state.json`` must equal the state replayed from the chain's promotions and rollbacks, and
  loading needs a passing validation of exactly the approved hash under the current policy.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from kraken_global.alerts import event_extra
from kraken_global.gating.policy import POLICY_WORD, GatePolicy, parse_policy
from kraken_global.registry.audit import AuditLog
from kraken_global.registry.crash import crash_point
from kraken_global.registry.errors import ConfirmationRequired, IntegrityError, RegistryError, UnknownCandidateError
from kraken_global.registry.keys import AuditKeys
from kraken_global.registry.paths import ArtifactRoot, atomic_write, check_id, fsync_dir, read_regular
from kraken_global.registry.serialization import load_model, save_model, sha256
from kraken_global.registry.shadow import ShadowArea
from kraken_global.registry.verification import file_json as _json
from kraken_global.registry.verification import last_entry as _last
from kraken_global.registry.verification import replay_approvals

log = logging.getLogger(__name__)
PROMOTE_WORD = "yes-promote"
__all__ = ["POLICY_WORD", "PROMOTE_WORD", "ROLLBACK_WORD", "ModelRegistry", "replay_approvals"]
ROLLBACK_WORD = "yes-rollback"
MANIFEST_FIELDS = ("id", "sha256", "created", "feature_schema", "library_versions", "training_window",
                   "data_hash", "config_hash", "metrics")


def _actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class ModelRegistry:
    def __init__(self, base: Path, namespace: str = "kraken_global", lock_timeout: float = 60.0,
                 key_dir: Path | None = None) -> None:
        """``key_dir``: the audit key and anchors folder (default ``$KRAKEN_GLOBAL_KEY_DIR``, else
        ``~/.config/kraken-global``); never inside the artifacts."""
        self.paths = ArtifactRoot(base, namespace)
        self.root = self.paths.ensure()
        self.keys = AuditKeys(key_dir)
        key_folder = self.keys.folder.resolve()
        if key_folder == self.paths.base or self.paths.base in key_folder.parents:
            raise RegistryError(f"the audit key folder {key_folder} is inside the artifacts folder "
                                f"{self.paths.base}: keep it elsewhere (KRAKEN_GLOBAL_KEY_DIR)")
        self.audit = AuditLog(self.paths.path("audit.jsonl"), self.keys)
        self.policy_file = self.paths.path("policy.json")
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
        else:
            self.audit.sync_anchor()  # verifies the chain; moves an anchor a crash left one entry behind
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
        if not path.exists() and not path.is_symlink():
            raise UnknownCandidateError(f"no candidate {candidate_id!r}; known: "
                                        f"{', '.join(self.candidates()) or 'none'}")
        path = self.paths.candidate_file(candidate_id, "manifest.json")
        try:
            manifest = json.loads(read_regular(path, "manifest"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IntegrityError(f"manifest {path} is not valid JSON: {exc}") from None
        missing = [f for f in MANIFEST_FIELDS if f not in manifest]
        if missing:
            raise IntegrityError(f"manifest {path} lacks required field(s): {', '.join(missing)}")
        if manifest["id"] != candidate_id:
            raise IntegrityError(f"manifest {path} names candidate {manifest['id']!r}, not {candidate_id!r}")
        return manifest

    def file_sha256(self, candidate_id: str) -> str:
        self.manifest(candidate_id)  # an unknown id is a usage error, not a failed check
        return sha256(read_regular(self.paths.candidate_file(candidate_id, "model.skops"), "model file"))

    def load_candidate(self, candidate_id: str, expected_sha256: str | None = None) -> tuple[Any, dict[str, Any]]:
        """The model (hash-verified against its manifest, and ``expected_sha256`` when given) and manifest."""
        manifest = self.manifest(candidate_id)
        if expected_sha256 is not None and manifest["sha256"] != expected_sha256:
            raise IntegrityError(f"candidate {candidate_id} manifest records SHA256 {manifest['sha256']}, "
                                 f"but {expected_sha256} was approved")
        model = load_model(self.paths.candidate_file(candidate_id, "model.skops"), manifest["sha256"])
        return model, manifest

    # -- validations ---------------------------------------------------------------------------------------

    def record_validation(self, candidate_id: str, report: dict[str, Any]) -> None:
        """Store a gates report and audit it: the entry holds the report file's SHA256, the model's SHA256 the
        gates ran on (``report["sha256"]``), the policy's hash (``report["policy_sha256"]``) and the verdict."""
        check_id(candidate_id)
        data = _json(report)
        with self.locked():
            atomic_write(self.paths.validation_file(candidate_id), data)
            self.audit.append("validation", {"id": candidate_id, "sha256": report.get("sha256"),
                                             "passed": bool(report.get("passed")),
                                             "policy_sha256": report.get("policy_sha256"),
                                             "report_sha256": sha256(data), "actor": _actor()})

    def validation(self, candidate_id: str) -> dict[str, Any] | None:
        path = self.paths.validation_file(candidate_id)
        if not path.exists() and not path.is_symlink():
            return None
        return _read_json(self.paths.path("validations", f"{candidate_id}.json"), "gates report", ("passed",))

    def audited_report(self, candidate_id: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
        """The candidate's gates report, checked against its last audited validation; raises on any mismatch."""
        recorded = _last(entries, "validation", candidate_id)
        path = self.paths.validation_file(candidate_id)
        if recorded is None:
            raise RegistryError(f"candidate {candidate_id} has no audited gates run: run `kraken-global gates "
                                f"{candidate_id}` first")
        if not path.exists() and not path.is_symlink():
            raise IntegrityError(f"the gates report {path} of {candidate_id} was deleted: run the gates again")
        data = read_regular(self.paths.path("validations", f"{candidate_id}.json"), "gates report")
        if sha256(data) != recorded["details"].get("report_sha256"):
            raise IntegrityError(f"the gates report {path} does not match the one recorded in the audit log "
                                 f"(line {recorded['seq']}): it was edited, replaced or swapped; run the gates again")
        return json.loads(data)

    # -- policy ----------------------------------------------------------------------------------------------

    def policy(self) -> GatePolicy:
        """The namespace's gate policy, from the audit chain; created with the safe defaults on first use.
        ``policy.json`` is only a readable copy: rewritten when missing or different, so editing it changes nothing."""
        with self.locked():
            recorded = _last(self.audit.verify_entries(), "policy")
            if recorded is None:
                policy = GatePolicy()
                self.audit.append("policy", {"policy": policy.model_dump(mode="json"),
                                             "policy_sha256": policy.sha256(), "previous_sha256": None,
                                             "reason": "created with the safe defaults on first use",
                                             "actor": _actor()})
            else:
                policy = parse_policy(recorded["details"]["policy"], f"audit entry {recorded['seq']}")
                if policy.sha256() != recorded["details"]["policy_sha256"]:
                    raise IntegrityError(f"audit entry {recorded['seq']}: the policy does not match its hash")
            copy = _json(policy.model_dump(mode="json"))
            if self.policy_file.is_symlink() or not self.policy_file.exists() or \
                    self.policy_file.read_bytes() != copy:
                if self.policy_file.is_symlink():
                    self.policy_file.unlink()
                atomic_write(self.policy_file, copy)
            return policy

    def set_policy(self, assignments: dict[str, str], confirm: str | None) -> GatePolicy:
        """Change the policy (``{"min_sharpe": "0"}``), recorded in the audit chain; reports made under the old
        policy can no longer be promoted and the approved model no longer loads until its gates run again."""
        if confirm != POLICY_WORD:
            raise ConfirmationRequired(f"the policy was not changed: pass --confirm {POLICY_WORD}")
        if not assignments:
            raise RegistryError("nothing to change: give KEY=VALUE pairs, e.g. min_sharpe=0.8")
        with self.locked():
            self.recover()
            current = self.policy()
            new = current.changed(assignments)
            if new == current:  # asking again for what is in force: nothing to record (a re-run is harmless)
                return current
            self.audit.append("policy", {"policy": new.model_dump(mode="json"), "policy_sha256": new.sha256(),
                                         "previous_sha256": current.sha256(), "changes": assignments,
                                         "actor": _actor()})
            atomic_write(self.policy_file, _json(new.model_dump(mode="json")))
            return new

    # -- state ----------------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        if not self.state_file.exists() and not self.state_file.is_symlink():
            return {"seq": 0, "approved": None, "approvals": []}
        return _read_json(self.state_file, "registry state", ("seq", "approved", "approvals"))

    def checked_state(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        """``state.json``, refused unless it equals the state replayed from the audit chain."""
        state = self.state()
        approvals = replay_approvals(entries)
        replayed = approvals[-1] if approvals else None
        if state.get("approved") != replayed or state.get("approvals") != approvals:
            named = (state.get("approved") or {}).get("id")
            raise IntegrityError(f"{self.state_file} names {named!r} as approved, but the audit chain's promotions "
                                 f"and rollbacks give {(replayed or {}).get('id')!r}: state.json was edited; "
                                 "nothing is loaded or changed until it is restored")
        return state

    def passing_validation(self, entries: list[dict[str, Any]], candidate_id: str, model_sha256: str,
                           policy: GatePolicy) -> dict[str, Any]:
        """The audited validation backing an approval: the candidate's last one, on exactly ``model_sha256``,
        passed, under ``policy``; raises otherwise."""
        recorded = _last(entries, "validation", candidate_id)
        details = (recorded or {}).get("details", {})
        if recorded is None or details.get("sha256") != model_sha256:
            raise RegistryError(f"the audit log holds no gates run of {candidate_id} on SHA256 {model_sha256}")
        if not details.get("passed"):
            raise RegistryError(f"candidate {candidate_id} failed its last audited gates run (audit line "
                                f"{recorded['seq']})")
        if details.get("policy_sha256") != policy.sha256():
            raise RegistryError(f"the gates of {candidate_id} ran under another policy than the current one "
                                f"({policy.sha256()[:12]}): run `kraken-global gates {candidate_id}` again")
        return recorded

    def promote(self, candidate_id: str, confirm: str | None) -> dict[str, Any]:
        """Approve a candidate whose audited gates report passed, on its exact current hash, under the current
        policy."""
        if confirm != PROMOTE_WORD:
            raise ConfirmationRequired(f"nothing was promoted: pass --confirm {PROMOTE_WORD} to approve {candidate_id}")
        with self.locked():
            self.recover()
            entries = self.audit.verify_entries()
            policy = self.policy()
            manifest = self.manifest(candidate_id)
            actual = self.file_sha256(candidate_id)
            if actual != manifest["sha256"]:
                raise IntegrityError(f"candidate {candidate_id}: model file SHA256 {actual} does not match its "
                                     f"manifest {manifest['sha256']}; nothing was promoted")
            if self.validation(candidate_id) is None and _last(entries, "validation", candidate_id) is None:
                raise RegistryError(f"candidate {candidate_id} has no gates report: run `kraken-global gates "
                                    f"{candidate_id}` first")
            report = self.audited_report(candidate_id, entries)
            if report.get("sha256") != actual:
                raise RegistryError(f"the gates of {candidate_id} ran on SHA256 {report.get('sha256')}, not on the "
                                    f"current file {actual}: run the gates again")
            if report.get("policy_sha256") != policy.sha256():
                raise RegistryError(f"the gates report of {candidate_id} was made under another policy "
                                    f"({str(report.get('policy_sha256'))[:12]}, current {policy.sha256()[:12]}): "
                                    "run the gates again under the current policy")
            if not report.get("passed"):
                failed = [g["name"] for g in report.get("gates", []) if not g.get("passed")]
                raise RegistryError(f"candidate {candidate_id} failed its gates ({', '.join(failed)}); not promoted")
            self.passing_validation(entries, candidate_id, actual, policy)
            ShadowArea(self).check_for_promotion(entries, candidate_id, actual, policy.min_shadow_days)
            state = self.checked_state(entries)
            if state["approved"] and state["approved"]["id"] == candidate_id:
                raise RegistryError(f"candidate {candidate_id} is already the approved model")
            entry = {"id": candidate_id, "sha256": actual}
            new_state = {"seq": state["seq"] + 1, "approved": entry, "approvals": [*state["approvals"], entry]}
            self._commit("promote", {**entry, "previous": state["approved"]}, new_state)
        log.info("model %s approved (sha256 %s) in %s", candidate_id, actual, self.paths.namespace,
                 extra=event_extra("model_approved", id=candidate_id, sha256=actual, namespace=self.paths.namespace,
                                   previous=(state["approved"] or {}).get("id")))
        return new_state

    def rollback(self, confirm: str | None) -> dict[str, Any]:
        """Return to the model approved before the current one."""
        if confirm != ROLLBACK_WORD:
            raise ConfirmationRequired(f"nothing was rolled back: pass --confirm {ROLLBACK_WORD}")
        with self.locked():
            self.recover()
            entries = self.audit.verify_entries()
            state = self.checked_state(entries)
            if len(state["approvals"]) < 2:
                raise RegistryError("there is no previous approved model to roll back to")
            previous = state["approvals"][-2]
            manifest = self.manifest(previous["id"])
            actual = self.file_sha256(previous["id"])
            if actual != previous["sha256"] or manifest["sha256"] != previous["sha256"]:
                raise IntegrityError(f"the previous model {previous['id']} no longer matches its approved SHA256; "
                                     "nothing was rolled back")
            self.passing_validation(entries, previous["id"], previous["sha256"], self.policy())
            new_state = {"seq": state["seq"] + 1, "approved": previous, "approvals": state["approvals"][:-1]}
            self._commit("rollback", {**previous, "from": state["approved"]}, new_state)
        log.warning("model rolled back from %s to %s in %s", state["approved"]["id"], previous["id"],
                    self.paths.namespace,
                    extra=event_extra("model_rolled_back", id=previous["id"], sha256=previous["sha256"],
                                      namespace=self.paths.namespace, rolled_back=state["approved"]["id"]))
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
        """The approved model, only if the audit chain holds its promotion, backed by a passing validation of
        exactly that hash under the current policy, and its bytes still have that hash; raises otherwise."""
        with self.locked():
            self.recover()
            entries = self.audit.verify_entries()
            approved = self.checked_state(entries)["approved"]
            if approved is None:
                raise RegistryError("no model is approved: train, run the gates, then promote one")
            self.passing_validation(entries, approved["id"], approved["sha256"], self.policy())
        return self.load_candidate(approved["id"], expected_sha256=approved["sha256"])

    def verify(self) -> tuple[int, list[str]]:
        """The audit chain's length (raises if it is broken), and every stored file that no longer matches it."""
        from kraken_global.registry.verification import verify_registry

        return verify_registry(self)


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
        data = json.loads(read_regular(path, what).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntegrityError(f"{what} {path} is damaged ({exc}): restore it from a backup") from None
    if not isinstance(data, dict) or any(key not in data for key in required):
        raise IntegrityError(f"{what} {path} is not a {what} (it needs {', '.join(required)}): restore it from a "
                             "backup") from None
    return data
