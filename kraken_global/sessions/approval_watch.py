"""A running session keeps asking the registry whether what it trades is still approved.

A session checks the approved model and the trading configuration once, at start. Without a watch, a ``rollback``
(the operator's way of saying "stop trading this") would change nothing until someone restarts the bot, and a
session would go on buying with a model or a configuration nobody vouches for any more. :class:`ApprovalWatch`
re-reads the registry's keyed audit chain every ``live.approval_check_seconds`` on its own thread and withdraws the
session's entries when:

- the approved model is no longer the one the session loaded (a ``rollback``, or a newer model ``promote``-d: the
  session trades what it loaded, so it waits for a restart to trade the new one);
- the trading configuration the session was started on as approved has been rolled back (``rollback
  --trading-config``); a configuration started by the explicit override was never approved and is not watched;
- the chain cannot be verified (edited, deleted, or state.json disagrees with it): nothing vouches for anything;
  a check that fails for any other reason (a bug, a line that breaks the parser) withdraws them the same way: the
  watch fails closed, it never keeps trading on the verdict it had before.

Withdrawn means what the operator's pause means: the broker refuses every buy, exits and the kill switch go on,
open positions are kept (selling them is a trading decision: ``flatten`` from the dashboard does it). Unlike the
operator's pause, ``resume`` does not lift it: only the registry can, when the same model and configuration are
approved again. Each change is a log line, an alert event (``approval_withdrawn`` / ``approval_restored``) and a
line in the session's audit trail. A registry busy with another command (its lock) is no verdict: the check is
tried again at the next interval, after reading the chain without the lock: a rollback it already holds withdraws
the entries at once (whoever grabs the lock as the rollback releases it cannot delay it); and a lock held for longer
than :data:`BUSY_LIMIT_SECONDS` (every command holds it for moments) is treated as a chain that cannot be verified,
so whoever can hold the lock cannot keep a rolled-back session trading.

The checks run on their own thread so that a slow disk or a registry lock never holds up the bar loop; the
broker only reads :attr:`ApprovalWatch.withdrawn`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kraken_global.events import event_extra
from kraken_global.registry.approvals import approval_entries
from kraken_global.registry.configurations import ConfigurationApprovals
from kraken_global.registry.errors import RegistryBusy
from kraken_global.registry.model_registry import ModelRegistry
from kraken_global.sessions.audit_trail import AuditTrail

log = logging.getLogger("kraken_global.session")
REASON_CHARS = 400  # a reason quotes files whoever may write the artifacts folder wrote: bounded in every output
BUSY_LIMIT_SECONDS = 300.0  # a registry locked this long without a break is not "busy", it is stuck or held


class ApprovalWatch:
    """Whether the model and the configuration a session trades are still approved; see the module docstring.

    ``model``: the approval the session loaded (``{"id", "sha256"}``), None when it trades no approved model;
    ``fingerprint``: the trading configuration to watch, None when it was not approved at start (paper, or the
    override); ``registry``: the session's registry (the watch opens its own instance of it, whose lock waits
    briefly: a busy registry is tried again at the next interval).
    """

    def __init__(self, registry: ModelRegistry, model: dict[str, Any] | None, fingerprint: str | None,
                 interval_seconds: float, trail: AuditTrail | None = None,
                 on_change: Callable[[str | None], None] | None = None) -> None:
        self.registry = ModelRegistry(registry.paths.base, registry.paths.namespace, lock_timeout=5.0,
                                      key_dir=registry.keys.folder)
        self._root = self._identity()  # the namespace folder the session started on (a replaced one is not it)
        self.model = {"id": model["id"], "sha256": model["sha256"]} if model else None
        self.fingerprint = fingerprint
        self.interval = interval_seconds
        self.trail = trail
        self.on_change = on_change
        self.reason: str | None = None  # why entries are withdrawn; None: everything traded is approved
        self.checks = 0  # completed verdicts (a busy registry is not one)
        self.changes = 0
        self.busy_limit = BUSY_LIMIT_SECONDS
        self._busy_since: float | None = None
        self._checked = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def watching(self) -> bool:
        return self.model is not None or self.fingerprint is not None

    @property
    def withdrawn(self) -> bool:
        return self.reason is not None

    # -- one check ---------------------------------------------------------------------------------------------

    def _identity(self) -> tuple[str, int, int] | None:
        """Where the namespace folder resolves to and which folder it is (device, inode); None: it is gone."""
        root = self.registry.paths.root
        try:
            info = root.stat()
        except OSError:
            return None
        return str(root.resolve()), info.st_dev, info.st_ino

    def verdict(self) -> str | None:
        """Why the session's entries must be withdrawn now (None: still approved); raises RegistryBusy."""
        root = self.registry.paths.root
        if root.is_symlink() or self._identity() != self._root:
            # a copy taken before a rollback, put in place through a symlink (which resolves elsewhere, so the chain
            # verifies it as a fresh copy of the original) or as another folder, is not the registry the session
            # started on; nothing is read or written there
            return (f"the registry's audit chain cannot be verified: the namespace folder {root} was replaced "
                    f"(a symlink, or another folder) while the session ran")
        try:
            entries = self.registry.recovered_entries()
            self.registry.checked_state(entries)
        except RegistryBusy:
            raise
        except Exception as exc:  # edited, deleted, unreadable, unparseable (a line nested past the recursion
            # limit raises RecursionError): whatever stops the chain from being read, nothing vouches
            return f"the registry's audit chain cannot be verified: {type(exc).__name__}: {exc}"
        return self._judged(entries)

    def _judged(self, entries: list[dict[str, Any]]) -> str | None:
        """The verdict of a verified chain on the model and the configuration the session trades."""
        if self.model is not None:
            stack = approval_entries(entries)
            now = {"id": stack[-1]["details"]["id"], "sha256": stack[-1]["details"]["sha256"]} if stack else None
            if now is None:
                return f"model {self.model['id']} was rolled back and no model is approved"
            if now != self.model:
                return (f"model {self.model['id']} is no longer the approved one ({now['id']} is, since a rollback "
                        "or promote): restart the session to trade the approved model")
        if self.fingerprint is not None and \
                ConfigurationApprovals(self.registry).approval(entries, self.fingerprint) is None:
            return (f"trading configuration {self.fingerprint[:12]} was rolled back: gate and promote it again, "
                    "or restart on an approved one")
        return None

    def _unlocked_verdict(self) -> str | None:
        """While the lock is held: the verified chain read without it (a command holding the lock only appends
        whole, signed lines, and a torn last line is no entry), for a withdrawal only; a chain that does not verify
        this way, or that still approves, is no verdict (the locked check decides, or the busy limit)."""
        try:
            entries = self.registry.audit.verify_entries()
        except Exception:
            return None
        return self._judged(entries)

    def check(self) -> str | None:
        """Run one check and act on a change; returns the reason entries are withdrawn (None: approved)."""
        try:
            reason = self.verdict()
            self._busy_since = None
        except RegistryBusy as exc:
            now = time.monotonic()
            self._busy_since = now if self._busy_since is None else self._busy_since
            unlocked = self._unlocked_verdict()
            if unlocked is not None:  # the chain already says it: whoever holds the lock cannot delay a rollback
                reason = unlocked
            elif now - self._busy_since < self.busy_limit:
                log.info("approval check skipped: %s", exc)
                return self.reason
            else:
                reason = (f"the registry's audit chain cannot be verified: its lock has been held for "
                          f"{now - self._busy_since:.0f} s ({exc})")
        except Exception as exc:  # a bug or a chain that breaks the reading: fail closed, never keep the last verdict
            log.exception("approval check failed")
            self._busy_since = None
            reason = f"the approval check failed: {type(exc).__name__}: {exc}"
        if reason is not None and len(reason) > REASON_CHARS:
            reason = reason[:REASON_CHARS] + " [...]"
        with self._checked:  # the broker acts on the verdict first; telling about it cannot hold it back
            changed = reason != self.reason
            self.reason = reason
            self.checks += 1
            self._checked.notify_all()
        if changed:
            self._announce(reason)
        return reason

    def _announce(self, reason: str | None) -> None:
        self.changes += 1
        if reason is not None:
            log.error("approval withdrawn: %s; new entries refused (exits go on; flatten from the dashboard to sell)",
                      reason, extra=event_extra("approval_withdrawn", reason=reason))
        else:
            log.warning("approval restored: the model and configuration this session trades are approved again; "
                        "new entries resume", extra=event_extra("approval_restored"))
        try:  # a trail that cannot be written (a full disk) must not undo the withdrawal: it is already in force
            if self.trail is not None:
                self.trail.append("approval_withdrawn" if reason else "approval_restored", "registry",
                                  result=reason or "approved again")
            if self.on_change is not None:
                self.on_change(reason)
        except Exception:
            log.exception("approval %s, but telling about it failed", "withdrawn" if reason else "restored")

    # -- the thread --------------------------------------------------------------------------------------------

    def start(self) -> None:
        if not self.watching or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="approval-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:  # the first check at once: a rollback while the session was building is not left for later
            try:
                self.check()
            except Exception:  # check() already withdrew on a failed verdict; this must not end the thread either
                log.exception("approval check failed; trying again in %.0f s", self.interval)
            if self._stop.wait(self.interval):
                return

    def wait_checks(self, count: int, timeout: float) -> bool:
        """Block until ``count`` verdicts were reached (tests wait on this, not on time)."""
        with self._checked:
            return self._checked.wait_for(lambda: self.checks >= count, timeout)

    def state(self) -> dict[str, Any]:
        return {"withdrawn": self.withdrawn, "reason": self.reason, "checks": self.checks,
                "model": (self.model or {}).get("id"),
                "configuration": self.fingerprint[:12] if self.fingerprint else None}
