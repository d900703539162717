"""Shared parts of the paper/live session tests: a fast emulator, a session config, the exchange's ledger."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import datetime
from pathlib import Path

import yaml

from kraken_global.config import BacktestConfig
from kraken_global.emulator import EmulatorServer
from kraken_global.registry import ModelRegistry
from tests.registry_helpers import passed_candidate, relax_policy

PAIRS = ["BTC/USD", "ETH/USD", "XRP/USD"]
SPEED = 20 * 3600  # twenty market hours per wall second
LIVE_BARS = 120
TRADING_START = datetime(2019, 7, 11)  # an emulator started here: the regime system trades from its first live bar
WAIT = 90.0  # seconds a session test waits for one thing the session does


def emulator(**kwargs) -> EmulatorServer:
    # a client gives up after live.timeout_ms (5 s: a busy machine answers slowly, and a timeout taken for an
    # unanswered order is a different test); the emulator drops the connection of a reply a fault withholds, so the
    # client learns at once that it will get none
    return EmulatorServer(speed=SPEED, fault_delay=0.0, **kwargs)


def session_overrides(server: EmulatorServer, tmp_path: Path, bars: int = LIVE_BARS) -> dict:
    """Bounded in bars (``max_bars``) and in seconds (``max_idle_seconds``); no throttle against the emulator."""
    return {
        "universe.pairs": PAIRS, "live.api_url": server.base_url, "live.poll_seconds": 0.05,
        "live.sync_seconds": 0.05, "live.retrain": False, "live.rate_limit": False, "live.timeout_ms": 5000,
        "live.max_bars": bars, "live.max_idle_seconds": 20, "live.state": str(tmp_path / "state.sqlite"),
        "live.logs": str(tmp_path / "logs"), "ml.artifacts": str(tmp_path / "artifacts"),
        "run.out": str(tmp_path / "results"), "live.results": str(tmp_path / "results"),
        "live.record_candles": str(tmp_path / "candles"),
        "live.order_deadline_seconds": 3, "live.deadline_margin_seconds": 1.5, "live.unknown_wait_seconds": 2,
        "live.key_lock_dir": str(tmp_path / "keys"),
    }


def session_config(server: EmulatorServer, tmp_path: Path, bars: int = LIVE_BARS) -> BacktestConfig:
    return BacktestConfig().with_overrides(session_overrides(server, tmp_path, bars))


def write_config_file(server: EmulatorServer, tmp_path: Path, bars: int = LIVE_BARS) -> Path:
    tree: dict = {}
    for dotted, value in session_overrides(server, tmp_path, bars).items():
        node = tree
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    path = tmp_path / "session.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def approve_a_model(artifacts: Path, policy: dict[str, str] | None = None) -> str:
    """Promote a tiny candidate; ``policy``: relax the gate policy first (``relax_policy`` changes)."""
    registry = ModelRegistry(artifacts)
    if policy is not None:
        relax_policy(registry, **policy)
    # a low entry threshold: the tiny test model lets most entries through, so sessions trade
    candidate = passed_candidate(registry, operating_point={"min_probability": 0.05, "horizon_bars": 24})
    registry.promote(candidate, "yes-promote")
    return candidate


def write_credentials(server: EmulatorServer, path: Path) -> Path:
    path.write_text(json.dumps({"key": server.key, "secret": server.secret}))
    path.chmod(0o600)
    return path


def latest_session(tmp_path: Path, mode: str = "live") -> Path:
    """The folder of the last ``mode`` session a CLI run wrote under ``live.results``."""
    return sorted((tmp_path / "results").glob(f"{mode}-*"))[-1]


def exchange_orders(server: EmulatorServer) -> list:
    return list(server.exchange.orders[server.key].values())


def exchange_trades(server: EmulatorServer) -> dict[str, str]:
    """Trade id -> order txid, for every fill the exchange made for the account."""
    return {trade_id: order.txid for order in exchange_orders(server) for trade_id in order.trades}


def state_rows(path: Path, table: str) -> list[dict]:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(f"SELECT * FROM {table}")]
    finally:
        db.close()


def wait_until(condition, what: str, worker: threading.Thread | None = None) -> None:
    """Wait until ``condition()`` holds, at most :data:`WAIT` seconds; fails at once when ``worker`` (the thread
    running the session) ended first."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():
            return
        if worker is not None and not worker.is_alive():
            raise AssertionError(f"the session ended before {what}")
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {WAIT} s")


def refusals(runner, words: str) -> int:
    """How many orders the session's broker refused with ``words`` in the reason."""
    return sum(1 for r in getattr(runner.broker, "rejections", []) if words in r.reason)
