"""Pair names in every Kraken spelling, the shipped rules, and precision rounding."""

from __future__ import annotations

import pytest

from kraken_global.errors import UnknownSymbolError
from kraken_global.universe import DEFAULT_UNIVERSE, PairRules, asset_pairs_payload, build_universe, catalog


@pytest.mark.parametrize(("name", "symbol", "pair_id"), [
    ("BTC/USD", "BTC/USD", "XXBTZUSD"), ("XXBTZUSD", "BTC/USD", "XXBTZUSD"), ("XBTUSD", "BTC/USD", "XXBTZUSD"),
    ("xbt/usd", "BTC/USD", "XXBTZUSD"), ("DOGE/USD", "DOGE/USD", "XDGUSD"), ("XDGUSD", "DOGE/USD", "XDGUSD"),
    ("DOGEUSD", "DOGE/USD", "XDGUSD"), ("ETH/USD", "ETH/USD", "XETHZUSD"), ("XRPUSD", "XRP/USD", "XXRPZUSD"),
    ("MATIC/USD", "POL/USD", "POLUSD"), ("MATICUSD", "POL/USD", "POLUSD"), ("POL/USD", "POL/USD", "POLUSD"),
])
def test_names_resolve_both_ways(name, symbol, pair_id):
    universe = catalog()
    assert universe.symbol(name) == symbol
    assert universe.pair_id(name) == pair_id
    assert universe.symbol(universe.pair_id(name)) == symbol


def test_default_universe_is_the_ten_usd_pairs():
    universe = build_universe()
    assert len(universe) == 10 and universe.symbols == list(DEFAULT_UNIVERSE)
    assert "LTC/USD" not in universe and "LTC/USD" in catalog()


def test_unknown_symbol_lists_the_known_ones():
    with pytest.raises(UnknownSymbolError) as info:
        build_universe(["BTC/USD", "FOO/USD"])
    message = str(info.value)
    assert "unknown pair 'FOO/USD'" in message
    for symbol in DEFAULT_UNIVERSE:
        assert symbol in message


def test_pairs_can_be_removed_and_custom_ones_added():
    custom = PairRules("ATOM/USD", "ATOMUSD", "ATOMUSD", "ATOM/USD", "ATOM", "ZUSD", 4, 8, 0.5, 0.5, 0.0001)
    universe = build_universe(["BTC/USD", "ATOMUSD", "btc/usd"], [custom])
    assert universe.symbols == ["BTC/USD", "ATOM/USD"]


def test_shipped_rules_include_the_values_seen_live():
    btc = catalog().resolve("BTC/USD")
    assert (btc.pair_decimals, btc.lot_decimals, btc.ordermin, btc.costmin, btc.tick_size) == (1, 8, 0.00005, 0.5, 0.1)
    doge = catalog().resolve("DOGE/USD")
    assert (doge.pair_decimals, doge.ordermin, doge.tick_size) == (7, 50.0, 0.0000001)
    payload = asset_pairs_payload()
    assert payload["XXBTZUSD"]["altname"] == "XBTUSD" and payload["XXBTZUSD"]["ordermin"] == "0.00005"


def test_size_truncates_and_price_rounds_to_the_tick():
    btc = catalog().resolve("BTC/USD")
    assert btc.round_size(0.123456789) == 0.12345678
    assert btc.round_size(0.3) == 0.3  # no float residue
    assert btc.round_size(0.00399999999999999) == 0.004  # float noise below a lot boundary is not a lost lot
    assert btc.round_size(0.003999995) == 0.00399999  # half a lot short is a real shortfall
    assert btc.round_price(50_000.06, "down") == 50_000.0
    assert btc.round_price(50_000.01, "up") == 50_000.1
    assert btc.round_price(50_000.06) == 50_000.1
    doge = catalog().resolve("DOGE/USD")
    assert doge.round_price(0.123456789, "down") == 0.1234567
    with pytest.raises(ValueError, match="finite"):
        btc.round_size(float("nan"))
