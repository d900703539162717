"""A live start that Kraken's rate limit refuses waits and reconciles again instead of giving up (against the
emulator, the real ccxt client and the real live broker): it trades once Kraken answers, it ends as before (the
exchange's error, nothing settled, no order sent) when Kraken refuses for longer than ``live.start_wait_seconds``,
and a stop asked for while it waits ends the wait. Bounded in bars and seconds."""

from __future__ import annotations

import logging
import threading

import pytest

from kraken_global.live import start_wait
from kraken_global.live.credentials import Credentials
from kraken_global.live.errors import TemporaryError
from kraken_global.live.state import FINAL
from kraken_global.sessions.configuration_check import OVERRIDE_WORD
from kraken_global.sessions.session import SessionRunner
from kraken_global.sessions.stop import StopRequest
from tests.session_helpers import (
    TRADING_START,
    approve_a_model,
    emulator,
    exchange_orders,
    session_config,
    state_rows,
    wait_until,
)

REFUSED_ROUNDS = 2  # starts refused in full before Kraken answers


def live_runner(server, tmp_path, stop: StopRequest | None = None, **changes) -> SessionRunner:
    config = session_config(server, tmp_path, bars=3).with_overrides({"live.max_attempts": 2, **changes})
    approve_a_model(config.ml.artifacts)
    return SessionRunner(config, "live", Credentials(server.key, server.secret), stop=stop,
                         unapproved_config=OVERRIDE_WORD)


def waits(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "reconciling again in" in r.getMessage()]


def test_a_start_refused_by_the_rate_limit_waits_reconciles_again_and_trades(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="kraken_global.live.start_wait")
    with emulator(start=TRADING_START) as server:
        runner = live_runner(server, tmp_path)
        server.faults.add("OpenOrders", "rate_limit", count=2 * REFUSED_ROUNDS)  # every attempt of two starts
        result = runner.run()
        refused = [f for f in server.faults.injected if f.endpoint == "OpenOrders"]
    assert len(refused) == 2 * REFUSED_ROUNDS
    assert len(waits(caplog)) == REFUSED_ROUNDS and "reconciling again in 1 s" in waits(caplog)[0]
    assert "reconciling again in 2 s" in waits(caplog)[1]
    assert len(result.equity) >= 2, "the session did not trade after its start was let through"
    assert all(r["status"] in FINAL for r in state_rows(runner.config.live.state, "orders"))


def test_a_start_refused_for_longer_than_its_wait_ends_with_the_exchanges_error_and_sends_nothing(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="kraken_global.live.start_wait")
    with emulator(start=TRADING_START) as server:
        runner = live_runner(server, tmp_path, **{"live.start_wait_seconds": 2.5})
        server.faults.add("OpenOrders", "rate_limit", count=100)
        with pytest.raises(TemporaryError, match="rate limited by the exchange"):
            runner.run()
        orders = exchange_orders(server)
    assert [m.split(" (")[0] for m in waits(caplog)] == ["start: Kraken refused a lookup"] * 2  # 1 s, then 1.5 s
    assert "reconciling again in 2 s" in waits(caplog)[1]  # the last pause is cut to what is left (1.5 s)
    assert orders == [] and state_rows(runner.config.live.state, "orders") == []


def test_a_stop_while_the_start_waits_ends_the_wait(tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.WARNING, logger="kraken_global.live.start_wait")
    stop = StopRequest()
    with emulator(start=TRADING_START) as server:
        runner = live_runner(server, tmp_path, stop=stop, **{"live.start_wait_seconds": 600})
        server.faults.add("OpenOrders", "rate_limit", count=100)
        monkeypatch.setattr(start_wait, "FIRST_PAUSE_SECONDS", 600.0)  # one long pause: the stop must cut it short
        outcome: dict = {}

        def run() -> None:
            try:
                runner.run()
            except TemporaryError as exc:
                outcome["error"] = exc

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        wait_until(lambda: waits(caplog), "the start waiting", worker)
        stop.request("test: stop while waiting")
        worker.join(60)
    assert not worker.is_alive(), "the start kept waiting after a stop"
    assert "rate limited" in str(outcome["error"])
    assert len(waits(caplog)) == 1  # the stop ends the pause it came in, not after 600 s


def test_arming_the_dead_mans_switch_refused_by_the_rate_limit_waits_too(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="kraken_global.live.start_wait")
    with emulator(start=TRADING_START) as server:
        runner = live_runner(server, tmp_path)
        assert runner.config.live.dead_mans_switch_seconds
        server.faults.add("CancelAllOrdersAfter", "rate_limit", count=2)  # every attempt of the first arming
        result = runner.run()
        refused = [f for f in server.faults.injected if f.endpoint == "CancelAllOrdersAfter"]
    assert len(refused) == 2 and len(waits(caplog)) == 1
    assert len(result.equity) >= 2, "the session did not trade after the switch was armed"
