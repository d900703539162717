"""The store against the emulator: every fault on order placement ends with exactly one order, or none and a
clear error; credentials never leak.

The emulator runs on a stepped Kraken clock that the store's own waits move, and drops the connection of a reply
the client must miss: no test waits out a deadline or a timeout in real time."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kraken_global.errors import ConfigError
from kraken_global.live.credentials import Credentials, load_credentials
from kraken_global.live.errors import CredentialsError, OrderNotPlaced, OrderRejected, UnknownOrderError
from kraken_global.live.store import KrakenStore, StoreSettings, new_client_order_id


@pytest.fixture
def emulator(stepped_emulator):
    return stepped_emulator


def store_for(emulator, **settings) -> KrakenStore:
    options = {"api_url": emulator.base_url, "timeout_ms": 5000, "enable_rate_limit": False,
               "backoff_seconds": 0.5, "deadline_seconds": 15.0, "deadline_margin_seconds": 5.0,
               "poll_seconds": 0.25, **settings}
    return KrakenStore(Credentials(emulator.key, emulator.secret), StoreSettings(**options),
                       clock=emulator.exchange_clock).start()


def add_order_requests(emulator) -> int:
    return emulator.app.requests.count("AddOrder")


def open_orders(emulator) -> list:
    return [o for o in emulator.exchange.orders[emulator.key].values() if o.status == "open"]


def test_an_order_carries_its_client_id(emulator):
    store = store_for(emulator)
    cid = new_client_order_id()
    order = store.submit_order("BTC/USD", "buy", "limit", 0.01, 1000.0, client_order_id=cid)
    assert order["status"] == "open" and len(cid) <= 18
    assert store.find_by_client_id(cid)["id"] == order["id"]


@pytest.mark.parametrize(("faults", "placed", "requests"), [
    (["lost_response"], True, 1),  # carried out, the reply lost: found by its client id, never sent again
    (["timeout"], False, 1),  # not carried out: proven absent once Kraken's clock passed the deadline; not resent
    (["http_500", "http_500"], False, 1),
    (["rate_limit"], True, 2),  # refused before Kraken acted on it: sending again is safe
    (["rate_limit", "lost_response"], True, 2),
    (["unavailable", "lost_response"], False, 1),
])
def test_faults_on_placement_never_double_the_order(emulator, faults, placed, requests):
    store = store_for(emulator)
    for kind in faults:
        emulator.faults.add("AddOrder", kind)
    if placed:
        order = store.submit_order("BTC/USD", "buy", "limit", 0.01, 1000.0)
        assert [o.txid for o in open_orders(emulator)] == [order["id"]]
    else:
        with pytest.raises(OrderNotPlaced, match="after its deadline"):
            store.submit_order("BTC/USD", "buy", "limit", 0.01, 1000.0)
        assert open_orders(emulator) == []
    assert add_order_requests(emulator) == requests


def test_a_lost_response_on_a_market_order_leaves_one_fill(emulator):
    store = store_for(emulator)
    emulator.faults.add("AddOrder", "lost_response")
    order = store.submit_order("BTC/USD", "buy", "market", 0.01)
    assert order["status"] == "closed" and order["filled"] == pytest.approx(0.01)
    assert len(emulator.exchange.trades[emulator.key]) == 1


def test_the_lookup_itself_survives_faults(emulator):
    store = store_for(emulator)
    emulator.faults.add("AddOrder", "lost_response")
    emulator.faults.add("OpenOrders", "http_500")
    store.submit_order("BTC/USD", "buy", "limit", 0.01, 1000.0)
    assert len(open_orders(emulator)) == 1


def test_a_rejected_order_is_not_retried(emulator):
    store = store_for(emulator)
    with pytest.raises(OrderRejected, match="EOrder:Insufficient funds"):
        store.submit_order("BTC/USD", "buy", "market", 50.0)
    assert add_order_requests(emulator) == 1 and open_orders(emulator) == []


def test_when_the_exchange_stays_down_there_is_no_order_and_a_clear_error(emulator):
    store = store_for(emulator, max_attempts=3)
    emulator.faults.add("AddOrder", "rate_limit", count=3)
    with pytest.raises(OrderNotPlaced, match="could not be placed after 3 attempts"):
        store.submit_order("BTC/USD", "buy", "limit", 0.01, 1000.0)
    assert open_orders(emulator) == [] and add_order_requests(emulator) == 3


def test_reads_are_retried_and_unknown_orders_are_reported(emulator):
    store = store_for(emulator)
    emulator.faults.add("BalanceEx", "rate_limit", count=2)
    assert store.fetch_balance()["USD"]["total"] == 10_000.0
    with pytest.raises(UnknownOrderError):
        store.cancel_order("OXXXXX-XXXXX-XXXXXX")


def test_bad_credentials_fail_fast_and_never_show_the_secret(emulator, caplog):
    wrong = Credentials(emulator.key, "QUJD" * 22)
    store = KrakenStore(wrong, StoreSettings(api_url=emulator.base_url, enable_rate_limit=False,
                                             backoff_seconds=0.01), clock=emulator.exchange_clock).start()
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CredentialsError) as info:
        store.fetch_balance()
    assert emulator.app.requests.count("BalanceEx") == 1  # not retried
    for text in (str(info.value), repr(store), repr(wrong), str(wrong), caplog.text):
        assert wrong.secret not in text and "QUJD" not in text


def test_credentials_come_from_env_or_a_private_file(tmp_path):
    env = {"KRAKEN_API_KEY": "k" * 10, "KRAKEN_API_SECRET": "QUJD" * 22}
    assert load_credentials(environ=env).key == "k" * 10
    with pytest.raises(ConfigError, match="set KRAKEN_API_KEY and KRAKEN_API_SECRET"):
        load_credentials(environ={})
    path = tmp_path / "creds.json"
    path.write_text('{"key": "abc", "secret": "QUJD"}')
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="can be read by others"):
        load_credentials(path)
    path.chmod(0o600)
    assert load_credentials(path).key == "abc"
    with pytest.raises(ConfigError, match="not valid base64"):
        Credentials("abc", "not base64!")


def test_a_relative_or_a_docker_secret_credentials_path_says_how_to_fix_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=f"creds.json not found \\(relative to {tmp_path}: give an absolute path"):
        load_credentials(Path("creds.json"))
    secrets = tmp_path / "run-secrets"  # Docker mounts secrets in /run/secrets, 0444 unless told otherwise
    monkeypatch.setattr("kraken_global.live.credentials.DOCKER_SECRETS", secrets)
    secrets.mkdir()
    (secrets / "kraken").write_text('{"key": "abc", "secret": "QUJD"}')
    (secrets / "kraken").chmod(0o444)
    with pytest.raises(ConfigError, match="unless its `mode` is 0400 with the container's `uid`"):
        load_credentials(secrets / "kraken")
