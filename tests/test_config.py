"""Configs: the shipped YAML equals the defaults, every mistake is reported with its key path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_global.config import BacktestConfig, dump_config, load_config, parse_config
from kraken_global.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_default_yaml_is_exactly_the_built_in_defaults():
    assert load_config(CONFIGS / "default.yaml") == BacktestConfig()


def test_every_shipped_config_is_valid():
    for path in CONFIGS.glob("*.yaml"):
        load_config(path)


def test_all_mistakes_are_reported_at_once_with_their_key_paths(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({
        "broker": {"cash": -5, "feez": 1, "fees": {"preset": "binance"}},
        "data": {"timeframe": "7x", "gaps": {"on_larger_gap": "ignore"}},
        "extra": True,
    }))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"invalid configuration in {path}:")
    for expected in ("broker.cash: Input should be greater than 0", "broker.feez: unknown key",
                     "broker.fees.preset: Input should be 'kraken-legacy', 'kraken-pro' or 'custom'",
                     "data.timeframe: timeframe '7x' is not valid", "data.gaps.on_larger_gap: Input should be",
                     "extra: unknown key"):
        assert expected in message


@pytest.mark.parametrize(("tree", "expected"), [
    ({"universe": {"pairs": ["BTC/USD", "NOPE/USD"]}}, "universe: unknown pair 'NOPE/USD'; known pairs: ADA/USD"),
    ({"universe": {"pairs": []}}, "universe: pairs must list at least one pair"),
    ({"schedule": {"downtime_start": "03:00", "downtime_end": "03:00"}}, "schedule: downtime start and end"),
    ({"data": {"start": "2019-02-01", "end": "2019-01-01"}}, "data: start 2019-02-01 must be before end"),
    ({"strategy": {"name": "baseline", "params": {"fats": 3}}},
     "strategy: unknown parameter(s) fats for strategy 'baseline'"),
    ({"strategy": {"params": {"fast": 3}}}, "strategy: params apply to a single strategy; for the regime system use"),
    ({"strategy": {"per_strategy": {"Foo": {}}}}, "per_strategy: unknown strategy 'Foo'; known: TrendFollower"),
    ({"strategy": {"per_strategy": {"Recovery": {"tranche": 2}}}},
     "unknown parameter(s) tranche for strategy 'Recovery'"),
    ({"strategy": {"name": "Momentum"}}, "strategy.name: Input should be 'regime', 'baseline', 'TrendFollower'"),
    ({"regimes": {"selection": {"RISK_ON": {"TrendFollower": 0.4, "VolatilitySwing": 0.3, "Recovery": 0.3}}}},
     "regimes: RISK_ON: between 1 and 2 strategies may run at once, got 3"),
    ({"regimes": {"selection": {"PANIC": {"DefensiveHedge": 0.8, "Recovery": 0.5}}}},
     "regimes: PANIC: weights must be in (0, 1] and sum to at most 1"),
    ({"regimes": {"after_panic": {"Rebound": 1.0}}}, "regimes: after_panic: unknown strategy Rebound"),
    ({"regimes": {"thresholds": {"breadth_risk_off": 0.7}}}, "regimes.thresholds: breadth_risk_off must not exceed"),
    ({"regimes": {"thresholds": {"trend_days": 0}}}, "regimes.thresholds.trend_days: Input should be greater than 0"),
    ({"broker": {"fees": {"preset": "custom"}}}, "broker.fees: tiers are required with preset 'custom'"),
    ({"broker": {"volume_share": 1.5}}, "broker.volume_share: Input should be less than or equal to 1"),
])
def test_bad_values_name_the_key(tree, expected):
    with pytest.raises(ConfigError) as info:
        parse_config(tree, "test.yaml")
    assert expected in str(info.value)


def test_unreadable_and_malformed_files_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"config .*missing\.yaml does not exist"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("broker: [unclosed\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(listing)


def test_a_partial_selection_map_keeps_the_other_defaults():
    config = parse_config({"regimes": {"selection": {"PANIC": {"Recovery": 1.0}}}})
    assert config.regimes.selection["PANIC"] == {"Recovery": 1.0}
    assert config.regimes.selection["RISK_ON"] == {"TrendFollower": 0.6, "VolatilitySwing": 0.4}


def test_custom_fee_tiers_and_custom_pairs_build():
    config = parse_config({
        "broker": {"fees": {"preset": "custom", "tiers": [
            {"min_volume": 0, "maker_pct": 0.2, "taker_pct": 0.3},
            {"min_volume": 1000, "maker_pct": 0.1, "taker_pct": 0.2}]}},
        "universe": {"pairs": ["BTC/USD", "ATOM/USD"], "custom_pairs": [{
            "symbol": "ATOM/USD", "pair_id": "ATOMUSD", "altname": "ATOMUSD", "pair_decimals": 4,
            "lot_decimals": 8, "ordermin": 0.5, "tick_size": 0.0001}]},
    })
    assert config.broker.fees.schedule().rates(5000) == (0.001, 0.002)
    assert config.universe.build().symbols == ["BTC/USD", "ATOM/USD"]


def test_overrides_are_validated_too():
    config = BacktestConfig().with_overrides({"data.timeframe": "4h", "universe.pairs": ["ETH/USD"]})
    assert config.data.timeframe == "4h" and config.universe.pairs == ("ETH/USD",)
    with pytest.raises(ConfigError, match=r"data\.timeframe"):
        BacktestConfig().with_overrides({"data.timeframe": "soon"})


@settings(max_examples=30, deadline=None)
@given(cash=st.floats(1, 1e9), slippage=st.floats(0, 1000), seed=st.integers(0, 2**31),
       share=st.none() | st.floats(0.001, 1), pairs=st.lists(st.sampled_from(["BTC/USD", "XRP/USD", "DOGE/USD"]),
                                                               min_size=1, unique=True))
def test_dump_and_parse_round_trip(cash, slippage, seed, share, pairs):
    config = parse_config({"broker": {"cash": cash, "slippage_bps": slippage, "volume_share": share},
                           "run": {"seed": seed}, "universe": {"pairs": pairs}})
    assert parse_config(yaml.safe_load(dump_config(config))) == config


def test_the_gap_defaults_are_the_feeds_own():
    from kraken_global.config import GapsConfig
    from kraken_global.feeds.validation import GapPolicy

    assert GapsConfig().policy() == GapPolicy()
