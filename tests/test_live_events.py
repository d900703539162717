"""The moments an operator must hear about are log records an alert sink can pick out (``kg_event`` and plain
``kg_fields``, never a secret), and a session that ends with an order Kraken's records have not settled says so."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from kraken_global.events import EVENTS, emit
from kraken_global.sessions.operate import session_summary
from kraken_global.sessions.session import SessionResult
from kraken_global.sessions.status import format_status
from tests.test_fault_matrix import run_case
from tests.test_fault_matrix import server as server  # the emulator fixture, one for this module too

PLAIN = (str, int, float, bool, type(None))


def events(caplog, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "kg_event", None) == name]


def test_an_unknown_outcome_and_an_unreachable_exchange_are_events(server, caplog):
    caplog.set_level(logging.INFO)
    _, broker, _ = run_case(server, "market", ("lost_reply", "query_lag"))  # found only a bar later
    unknown = events(caplog, "order_unknown")
    assert len(unknown) == 1 and unknown[0].kg_fields["pair"] == "BTC/USD" and unknown[0].levelno == logging.ERROR
    assert unknown[0].kg_fields["cl_ord_id"].startswith("kg")
    server.faults.add("BalanceEx", "unavailable", count=broker.store.settings.max_attempts + 1)
    broker.next()  # every balance read fails: one event
    broker.next()  # and once more: no second event for the same outage
    broker.next()  # it answers again
    assert len(events(caplog, "exchange_unreachable")) == 1 and "the exchange answers again" in caplog.text
    records = [r for r in caplog.records if hasattr(r, "kg_event")]
    assert {r.kg_event for r in records} <= set(EVENTS)
    for record in records:
        assert all(isinstance(v, PLAIN) for v in record.kg_fields.values())
        text = record.getMessage() + repr(record.kg_fields)
        assert server.secret not in text and server.key not in text


def test_a_refused_order_is_an_event_with_its_reason(caplog):
    caplog.set_level(logging.INFO)
    log = logging.getLogger("kraken_global.test")
    emit(log, logging.INFO, "order_refused", "refused %s", "BTC/USD", pair="BTC/USD", reason="downtime",
         size=0.1, when=pd.Timestamp("2024-01-01"))
    (record,) = events(caplog, "order_refused")
    assert record.kg_fields == {"pair": "BTC/USD", "reason": "downtime", "size": 0.1, "when": "2024-01-01 00:00:00"}
    with pytest.raises(ValueError, match="unknown event"):
        emit(log, logging.INFO, "something_else", "x")


def test_a_session_with_an_unsettled_order_says_so_in_its_summary_and_status(tmp_path):
    books = {"closed_pnl": 0.0, "open_pnl": 0.0, "fees": 0.0, "ledger_pnl": 0.0, "end_value": 100.0,
             "start_value": 100.0, "difference": 0.0}
    metrics = {"performance": {"total_return_pct": 0.0, "days": 1, "bars": 24, "annualized_withheld": "short"},
               "trading": {"rejected_orders": 0, "reconciliation": books}}
    result = SessionResult("live", metrics, pd.DataFrame(), pd.DataFrame(), unsettled=["kg0123456789abcdef"])
    summary = session_summary("live", result, tmp_path, Path("log"), "no model")
    assert "1 order(s) with an outcome Kraken's records have not settled: kg0123456789abcdef" in summary
    status = format_status({"state": "finished", "unsettled_orders": ["kg0123456789abcdef"]}, tmp_path)
    assert "UNSETTLED    1 order(s)" in status and "kg0123456789abcdef" in status
    assert "UNSETTLED" not in format_status({"state": "finished", "unsettled_orders": []}, tmp_path)
