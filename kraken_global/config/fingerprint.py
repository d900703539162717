"""The trading configuration: the part of a config that decides what is traded and at what cost, and its SHA256.

One canonical definition, used wherever a trading setup must be named or compared: the identity of a trial in the
registry's ledger (with the model and the data it ran on), the ``trading_setup`` block of a gates report (what the
gates' backtests traded with, held to the policy's floors), and a trading configuration approved like a model.

What is in it (as plain JSON-ready data): the strategy and its parameters, the regime rules and selection, the
pairs (with any custom pair rules), the timeframe and gap policy, the broker's costs and caps (cash, the fee
schedule resolved to its tiers, slippage, the volume and pair-share caps), the downtime schedule and the live risk
limits. What is not: where files live (data, registry, results, logs), how the run is executed (scheduler,
progress, plotting), the live connection, the reporting-only benchmark, the model (a trial names it by its own
SHA256 and the model fixes its operating point) and the data (named by its own fingerprint). A configuration
approval (:func:`configuration_setup`) binds the benchmark too: its gates compare it with buy-and-hold of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kraken_global.canonical import canonical_sha256

if TYPE_CHECKING:
    from kraken_global.config.loading import BacktestConfig


def trading_setup(config: BacktestConfig) -> dict[str, Any]:
    """The decision-relevant part of ``config`` (see the module docstring), as plain data."""
    broker = config.broker
    schedule = _as_preset(broker.fees.schedule())
    symbols = list(config.universe.build().symbols)
    return _no_minus_zero({
        "strategy": config.strategy.model_dump(mode="json"),
        "regimes": config.regimes.model_dump(mode="json"),
        # as the feeds are named: BTC/USD, XBTUSD, XXBTZUSD and btc/usd are one pair (the order stays: it decides
        # which pair's order a bar handles first)
        "universe": {"pairs": symbols,
                     "custom_pairs": _custom_pairs(config, symbols)},
        "timeframe": config.data.timeframe,
        "gaps": config.data.gaps.model_dump(mode="json"),
        "broker": {
            "cash": broker.cash,
            "fees": {"schedule": schedule.name,
                     "tiers": [{"min_volume": t.min_volume, "maker": t.maker, "taker": t.taker}
                               for t in schedule.tiers]},
            "slippage_bps": broker.slippage_bps,
            "random_slippage_bps": broker.random_slippage_bps,
            "volume_share": broker.volume_share,
            "max_pair_share": broker.max_pair_share,
        },
        # switched off, every moment trades (DowntimeSchedule.state_at): the hours it names decide nothing
        "schedule": config.schedule.model_dump(mode="json") if config.schedule.enabled else {"enabled": False},
        "risk": config.live.risk.model_dump(mode="json"),
    })


def _no_minus_zero(data: Any) -> Any:
    """``data`` with every ``-0.0`` written ``0.0``: it decides as ``0.0`` does (a threshold, a slippage), so it named
    another configuration for nothing (a fresh start past config_max_failed_runs)."""
    if isinstance(data, dict):
        return {key: _no_minus_zero(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_no_minus_zero(value) for value in data]
    return 0.0 if isinstance(data, float) and data == 0 else data


def _as_preset(schedule):
    """The preset a fee schedule charges as, tier for tier (a custom table copied from a preset is that preset: its
    name and its numbers' spelling, 0 or 0.0, decide no fee, so they gave a fresh fingerprint, a fresh start past
    config_max_failed_runs)."""
    from kraken_global.fees import PRESETS

    return next((preset for preset in PRESETS.values() if preset.tiers == schedule.tiers), schedule)


def _custom_pairs(config: BacktestConfig, symbols: list[str]) -> list[dict[str, Any]]:
    """The custom pairs whose rules ``symbols`` trade with (the last one declared for a symbol, as the universe takes
    them), in the order of ``symbols``: one declared and not used decides nothing, so it is no part of the
    configuration (else declaring one gave a fresh fingerprint, a fresh start past config_max_failed_runs)."""
    declared = {pair.symbol: pair.model_dump(mode="json") for pair in config.universe.custom_pairs}
    return [declared[symbol] for symbol in dict.fromkeys(symbols) if symbol in declared]


def trading_fingerprint(config: BacktestConfig) -> str:
    """SHA256 of :func:`trading_setup`: two configs trade alike exactly when their fingerprints are equal."""
    return canonical_sha256(trading_setup(config))


def configuration_setup(config: BacktestConfig) -> dict[str, Any]:
    """What a configuration approval binds: :func:`trading_setup` without the starting cash, with the benchmark.

    A live session trades the account's balance (capped by ``live.capital``), not ``broker.cash``, and every
    strategy sizes in fractions of value; so the cash a backtest started from is not part of the decisions an
    approval vouches for. Everything else is: one parameter changed is another configuration.

    The benchmark (``universe.benchmark``) decides no trade, but the configuration's gates hold it to buy-and-hold
    of that pair (``beats_buy_and_hold``). Left out, a configuration gated against a pair that only lost (or a
    stablecoin) passed, and was then traded under the same approval with BTC/USD as its benchmark: the approval
    binds the rival its gates beat, so another benchmark is another configuration, gated again."""
    setup = trading_setup(config)
    setup["broker"] = {key: value for key, value in setup["broker"].items() if key != "cash"}
    benchmark = config.universe.benchmark_symbol()
    setup["universe"] = {**setup["universe"], "benchmark": benchmark,
                         "custom_pairs": _custom_pairs(config, [*setup["universe"]["pairs"], benchmark])}
    setup["strategy"] = {"name": config.strategy.name, "parameters": strategy_parameters(config)}
    return setup


# set by the run, not chosen: the bar size's bars per year, the model's threshold (its operating point), the
# downtime schedule (in the setup already) and the first bar that may trade
_RUN_PARAMETERS = {"bars_per_year", "min_probability", "schedule", "trade_from"}


def strategy_parameters(config: BacktestConfig) -> dict[str, dict[str, Any]]:
    """Every parameter each strategy of the configuration trades with: the code's defaults with the config's values
    over them. The config names only what it changes, so without this a new release that moved a default (a stop,
    a window) would trade differently under the same approval; with it, that is another configuration, gated again."""
    from kraken_global.strategies import REGIME_STRATEGIES, STRATEGIES

    chosen = config.strategy
    names = list(REGIME_STRATEGIES) if chosen.name == "regime" else [chosen.name]
    out = {}
    for name in names:
        declared = STRATEGIES[name].params
        given = chosen.per_strategy.get(name, {}) if chosen.name == "regime" else chosen.params
        values = {key: getattr(declared, key) for key in declared._getkeys() if key not in _RUN_PARAMETERS}
        out[name] = {key: _plain(value, values.get(key)) for key, value in {**values, **given}.items()}
    return out


def _plain(value: Any, default: Any = None) -> Any:
    """A parameter as JSON can hold it (an object a strategy declares is named by its text), written as its default
    is: a whole number for a decimal parameter (``stop_atr: 3``) and ``-0.0`` trade as ``3.0`` and ``0.0`` do, so they
    name the same configuration (else a spelling escaped its failed gates runs, or lost its approval)."""
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, float) and value == 0:
        value = 0.0
    return value if isinstance(value, str | int | float | bool | type(None)) else repr(value)


def configuration_fingerprint(config: BacktestConfig) -> str:
    """SHA256 of :func:`configuration_setup`: the name of a trading configuration in the registry."""
    return canonical_sha256(configuration_setup(config))
