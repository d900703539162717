"""The operator's controls on a live session against the emulator (the real ccxt client, the real live broker):
flatten sells through the kill switch's path, leaves the state equal to the exchange and pauses entries (the bot's
buys are refused from then on), stop ends the session cleanly. Every wait is on what the session did, bounded in
seconds.
"""

from __future__ import annotations

import threading

import pandas as pd

from kraken_global.live.credentials import Credentials
from kraken_global.sessions.audit_trail import AuditTrail, read_trail
from kraken_global.sessions.configuration_check import OVERRIDE_WORD
from kraken_global.sessions.controls import SessionControls
from kraken_global.sessions.session import SessionRunner
from kraken_global.sessions.stop import StopRequest
from kraken_global.universe import catalog
from tests.session_helpers import (
    TRADING_START,
    WAIT,
    approve_a_model,
    emulator,
    exchange_trades,
    refusals,
    session_config,
    state_rows,
    wait_until,
)

BASES = ("XXBT", "XETH", "XXRP")


def test_flatten_and_stop_a_live_session_from_its_controls(tmp_path):
    with emulator(start=TRADING_START) as server:
        config = session_config(server, tmp_path, bars=100_000)
        approve_a_model(config.ml.artifacts)
        stop = StopRequest()
        controls = SessionControls(stop, AuditTrail(tmp_path / "session"))
        runner = SessionRunner(config, "live", Credentials(server.key, server.secret), stop=stop, controls=controls,
                               unapproved_config=OVERRIDE_WORD)
        outcome: dict = {}
        worker = threading.Thread(target=lambda: outcome.update(result=runner.run()), daemon=True)
        worker.start()
        account = server.exchange.accounts[server.key]
        try:
            wait_until(lambda: any(account.balances.get(b, 0) > 0 for b in BASES), "a live position", worker)
            controls.request("flatten", "test")  # pauses entries, then sells at the broker's next loop
            wait_until(lambda: controls.flattened == 1, "the flatten", worker)
            held = {b: account.balances.get(b, 0.0) for b in BASES}
            flattened_at = len(runner.journal.snapshot()["t"])
            wait_until(lambda: refusals(runner, "entries paused"), "a buy refused while paused", worker)
            # the refusal can come on the flatten's own bar: wait for a later bar too, so the check below has one
            wait_until(lambda: len(runner.journal.snapshot()["t"]) > flattened_at, "a bar after the flatten", worker)
            controls.request("stop", "test")
            worker.join(WAIT)
        finally:
            stop.request("test over")
            worker.join(WAIT)
        trades = exchange_trades(server)
    assert not worker.is_alive() and outcome["result"].stopped
    result = outcome["result"]
    pair_of = {"XXBT": "BTC/USD", "XETH": "ETH/USD", "XXRP": "XRP/USD"}
    for base, amount in held.items():  # sold whole, but for a remainder the exchange would refuse to sell
        assert amount < catalog().resolve(pair_of[base]).ordermin, f"{pair_of[base]}: {amount} left after flatten"
    live_buys = result.fills[(result.fills["side"] == "buy")]
    assert not live_buys.empty
    assert len(runner.journal.snapshot()["t"]) > flattened_at
    bought_after = result.fills[(result.fills["side"] == "buy")
                                & (pd.to_datetime(result.fills["dt"])
                                   > pd.Timestamp(runner.journal.snapshot()["t"][flattened_at - 1]))]
    assert bought_after.empty, "the bot bought after the flatten paused its entries"
    # every exchange trade, flatten's own included, is in the state once, and the state's orders name their maker
    fills = state_rows(config.live.state, "fills")
    assert sorted(f["trade_id"] for f in fills) == sorted(trades)
    assert any(o["strategy"] == "kill-switch" for o in state_rows(config.live.state, "orders"))
    assert [e["action"] for e in read_trail(tmp_path / "session" / "audit.jsonl")] == ["flatten", "stop"]

