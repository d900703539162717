"""A rollback reaches a running session: its entries are withdrawn while the registry no longer approves the model or
the trading configuration it trades, and come back only when the registry approves them again.

The live test runs the real session against the emulator (the real ccxt client, the real live broker) and rolls the
configuration back the operator's way, through the CLI in another process; the others try the watch's verdicts one
by one: a model rolled back or replaced, a chain edited or deleted, a registry busy with another command. Every wait
is on what the session or the watch did, bounded in seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from kraken_global.config import load_config
from kraken_global.live.credentials import Credentials
from kraken_global.registry import ModelRegistry
from kraken_global.sessions.approval_watch import ApprovalWatch
from kraken_global.sessions.audit_trail import AuditTrail, read_trail
from kraken_global.sessions.controls import SessionControls
from kraken_global.sessions.session import SessionRunner
from kraken_global.sessions.status import StatusBoard
from kraken_global.sessions.stop import StopRequest
from tests.registry_helpers import approved_configuration, passed_candidate
from tests.session_helpers import (
    TRADING_START,
    WAIT,
    approve_a_model,
    emulator,
    exchange_orders,
    refusals,
    wait_until,
    write_config_file,
)

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kraken_global.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def buys_on_exchange(server) -> int:
    return sum(1 for order in exchange_orders(server) if order.side == "buy")


def test_rolling_back_the_configuration_withdraws_a_live_sessions_entries_until_it_is_promoted_again(tmp_path):
    with emulator(start=TRADING_START) as server:
        config_file = write_config_file(server, tmp_path, bars=100_000)
        tree = yaml.safe_load(config_file.read_text())
        tree["live"]["approval_check_seconds"] = 0.2
        config_file.write_text(yaml.safe_dump(tree))
        config = load_config(config_file)
        approve_a_model(config.ml.artifacts)
        fingerprint = approved_configuration(ModelRegistry(config.ml.artifacts), config)
        stop = StopRequest()
        trail = AuditTrail(tmp_path / "session")
        controls = SessionControls(stop, trail)
        board = StatusBoard(tmp_path / "board")
        runner = SessionRunner(config, "live", Credentials(server.key, server.secret), stop=stop, controls=controls,
                               trail=trail, board=board)
        watch = runner.approval_watch
        assert watch.fingerprint == fingerprint and watch.model is not None
        outcome: dict = {}
        worker = threading.Thread(target=lambda: outcome.update(result=runner.run()), daemon=True)
        worker.start()
        registry_args = ("--config", str(config_file))
        try:
            wait_until(lambda: buys_on_exchange(server) > 0 and watch.checks > 0, "a live buy", worker)
            assert not watch.withdrawn
            done = cli("rollback", "--trading-config", *registry_args, "--confirm", "yes-rollback")
            assert done.returncode == 0, done.stderr
            wait_until(lambda: watch.withdrawn, "the withdrawal", worker)
            assert "was rolled back" in watch.reason
            controls.request("resume", "test")  # the operator's resume does not lift what the registry withdrew
            # a buy decided before the withdrawal may still be on its way: count after the session's next bar
            bars = len(runner.journal.snapshot()["t"])
            wait_until(lambda: len(runner.journal.snapshot()["t"]) > bars, "a bar after the withdrawal", worker)
            buys = buys_on_exchange(server)
            status = json.loads(board.path.read_text())
            assert status["approval"]["withdrawn"] and "was rolled back" in status["approval"]["reason"]
            wait_until(lambda: refusals(runner, "approval withdrawn") >= 2, "buys refused while withdrawn", worker)
            assert buys_on_exchange(server) == buys, "the bot bought while its configuration was rolled back"
            done = cli("promote", "--trading-config", *registry_args, "--confirm", "yes-promote")
            assert done.returncode == 0, done.stderr
            wait_until(lambda: not watch.withdrawn, "the approval restored", worker)
            wait_until(lambda: buys_on_exchange(server) > buys, "a buy after the approval came back", worker)
            controls.request("stop", "test")
            worker.join(WAIT)
        finally:
            stop.request("test over")
            worker.join(WAIT)
    assert not worker.is_alive() and outcome["result"].stopped
    actions = [e["action"] for e in read_trail(tmp_path / "session" / "audit.jsonl")]
    assert actions == ["approval_withdrawn", "resume", "approval_restored", "stop"], actions
    assert not watch._thread.is_alive(), "the watch's thread outlived its session"


@pytest.fixture()
def registry(tmp_path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "artifacts")


def watch_of(registry: ModelRegistry, fingerprint: str | None = None, trail: AuditTrail | None = None):
    return ApprovalWatch(registry, registry.state()["approved"], fingerprint, 60.0, trail)


def test_a_model_rolled_back_or_replaced_withdraws_entries_and_its_return_restores_them(registry, tmp_path, caplog):
    first, second, third = (passed_candidate(registry, seed=seed) for seed in (0, 1, 2))
    registry.promote(first, "yes-promote")
    registry.promote(second, "yes-promote")
    trail = AuditTrail(tmp_path / "session")
    watch = watch_of(registry, trail=trail)  # the session loaded the second
    assert watch.check() is None and not watch.withdrawn
    registry.rollback("yes-rollback")
    assert f"model {second} is no longer the approved one ({first} is" in watch.check()
    registry.promote(second, "yes-promote")  # what the session loaded is approved again
    assert watch.check() is None
    registry.promote(third, "yes-promote")  # a newer model: the session trades the one it loaded, so it waits
    assert f"({third} is, since a rollback or promote): restart the session" in watch.check()
    assert watch.checks == 4 and watch.changes == 3
    assert [e["action"] for e in read_trail(tmp_path / "session" / "audit.jsonl")] == [
        "approval_withdrawn", "approval_restored", "approval_withdrawn"]
    events = [getattr(r, "kg_event", None) for r in caplog.records]
    assert events.count("approval_withdrawn") == 2 and events.count("approval_restored") == 1


def test_a_chain_edited_or_deleted_while_the_session_runs_withdraws_its_entries(registry):
    candidate = passed_candidate(registry)
    registry.promote(candidate, "yes-promote")
    watch = watch_of(registry)
    assert watch.check() is None
    log = registry.audit.path
    original = log.read_bytes()
    assert original.count(b"\"passed\":true") == 1
    log.write_bytes(original.replace(b'"passed":true', b'"passed":false', 1))
    assert "cannot be verified" in watch.check()
    log.write_bytes(original)
    assert watch.check() is None
    state = registry.state_file.read_text()
    registry.state_file.write_text(state.replace(candidate, "planted"))  # state.json against the chain
    assert "cannot be verified" in watch.check()
    registry.state_file.write_text(state)
    log.unlink()
    assert "cannot be verified" in watch.check()


def test_a_busy_registry_is_no_verdict_and_a_configuration_started_by_override_is_not_watched(registry, tmp_path):
    from tests.test_configuration_approval import live_config

    candidate = passed_candidate(registry)
    registry.promote(candidate, "yes-promote")
    watch = watch_of(registry)
    watch.registry._lock.timeout = 0.2
    with registry.locked():  # another command (a promote, a retrain's gates record) holds the lock
        assert watch.check() is None and watch.checks == 0
    assert watch.check() is None and watch.checks == 1
    watch.busy_limit = 0.5  # held for longer than any command holds it (300 s in use): stuck, or held on purpose
    with registry.locked():
        assert watch.check() is None  # the first busy check starts the count
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:  # the lock stays held past the limit
            time.sleep(0.05)
        assert "its lock has been held for" in watch.check()
    assert watch.check() is None and watch.checks == 3

    config = live_config(tmp_path, **{"ml.artifacts": str(registry.paths.base)})
    from kraken_global.sessions.configuration_check import OVERRIDE_WORD

    credentials = Credentials("key", "c2VjcmV0")
    overridden = SessionRunner(config, "live", credentials, unapproved_config=OVERRIDE_WORD)
    assert overridden.approval_watch.fingerprint is None and overridden.approval_watch.model is not None
    fingerprint = approved_configuration(registry, config)
    approved = SessionRunner(config, "live", credentials)
    assert approved.approval_watch.fingerprint == fingerprint
    paper = SessionRunner(config, "paper")  # no model, nothing approved at start: nothing to watch
    assert not paper.approval_watch.watching


def test_the_dashboard_shows_a_withdrawn_approval_as_needing_a_look():
    from kraken_global.sessions.dashboard.live import health_rows

    withdrawn = {"state": "running", "approval": {"withdrawn": True, "reason": "model m was rolled back"}}
    assert ["approval", "WITHDRAWN, entries refused: model m was rolled back", False] in health_rows(withdrawn, "-")
    approved = {"state": "running", "approval": {"withdrawn": False, "reason": None, "checks": 3}}
    assert ["approval", "approved (3 checks)", True] in health_rows(approved, "-")
    assert not [row for row in health_rows({"state": "running"}, "-") if row[0] == "approval"]
