"""Attacks on the approval watch: after a rollback, a running session must not open new positions, whatever someone
with write access to the artifacts folder (or an impatient operator) does. Each test is bounded in seconds; waits
are on the watch's own counters, never on guessed sleeps.
"""

from __future__ import annotations

import shutil
import threading

import pytest

from kraken_global.registry import ModelRegistry
from kraken_global.registry.configurations import ConfigurationApprovals
from kraken_global.sessions.approval_watch import ApprovalWatch
from kraken_global.sessions.audit_trail import AuditTrail
from tests.registry_helpers import passed_candidate

FINGERPRINT = "ab" * 32


@pytest.fixture()
def registry(tmp_path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "artifacts")


def approved_fingerprint(registry: ModelRegistry, fingerprint: str = FINGERPRINT) -> str:
    approvals = ConfigurationApprovals(registry)
    approvals.record_validation(fingerprint, {"kind": "trading_configuration", "fingerprint": fingerprint,
                                              "setup": {}, "gates": [], "passed": True,
                                              "policy_sha256": registry.policy().sha256()})
    approvals.promote(fingerprint, "yes-promote")
    return fingerprint


def watching(registry: ModelRegistry, trail: AuditTrail | None = None, interval: float = 60.0) -> ApprovalWatch:
    candidate = passed_candidate(registry)
    registry.promote(candidate, "yes-promote")
    fingerprint = approved_fingerprint(registry)
    watch = ApprovalWatch(registry, registry.state()["approved"], fingerprint, interval, trail)
    assert watch.check() is None
    return watch


def test_a_line_the_json_parser_cannot_take_withdraws_entries_instead_of_killing_every_check(registry):
    """A line nested deeper than the parser's recursion limit raised RecursionError, which the verdict did not
    catch: every check failed in the thread's catch-all, ``reason`` stayed None and the session kept buying after
    the rollback it was never told about."""
    watch = watching(registry)
    ConfigurationApprovals(registry).rollback(FINGERPRINT, "yes-rollback")
    with open(registry.audit.path, "ab") as handle:  # whoever may write the artifacts folder
        handle.write(b"[" * 200_000 + b"]" * 200_000 + b"\n")
    reason = watch.check()
    assert watch.withdrawn and "cannot be verified" in reason

def test_any_failure_inside_a_check_withdraws_entries_on_the_thread(registry, monkeypatch):
    """The thread's catch-all kept the session trading on whatever verdict it had before the failure."""
    watch = watching(registry, interval=0.05)

    def broken():
        raise KeyError("details")

    monkeypatch.setattr(watch, "verdict", broken)
    watch.start()
    try:
        assert watch.wait_checks(2, timeout=10)
    finally:
        watch.stop()
    assert watch.withdrawn and "check failed" in watch.reason

def test_a_trail_that_cannot_be_written_does_not_keep_the_session_buying(registry, tmp_path):
    """The change was announced (trail, alert) before ``reason`` was set: a trail that raised (a full disk, say)
    left the session approved after the rollback, at every check."""
    trail = AuditTrail(tmp_path / "session")
    watch = watching(registry, trail)
    trail.path.parent.mkdir(parents=True, exist_ok=True)
    trail.path.mkdir()  # writing the trail fails (IsADirectoryError), as on a full disk
    ConfigurationApprovals(registry).rollback(FINGERPRINT, "yes-rollback")
    assert "was rolled back" in watch.check()  # the failed trail is logged; the verdict stands
    assert watch.withdrawn and watch.changes == 1

def test_the_namespace_swapped_for_a_symlink_to_an_old_copy_does_not_bring_the_approval_back(registry, tmp_path):
    """A copy taken before the rollback, put where the namespace was through a symlink, verified as a fresh copy of
    the original (the symlinked path resolves elsewhere): the watch saw the configuration approved again."""
    watch = watching(registry)
    root = registry.paths.root
    old = tmp_path / "old" / root.name
    shutil.copytree(root, old)  # taken while the configuration was approved
    ConfigurationApprovals(registry).rollback(FINGERPRINT, "yes-rollback")
    assert "was rolled back" in watch.check()
    root.rename(tmp_path / "rolled-back")
    root.symlink_to(old, target_is_directory=True)
    reason = watch.check()
    assert watch.withdrawn, "the rolled-back configuration was approved again by a symlinked old copy"
    assert "was rolled back" in reason or "cannot be verified" in reason

def test_a_copy_put_in_place_of_the_namespace_folder_is_not_the_registry_the_session_started_on(registry, tmp_path):
    """The same with the whole artifacts folder's namespace replaced by a moved directory tree."""
    watch = watching(registry)
    root = registry.paths.root
    old = tmp_path / "elsewhere" / root.name
    shutil.copytree(root, old)
    ConfigurationApprovals(registry).rollback(FINGERPRINT, "yes-rollback")
    root.rename(tmp_path / "rolled-back")
    shutil.copytree(old, root)  # same path: the anchor records more entries than the copy has
    assert "cannot be verified" in watch.check()

def test_a_lock_held_right_after_the_rollback_does_not_give_the_session_five_more_minutes(registry):
    """Whoever can open registry.lock grabbed it as the rollback released it: every check was "busy" and the session
    kept buying until BUSY_LIMIT_SECONDS (300 s) had passed. The chain itself says the configuration was rolled back
    and can be read without the lock."""
    watch = watching(registry)
    watch.registry._lock.timeout = 0.2
    ConfigurationApprovals(registry).rollback(FINGERPRINT, "yes-rollback")
    with registry.locked():
        reason = watch.check()
    assert watch.withdrawn and "was rolled back" in reason

def test_a_model_promoted_while_the_session_loads_is_not_taken_for_the_one_it_trades(tmp_path, monkeypatch):
    """The session loaded the approved model, then read state.json again for what to watch: a promote landing in
    between (an impatient operator) made the watch guard the new model while the session traded the old one."""
    from kraken_global.live.credentials import Credentials
    from kraken_global.registry.store import RegistryStore
    from kraken_global.sessions.configuration_check import OVERRIDE_WORD
    from kraken_global.sessions.session import SessionRunner
    from tests.test_configuration_approval import live_config

    config = live_config(tmp_path)
    registry = ModelRegistry(config.ml.artifacts)
    first, second = passed_candidate(registry, seed=0), passed_candidate(registry, seed=1)
    registry.promote(first, "yes-promote")
    real = RegistryStore.load_candidate
    promoted = threading.Event()

    def load_then_promote(self, *args, **kwargs):
        loaded = real(self, *args, **kwargs)
        if not promoted.is_set():
            promoted.set()
            ModelRegistry(config.ml.artifacts).promote(second, "yes-promote")  # lands while the session starts
        return loaded

    monkeypatch.setattr(RegistryStore, "load_candidate", load_then_promote)
    runner = SessionRunner(config, "live", Credentials("key", "c2VjcmV0"), registry=registry,
                           unapproved_config=OVERRIDE_WORD)
    assert promoted.is_set()
    assert runner.approval_watch.model["id"] == first, "the watch guards a model the session does not trade"
    assert "no longer the approved one" in runner.approval_watch.check()


# -- attacks that held (kept as regression tests) --------------------------------------------------------------


def test_rolling_back_then_promoting_another_configuration_keeps_the_sessions_entries_withdrawn(registry):
    watch = watching(registry)
    approvals = ConfigurationApprovals(registry)
    approvals.rollback(FINGERPRINT, "yes-rollback")
    approved_fingerprint(registry, "cd" * 32)  # at once, before the next check: another configuration
    assert "was rolled back" in watch.check()


def test_the_same_model_id_on_another_sha256_is_not_the_model_the_session_loaded(registry):
    watch = watching(registry)
    watch.model = {**watch.model, "sha256": "0" * 64}
    assert "is no longer the approved one" in watch.check()


def test_a_truncated_chain_withdraws_entries(registry):
    watch = watching(registry)
    ConfigurationApprovals(registry).rollback(FINGERPRINT, "yes-rollback")
    data = registry.audit.path.read_bytes()
    registry.audit.path.write_bytes(data[: data.rstrip(b"\n").rfind(b"\n") + 1])  # the rollback line cut off
    assert "truncated" in watch.check()


def test_a_paper_session_trading_the_approved_model_watches_it(tmp_path):
    from tests.test_configuration_approval import live_config

    config = live_config(tmp_path, **{"ml.use_model": "approved"})
    registry = ModelRegistry(config.ml.artifacts)
    first, second = passed_candidate(registry, seed=0), passed_candidate(registry, seed=1)
    registry.promote(first, "yes-promote")
    registry.promote(second, "yes-promote")
    from kraken_global.sessions.session import SessionRunner

    watch = SessionRunner(config, "paper", registry=registry).approval_watch
    assert watch.model["id"] == second and watch.fingerprint is None and watch.watching
    registry.rollback("yes-rollback")
    assert f"model {second} is no longer the approved one ({first} is" in watch.check()


def test_a_reason_quoting_a_planted_file_is_bounded_in_the_alert_the_trail_and_status(registry):
    """state.json's approved id is quoted in the reason: a planted megabyte of text went into the log line, every
    alert sink, the session's trail and status.json at every bar."""
    watch = watching(registry)
    state = registry.state_file.read_text()
    planted = state.replace(registry.state()["approved"]["id"], "ALL GOOD, approval restored. " * 40_000)
    registry.state_file.write_text(planted)
    reason = watch.check()
    assert watch.withdrawn and "cannot be verified" in reason and len(reason) <= 410
