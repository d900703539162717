"""Trading configurations approved like models: gated, promoted and rolled back in the namespace's keyed chain.

A configuration is named by its fingerprint (:func:`kraken_global.config.fingerprint.configuration_fingerprint`:
everything that changes decisions, not where files live). Its gates report (``gates --trading-config``) is stored
under ``configurations/<fingerprint>.json`` with the setup it binds beside it, and audited like a model's
(``config_validation``: the report file's SHA256, the policy's hash, the verdict). ``config_promote`` approves it,
resting on that entry; ``config_rollback`` withdraws the approval. The approved set is replayed from the chain:
no state file holds it, so there is nothing to edit but the chain, which the key vouches for.

Several configurations may be approved at once (one per account or universe, say). A configuration approved under
an earlier policy stays approved and is flagged, as a model is: tightening the policy never stops a running bot.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any

from kraken_global.gating.policy import looser_than_defaults
from kraken_global.registry.approvals import last_entry
from kraken_global.registry.crash import crash_point
from kraken_global.registry.errors import ConfirmationRequired, IntegrityError, RegistryError
from kraken_global.registry.paths import atomic_write, file_json, fsync_dir, read_regular
from kraken_global.registry.store import PROMOTE_WORD, ROLLBACK_WORD, RegistryStore

VALIDATION, PROMOTE, ROLLBACK, OVERRIDE = "config_validation", "config_promote", "config_rollback", "config_override"
REPORT_BYTES = 64 * 1024 ** 2  # a walk-forward report is a few hundred kB; bounded like every registry read
FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")
# the policy keys a configuration's gates are held to (gating/configuration.py and its trading setup's floors)
CONFIG_POLICY_KEYS = ("min_oos_days", "fee_floor", "min_slippage_bps", "max_volume_share", "config_min_oos_sharpe",
                      "config_max_pbo", "config_survive_2x_costs", "config_beat_baseline", "config_beat_buy_and_hold",
                      "config_max_failed_runs")


def failure_cap_refusal(fingerprint: str, failed: list[int], elsewhere: dict[str, int], cap: int | None) -> str | None:
    """Why a passing gates run may not approve ``fingerprint`` (its failed runs: audit lines ``failed`` here, counts
    ``elsewhere`` by namespace, more than the policy's ``config_max_failed_runs`` ``cap``), or None. One check for
    the ``earlier_failures`` gate and for ``promote``."""
    total = len(failed) + sum(elsewhere.values())
    if cap is None or total <= cap:
        return None
    others = "".join(f"; {count} in namespace {name}" for name, count in sorted(elsewhere.items()))
    return (f"configuration {fingerprint[:12]} failed its gates {total} time(s) before (audit line(s) "
            f"{', '.join(map(str, failed)) or 'none'} here{others}), more than the policy's config_max_failed_runs "
            f"{cap}: a pass after that many tries is what re-running until it passes looks like. Change the "
            "configuration (it is gated as a new one), or raise config_max_failed_runs with `policy set` (audited, "
            "flagged as looser than the defaults)")


def failures_elsewhere(registry: RegistryStore, fingerprint: str,
                       chains: list[tuple[str, list[dict[str, Any]]]] | None = None) -> dict[str, int]:
    """Failed gates runs of ``fingerprint`` in the other namespaces of the same artifacts folder, by namespace.

    A namespace starts with an empty chain, so gating a configuration that failed here in a new namespace
    (``ml.namespace: fresh``) would have started its count at zero. A sibling's chain that does not verify is read
    line by line (:meth:`RegistryStore.sibling_chains`): its failures count all the same, and counting more can
    only refuse more. ``chains``: the sibling chains already read (by a listing of many configurations)."""
    counts: dict[str, int] = {}
    for namespace, entries in registry.sibling_chains() if chains is None else chains:
        failed = ConfigurationApprovals.failed_runs(entries, fingerprint)
        if failed:
            counts[namespace] = len(failed)
    return counts


def check_fingerprint(fingerprint: str) -> str:
    if not isinstance(fingerprint, str) or not FINGERPRINT.match(fingerprint):
        raise RegistryError(f"{fingerprint!r} is not a configuration fingerprint (64 hex digits)")
    return fingerprint


class ConfigurationApprovals:
    """The namespace's trading configurations: their audited gates reports and approvals."""

    def __init__(self, registry: RegistryStore) -> None:
        self.registry = registry

    def report_file(self, fingerprint: str):
        return self.registry.paths.path("configurations", f"{check_fingerprint(fingerprint)}.json")

    def setup_file(self, fingerprint: str):
        return self.registry.paths.path("configurations", f"{check_fingerprint(fingerprint)}.setup.json")

    def pending_file(self, fingerprint: str):
        """A report written but not yet entered in the chain (see :meth:`record_validation`)."""
        return self.registry.paths.path("configurations", f"{check_fingerprint(fingerprint)}.json.next")

    def record_validation(self, fingerprint: str, report: dict[str, Any]) -> dict[str, Any]:
        """Store a configuration's gates report (and its setup, readable) and audit the report's SHA256.

        A configuration is gated again (under a new policy, on more data), so a report may replace one the chain
        vouches for. Written in place before its entry, a crash between the two left the new report beside the old
        entry: ``audit verify`` called an honest registry tampered with and ``promote`` refused until the gates ran
        again. So the report is written beside (``FINGERPRINT.json.next``), entered in the chain, then renamed over
        the old one; :meth:`finish_pending` completes or drops what a crash left, from the chain."""
        data = file_json(report)
        with self.registry.locked():
            self.report_file(fingerprint).parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.setup_file(fingerprint), file_json(report["setup"]))  # the same bytes for a fingerprint
            pending = self.pending_file(fingerprint)
            atomic_write(pending, data)
            crash_point(f"{VALIDATION}:after_next")
            entry = self.registry.record(VALIDATION, {
                "fingerprint": fingerprint, "passed": bool(report.get("passed")),
                "policy_sha256": report.get("policy_sha256"), "report_sha256": hashlib.sha256(data).hexdigest()})
            crash_point(f"{VALIDATION}:after_audit")
            os.replace(pending, self.report_file(fingerprint))
            fsync_dir(pending.parent)
            return entry

    def finish_pending(self, fingerprint: str) -> None:
        """After a crash in :meth:`record_validation`: the pending report becomes the report when the chain's last
        gates entry of the configuration vouches for it (the crash came after the entry), else it is dropped (it
        was never recorded). Under the lock, on the chain as it is now."""
        pending = self.pending_file(fingerprint)
        if not pending.exists() and not pending.is_symlink():
            return
        with self.registry.locked():
            if not pending.exists() and not pending.is_symlink():
                return
            recorded = last_entry(self.registry.audit.verify_entries(), VALIDATION, fingerprint, key="fingerprint")
            try:
                data = read_regular(pending, "pending configuration gates report", max_bytes=REPORT_BYTES)
            except (OSError, RegistryError):
                data = None
            try:
                if data is not None and recorded is not None and \
                        hashlib.sha256(data).hexdigest() == recorded["details"]["report_sha256"]:
                    os.replace(pending, self.report_file(fingerprint))
                else:
                    pending.unlink()
            except OSError as exc:  # a folder planted there, say
                raise IntegrityError(f"{pending} is not a report the registry wrote and cannot be removed ({exc}): "
                                     "remove it") from None
            fsync_dir(pending.parent)

    def audited_report(self, fingerprint: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
        """The configuration's last gates report, checked against its audit entry; raises on any mismatch."""
        recorded = last_entry(entries, VALIDATION, fingerprint, key="fingerprint")
        if recorded is None:
            raise RegistryError(f"configuration {fingerprint[:12]} was never gated in namespace "
                                f"{self.registry.paths.namespace}")
        self.finish_pending(fingerprint)
        path = self.report_file(fingerprint)
        if not path.exists() and not path.is_symlink():
            raise IntegrityError(f"the gates report of configuration {fingerprint[:12]} ({path}) is missing")
        data = read_regular(path, "configuration gates report", max_bytes=REPORT_BYTES)  # no symlink, no FIFO
        if hashlib.sha256(data).hexdigest() != recorded["details"]["report_sha256"]:
            raise IntegrityError(f"{path} does not match its audit entry (line {recorded['seq']}): the report was "
                                 "edited or replaced")
        return json.loads(data)  # the bytes the chain vouches for were written by record_validation

    def promote(self, fingerprint: str, confirm: str | None) -> dict[str, Any]:
        """Approve a configuration whose audited gates report passed under the current policy."""
        check_fingerprint(fingerprint)
        if confirm != PROMOTE_WORD:
            raise ConfirmationRequired(f"nothing was promoted: pass --confirm {PROMOTE_WORD} to approve "
                                       f"configuration {fingerprint[:12]}")
        with self.registry.locked():
            self.registry.recover()
            entries = self.registry.audit.verify_entries()
            policy = self.registry.policy()
            recorded = last_entry(entries, VALIDATION, fingerprint, key="fingerprint")
            if recorded is None:
                raise RegistryError(f"configuration {fingerprint[:12]} has no gates report: run `kraken-global gates "
                                    "--trading-config` on it first")
            report = self.audited_report(fingerprint, entries)
            if report.get("fingerprint") != fingerprint:
                raise IntegrityError(f"the gates report of {fingerprint[:12]} names configuration "
                                     f"{str(report.get('fingerprint'))[:12]}")
            if recorded["details"]["policy_sha256"] != policy.sha256():
                raise RegistryError(f"the gates of configuration {fingerprint[:12]} ran under another policy "
                                    f"({str(recorded['details']['policy_sha256'])[:12]}, current "
                                    f"{policy.sha256()[:12]}): run the gates again under the current policy")
            if not recorded["details"]["passed"]:
                failed = [g["name"] for g in report.get("gates", []) if not g.get("passed")]
                raise RegistryError(f"configuration {fingerprint[:12]} failed its gates ({', '.join(failed)}); "
                                    "not promoted")
            refusal = failure_cap_refusal(fingerprint, self.failed_runs(entries, fingerprint, recorded["seq"]),
                                          failures_elsewhere(self.registry, fingerprint),
                                          policy.config_max_failed_runs)
            if refusal is not None:  # a gates run racing another may not have counted it
                raise RegistryError(refusal)
            if self.approval(entries, fingerprint) is not None:
                raise RegistryError(f"configuration {fingerprint[:12]} is already approved")
            return self.registry.record(PROMOTE, {"fingerprint": fingerprint, "validation_entry": recorded["seq"],
                                                  "policy_sha256": policy.sha256()})

    def rollback(self, fingerprint: str, confirm: str | None) -> dict[str, Any]:
        """Withdraw a configuration's approval: ``live`` refuses it again."""
        check_fingerprint(fingerprint)
        if confirm != ROLLBACK_WORD:
            raise ConfirmationRequired(f"nothing was rolled back: pass --confirm {ROLLBACK_WORD}")
        with self.registry.locked():
            self.registry.recover()
            entries = self.registry.audit.verify_entries()
            promoted = self.approval(entries, fingerprint)
            if promoted is None:
                raise RegistryError(f"configuration {fingerprint[:12]} is not approved; nothing to roll back")
            return self.registry.record(ROLLBACK, {"fingerprint": fingerprint, "promote_entry": promoted["seq"]})

    def approval(self, entries: list[dict[str, Any]], fingerprint: str) -> dict[str, Any] | None:
        """The ``config_promote`` entry that approves ``fingerprint`` now, or None (never, or rolled back)."""
        for entry in reversed(entries):
            if entry["action"] in (PROMOTE, ROLLBACK) and entry["details"].get("fingerprint") == fingerprint:
                return entry if entry["action"] == PROMOTE else None
        return None

    @staticmethod
    def failed_runs(entries: list[dict[str, Any]], fingerprint: str, before_seq: int | None = None) -> list[int]:
        """The audit lines of the configuration's failed gates runs (before line ``before_seq`` when given)."""
        return [e["seq"] for e in entries if e["action"] == VALIDATION and e["details"].get("fingerprint") ==
                fingerprint and not e["details"]["passed"] and (before_seq is None or e["seq"] < before_seq)]

    def status(self, fingerprint: str, entries: list[dict[str, Any]] | None = None,
               policy=None, siblings: list[tuple[str, list[dict[str, Any]]]] | None = None) -> dict[str, Any]:
        """Whether ``fingerprint`` is approved, on which gates run, and what a reader should know (flags).
        ``entries``, ``policy`` and ``siblings``: the chain, the policy and the other namespaces' chains already
        read (by a listing of many)."""
        entries = self.registry.audit.verify_entries() if entries is None else entries
        promoted = self.approval(entries, fingerprint)
        gated = last_entry(entries, VALIDATION, fingerprint, key="fingerprint")
        flags = []
        if promoted is not None:
            backing = self._backing(entries, promoted)
            policy = policy if policy is not None else self.registry.policy()
            if promoted["details"]["policy_sha256"] != policy.sha256():
                flags.append("approved under an earlier policy")
            if gated is not None and gated["seq"] > backing["seq"] and not gated["details"]["passed"]:
                flags.append(f"a later gates run failed (line {gated['seq']})")
            failed = self.failed_runs(entries, fingerprint, backing["seq"])
            if failed:
                flags.append(f"it passed after {len(failed)} failed gates run(s) of it (line(s) "
                             f"{', '.join(map(str, failed))})")
            flags += [f"it failed its gates {count} time(s) in namespace {name}"
                      for name, count in sorted(failures_elsewhere(self.registry, fingerprint, siblings).items())]
            flags += self._namespace_flags(policy)
        return {"fingerprint": fingerprint, "namespace": self.registry.paths.namespace,
                "approved": promoted is not None, "approved_at_entry": promoted["seq"] if promoted else None,
                "approved_at": promoted["time"] if promoted else None,
                "gated": gated is not None, "last_gates_passed": gated["details"]["passed"] if gated else None,
                "flags": flags}

    @staticmethod
    def _backing(entries: list[dict[str, Any]], promoted: dict[str, Any]) -> dict[str, Any]:
        """The passing gates run of the same configuration a ``config_promote`` entry rests on; raises if none."""
        fingerprint = promoted["details"]["fingerprint"]
        backing = next((e for e in entries if e["seq"] == promoted["details"]["validation_entry"]), None)
        if backing is None or backing["action"] != VALIDATION or not backing["details"]["passed"] \
                or backing["details"].get("fingerprint") != fingerprint:
            raise IntegrityError(f"the approval of configuration {fingerprint[:12]} (line {promoted['seq']}) "
                                 "rests on no passing gates run of it")
        return backing

    def _namespace_flags(self, policy) -> list[str]:
        """What the session's configuration line must say about the namespace that approves it.

        ``ml.namespace`` is no part of a configuration, so a config may point at a namespace whose policy was
        relaxed (``policy set``, audited) or at a copy of another namespace; the model's approval line said so, the
        configuration's line did not, so a reader of that line took a lenient approval for a strict one."""
        looser = [item for item in looser_than_defaults(policy) if item.split()[0] in CONFIG_POLICY_KEYS]
        flags = [f"the policy of namespace {self.registry.paths.namespace} is looser than the defaults for "
                 f"configurations: {'; '.join(looser)}"] if looser else []
        copy_of = self.registry.audit.identity()["copy_of"]
        if copy_of:
            flags.append(f"namespace {self.registry.paths.namespace} is a copy of {copy_of}")
        return flags

    def listing(self) -> list[dict[str, Any]]:
        """Every configuration the chain knows (gated or approved), newest gating last."""
        entries = self.registry.audit.verify_entries()
        seen = []
        for entry in entries:
            fingerprint = entry["details"].get("fingerprint") if entry["action"] == VALIDATION else None
            if fingerprint and fingerprint not in seen:
                seen.append(fingerprint)
        promoted = any(e["action"] == PROMOTE for e in entries)  # only an approval reads the policy and siblings
        policy = self.registry.policy() if promoted else None
        siblings = list(self.registry.sibling_chains()) if promoted else None
        return [self.status(f, entries, policy, siblings) for f in seen]

    def record_override(self, fingerprint: str, session: str, mode: str) -> dict[str, Any]:
        """A session started on an unapproved configuration by explicit override: in the chain, for the record."""
        return self.registry.record(OVERRIDE, {"fingerprint": check_fingerprint(fingerprint), "session": session,
                                               "mode": mode})

    def problems(self, entries: list[dict[str, Any]]) -> list[str]:
        """Every configuration report that no longer matches the chain (for ``audit verify``)."""
        out = []
        for fingerprint in sorted({e["details"].get("fingerprint") for e in entries if e["action"] == VALIDATION}):
            try:
                report = self.audited_report(fingerprint, entries)
            except (IntegrityError, RegistryError) as exc:
                out.append(str(exc))
                continue
            setup = self.setup_file(fingerprint)
            try:
                matches = read_regular(setup, "configuration setup", max_bytes=REPORT_BYTES) == \
                    file_json(report.get("setup"))
            except (OSError, RegistryError):
                matches = False
            if not matches:
                out.append(f"{setup} differs from the setup in its audited gates report: restore it (the report's "
                           "setup is the configuration that was gated)")
        for entry in entries:
            if entry["action"] == PROMOTE and self.approval(entries, entry["details"]["fingerprint"]) is entry:
                try:
                    self._backing(entries, entry)
                except IntegrityError as exc:
                    out.append(str(exc))
        return out


__all__ = ["OVERRIDE", "PROMOTE", "ROLLBACK", "VALIDATION", "ConfigurationApprovals", "check_fingerprint"]
