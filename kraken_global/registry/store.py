"""The registry proper: candidates, validations, and the approved pointer, changed atomically and audited.

State changes (promote, rollback) are transactions under a file lock (two promotions at once are serialized):

1. write the new state to ``state.json.next`` (atomic write);
2. append the audit entry, which names the state sequence number it creates;
3. rename ``state.json.next`` over ``state.json``.

A crash can stop this anywhere. :meth:`RegistryStore.recover`, run under the lock before every command (the
read-only ones too) and every audited append, finishes or undoes it: when the last audit entry records a change
whose state ``state.json`` does not hold yet, ``state.json`` is rewritten from the chain (the decision was
recorded; the leftover ``state.json.next`` only marks the interruption and its content is never trusted); any
other leftover is deleted (it was not recorded), and a torn last audit line is dropped and the repair itself
audited. So the registry is always the old state or the new one, never a mix.

What the audit chain (keyed and anchored, see :mod:`kraken_global.registry.audit`) vouches for, and the other
files only mirror:

- each candidate: its ``candidate`` entry (written by ``train``) holds the model's SHA256 and the manifest's, so a
  planted candidate (never entered) or an edited manifest (training window, embargo, features, operating point,
  data fingerprint) is refused by the gates, ``promote`` and every load;
- the trial ledger (:mod:`kraken_global.registry.trials`) and the sessions shadow days are counted from
  (:mod:`kraken_global.registry.sessions`);
- the gate policy (``policy.json`` is a readable copy; the chain's last ``policy`` entry is the policy);
- each gates report: its ``validation`` entry holds the report file's SHA256, the model's SHA256, the policy's
  hash and the verdict, so an edited, replaced, swapped or deleted report is refused by ``promote`` and reported
  by ``audit verify``;
- the approved model: ``state.json`` must equal the state replayed from the chain's promotions and rollbacks, and
  loading needs the promotion's backing, a passing gates run of exactly the approved hash under the policy in
  force when it was promoted (see :mod:`kraken_global.registry.approvals` for what a later policy change means).
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from kraken_global.events import event_extra
from kraken_global.gating.policy import POLICY_WORD, GatePolicy, looser_than_defaults, parse_policy, policy_hash
from kraken_global.registry.approvals import (
    STATE_CHANGES,
    approval_entries,
    approval_status,
    backing_validation,
    replay_approvals,
)
from kraken_global.registry.approvals import last_entry as _last
from kraken_global.registry.audit import AuditLog
from kraken_global.registry.crash import crash_point
from kraken_global.registry.errors import ConfirmationRequired, IntegrityError, RegistryBusy, RegistryError
from kraken_global.registry.keys import AuditKeys
from kraken_global.registry.paths import ArtifactRoot, atomic_write, fsync_dir
from kraken_global.registry.paths import file_json as _json
from kraken_global.registry.shelf import CandidateShelf, read_registry_json

log = logging.getLogger(__name__)
PROMOTE_WORD = "yes-promote"
__all__ = ["POLICY_WORD", "PROMOTE_WORD", "ROLLBACK_WORD", "PromotionCheck", "RegistryStore", "replay_approvals"]
# A check a promotion must pass besides the gates (the shadow days): (entries, candidate id, model SHA256, policy),
# raising RegistryError to refuse. Called under the lock, on the entries the promotion is decided on.
PromotionCheck = Callable[[list[dict[str, Any]], str, str, GatePolicy], None]
ROLLBACK_WORD = "yes-rollback"


def _actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class RegistryStore(CandidateShelf):
    """One namespace of the registry: candidates (:class:`CandidateShelf`), the policy, the approved state.

    The bottom of the registry: it imports none of the modules built on it (shadow days, verification, sessions,
    trials). :class:`kraken_global.registry.model_registry.ModelRegistry` adds what needs them."""

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
            raise RegistryBusy(f"another registry command holds {self._lock.lock_file}; try again") from None
        return _Release(self._lock)

    def recover(self) -> list[str]:
        """Finish or undo an interrupted transaction (call under the lock); returns what was done."""
        done = []
        torn = self.audit.repair_torn_tail()
        for stray in self.root.glob(".*.tmp-*"):
            stray.unlink()
        if self.next_file.exists() or self.next_file.is_symlink():
            done.append(self._finish_from_chain())
            self.next_file.unlink()
            fsync_dir(self.root)
        if torn:
            done.append("dropped a torn last audit line")
        if done:
            self.audit.append("recovered", {"actions": done, "actor": _actor()})
        else:
            self.audit.sync_anchor()  # verifies the chain; moves an anchor a crash left one entry behind
        return done

    def _finish_from_chain(self) -> str:
        """After a crash between writing ``state.json.next`` and renaming it: ``state.json`` as the chain's last
        recorded change made it, if that change is the one pending; the leftover itself is never trusted."""
        entries = self.audit.verify_entries()
        change = next((e for e in reversed(entries) if e["action"] in STATE_CHANGES), None)
        try:
            current = self.state()["seq"]
        except RegistryError:
            current = None
        pending = change["details"].get("state_seq") if change is not None else None
        if pending is None or current is None or pending != current + 1:
            return "discarded an interrupted change that was never recorded"
        approvals = replay_approvals(entries)
        atomic_write(self.state_file, _json({"seq": pending, "approved": approvals[-1] if approvals else None,
                                             "approvals": approvals}))
        return f"completed the interrupted {change['action']} (state {pending}) from the audit log"

    def recovered_entries(self) -> list[dict[str, Any]]:
        """The verified chain, after finishing any interrupted change (what read-only commands start with)."""
        with self.locked():
            self.recover()
            return self.audit.verify_entries()

    def sibling_chains(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """``(namespace, entries)`` of every other namespace of the artifacts folder with an audit log: verified with
        the same key, or read line by line when it does not verify (for counting what they hold, never for
        trusting it); a log that cannot be read at all is left out."""
        base = self.paths.base
        for folder in sorted(base.iterdir()) if base.is_dir() else []:
            log = folder / "audit.jsonl"
            if folder.name == self.paths.namespace or folder.is_symlink() or not log.is_file():
                continue
            audit = AuditLog(log, self.keys)
            try:
                yield folder.name, audit.verify_entries()
            except RegistryError:
                try:
                    yield folder.name, audit.entries()
                except (RegistryError, OSError):
                    continue

    def record(self, action: str, details: dict[str, Any]) -> dict[str, Any]:
        """Append an audit entry under the lock, after finishing any interrupted change (a torn line first)."""
        with self.locked():
            self.recover()
            return self.audit.append(action, {**details, "actor": _actor()})

    # -- policy ----------------------------------------------------------------------------------------------

    def policy(self) -> GatePolicy:
        """The namespace's gate policy, from the audit chain; created with the safe defaults on first use.
        ``policy.json`` is only a readable copy: rewritten when missing or different, so editing it changes nothing.
        A policy recorded before a key was added to the policy gets that key's safe default, recorded as a change."""
        with self.locked():
            recorded = _last(self.audit.verify_entries(), "policy")
            if recorded is None:
                policy = GatePolicy()
                self.record("policy", {"policy": policy.model_dump(mode="json"), "policy_sha256": policy.sha256(),
                                       "previous_sha256": None,
                                       "reason": "created with the safe defaults on first use"})
            else:
                stored, stored_sha = recorded["details"]["policy"], recorded["details"]["policy_sha256"]
                if policy_hash(stored) != stored_sha:
                    raise IntegrityError(f"audit entry {recorded['seq']}: the policy does not match its hash")
                policy = parse_policy(stored, f"audit entry {recorded['seq']}")
                added = sorted(set(policy.model_dump()) - set(stored))
                if added:
                    self.record("policy", {"policy": policy.model_dump(mode="json"), "policy_sha256": policy.sha256(),
                                           "previous_sha256": stored_sha,
                                           "reason": f"new policy keys at their safe defaults: {', '.join(added)}"})
            copy = _json(policy.model_dump(mode="json"))
            if self.policy_file.is_symlink() or not self.policy_file.exists() or \
                    self.policy_file.read_bytes() != copy:
                if self.policy_file.is_symlink():
                    self.policy_file.unlink()
                atomic_write(self.policy_file, copy)
            return policy

    def set_policy(self, assignments: dict[str, str], confirm: str | None) -> GatePolicy:
        """Change the policy (``{"min_sharpe": "0"}``), recorded in the audit chain; reports made under the old
        policy can no longer be promoted; the approved model keeps trading, flagged as approved under an earlier
        policy, until it is replaced (see :mod:`kraken_global.registry.approvals`)."""
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
            self.record("policy", {"policy": new.model_dump(mode="json"), "policy_sha256": new.sha256(),
                                   "previous_sha256": current.sha256(), "changes": assignments})
            atomic_write(self.policy_file, _json(new.model_dump(mode="json")))
            return new

    # -- state ----------------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        if not self.state_file.exists() and not self.state_file.is_symlink():
            return {"seq": 0, "approved": None, "approvals": []}
        return read_registry_json(self.state_file, "registry state", ("seq", "approved", "approvals"))

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

    def approve(self, candidate_id: str, confirm: str | None, check: PromotionCheck) -> dict[str, Any]:
        """Approve a candidate whose audited gates report passed, on its exact current hash, under the current
        policy, if ``check`` (the shadow days) passes too: use ``ModelRegistry.promote``, which supplies it."""
        if confirm != PROMOTE_WORD:
            raise ConfirmationRequired(f"nothing was promoted: pass --confirm {PROMOTE_WORD} to approve {candidate_id}")
        with self.locked():
            self.recover()
            entries = self.audit.verify_entries()
            policy = self.policy()
            manifest = self.audited_manifest(candidate_id, entries)
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
            backing = self.passing_validation(entries, candidate_id, actual, policy)
            check(entries, candidate_id, actual, policy)
            state = self.checked_state(entries)
            if state["approved"] and state["approved"]["id"] == candidate_id:
                raise RegistryError(f"candidate {candidate_id} is already the approved model")
            entry = {"id": candidate_id, "sha256": actual}
            new_state = {"seq": state["seq"] + 1, "approved": entry, "approvals": [*state["approvals"], entry]}
            self._commit("promote", {**entry, "previous": state["approved"], "policy_sha256": policy.sha256(),
                                     "validation_entry": backing["seq"]}, new_state)
        log.info("model %s approved (sha256 %s) in %s", candidate_id, actual, self.paths.namespace,
                 extra=event_extra("model_approved", id=candidate_id, sha256=actual, namespace=self.paths.namespace,
                                   previous=(state["approved"] or {}).get("id")))
        return new_state

    def rollback(self, confirm: str | None) -> dict[str, Any]:
        """Return to the model approved before the current one: it was approved, so it stands on the gates run
        its own promotion rested on (flagged when that was under an earlier policy), whatever the policy now."""
        if confirm != ROLLBACK_WORD:
            raise ConfirmationRequired(f"nothing was rolled back: pass --confirm {ROLLBACK_WORD}")
        with self.locked():
            self.recover()
            entries = self.audit.verify_entries()
            state = self.checked_state(entries)
            if len(state["approvals"]) < 2:
                raise RegistryError("there is no previous approved model to roll back to")
            previous = state["approvals"][-2]
            manifest = self.audited_manifest(previous["id"], entries)
            actual = self.file_sha256(previous["id"])
            if actual != previous["sha256"] or manifest["sha256"] != previous["sha256"]:
                raise IntegrityError(f"the previous model {previous['id']} no longer matches its approved SHA256; "
                                     "nothing was rolled back")
            backing_validation(entries, approval_entries(entries)[-2])
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
        """The approved model and its manifest (see :meth:`approved`)."""
        approved = self.approved()
        return approved.model, approved.manifest

    def approved(self) -> Approved:
        """The approved model, its audited manifest and what outputs must say about it (:meth:`approval_record`),
        only if the chain holds its promotion, backed by a passing gates run of exactly that hash under the policy
        then in force, and its manifest and bytes are the audited ones; raises otherwise."""
        with self.locked():
            self.recover()
            entries = self.audit.verify_entries()
            self.checked_state(entries)
            stack = approval_entries(entries)
            if not stack:
                raise RegistryError("no model is approved: train, run the gates, then promote one")
            backing_validation(entries, stack[-1])
            record = self.approval_record(entries)
        approved = stack[-1]["details"]
        model, manifest = self.load_candidate(approved["id"], approved["sha256"], entries)
        return Approved(model, manifest, record)

    def approval_record(self, entries: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """What every trading output says about the approval it trades: the namespace (and what it is a copy of),
        the policy's hash and how it is looser than the defaults, and the approval's own flags."""
        entries = self.audit.verify_entries() if entries is None else entries
        policy = self.policy()
        stack = approval_entries(entries)
        status = approval_status(entries, stack[-1], policy.sha256()) if stack else None
        looser = looser_than_defaults(policy)
        identity = self.audit.identity()
        flags = list(status["flags"]) if status else []
        if looser:
            flags.append(f"the policy of namespace {self.paths.namespace} is looser than the defaults: "
                         f"{'; '.join(looser)}")
        if identity["copy_of"]:
            flags.append(f"namespace {self.paths.namespace} at {self.root} is a copy of {identity['copy_of']} "
                         f"(made at audit entry {identity['copied_at_entry']})")
        return {"namespace": self.paths.namespace, "artifacts": str(self.paths.base), "policy_sha256": policy.sha256(),
                "policy_looser_than_defaults": looser, "approval": status, "copy_of": identity["copy_of"],
                "copied_at_entry": identity["copied_at_entry"], "flags": flags}


@dataclass(frozen=True)
class Approved:
    """The approved model, its manifest and its :meth:`ModelRegistry.approval_record`."""

    model: Any
    manifest: dict[str, Any]
    record: dict[str, Any]


class _Release:
    def __init__(self, lock: FileLock) -> None:
        self.lock = lock

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.lock.release()
