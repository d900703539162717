"""Gate a trading configuration, with no model: ``kraken-global gates --trading-config``.

The defaults of this project were shaped on 2017-2019 and lost 16% on 2021-2022 while their own SMA baseline made
69%. A configuration (strategy parameters, regime thresholds, slots, risk, costs) decides more than any model, so
it earns its approval the same way: out of sample, under the namespace's policy, in the keyed chain.

A configuration is gated over the grid it was chosen from (``--set KEY=V1,V2,...``; the configuration's own value
is added to each axis when missing): the question is not "did this point do well" (it was picked knowing how it
did) but "does choosing this way hold up out of sample". So the gates read the walk-forward optimization of that
grid (:mod:`kraken_global.runners.optimize`) and the grid's PBO:

1. ``out_of_sample_days``: the stitched out-of-sample legs span at least the policy's ``min_oos_days``;
2. ``walk_forward_sharpe``: their Sharpe is at least ``config_min_oos_sharpe``;
3. ``pbo``: the grid's probability of backtest overfitting is at most ``config_max_pbo`` (a PBO that cannot be
   computed, with fewer than 10 points or too few days, fails);
4. ``survives_2x_costs``: the same legs at twice the fees and slippage keep a positive Sharpe and return;
5. ``beats_sma_baseline`` and ``beats_buy_and_hold``: a higher Sharpe than the SMA baseline strategy and than
   buying and holding the benchmark, on the same out-of-sample legs (each leg starts flat).
6. ``earlier_failures``: the configuration failed its gates at most ``config_max_failed_runs`` times before (the
   walk-forward's windows, the PBO's splits, the grid and the period are the run's own settings: without a cap, a
   configuration could be gated again under other settings until one run passed). ``promote`` counts again.

The model is switched off for the run (``ml.use_model: none``): a model is gated on its own. The trading setup
(costs and caps) is held to the policy's floor first, as for a model. The report binds the configuration's
fingerprint and setup, the grid, the policy and the data read, and the registry audits it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kraken_global.config import BacktestConfig, StrategyConfig
from kraken_global.config.fingerprint import configuration_fingerprint, configuration_setup
from kraken_global.distributed import run_tasks
from kraken_global.errors import ConfigError
from kraken_global.gating.policy import GatePolicy
from kraken_global.gating.trading_setup import check_setup, setup_record
from kraken_global.registry import ModelRegistry
from kraken_global.registry.configurations import ConfigurationApprovals, failure_cap_refusal, failures_elsewhere
from kraken_global.research.costs import return_figures
from kraken_global.runners.grid import Grid

KIND = "trading_configuration"


# What a configuration chooses, so what its grid may vary: these config keys and what is under them. Not the costs
# (the market's: the walk-forward trades the point it chooses in each out-of-sample leg, so an axis over fees or
# slippage had the legs trade the cheapest, below the floor the policy holds the configuration's own costs to), not
# the benchmark (the rival its gates compare with: each leg held the chosen point's buy-and-hold), and nothing
# outside the configuration (a seed, a data folder, the model, the cash, the research settings): points that
# differ only there are one configuration, so such an axis chose among data or models under the configuration's
# name, or doubled the columns PBO counts.
GRID_KEYS = ("strategy", "regimes", "universe.pairs", "universe.custom_pairs", "data.timeframe", "data.gaps",
             "broker.max_pair_share", "schedule", "live.risk")
COST_KEYS = ("broker.fees", "broker.slippage_bps", "broker.random_slippage_bps", "broker.volume_share")
RIVAL_KEY = "universe.benchmark"


def _under(key: str, prefixes: tuple[str, ...]) -> bool:
    return any(key == prefix or key.startswith(f"{prefix}.") for prefix in prefixes)


def check_grid_keys(grid: Grid) -> None:
    """Refuse (ConfigError, one line) a ``--set`` key that is no choice of the configuration (see GRID_KEYS)."""
    for key in grid.keys:
        if _under(key, COST_KEYS):
            raise ConfigError(f"--set {key}: costs are the market's, not a choice of the configuration (the "
                              "walk-forward would trade the cheapest in its out-of-sample legs); gate it at its own "
                              "costs, which the policy holds to its floor")
        if _under(key, (RIVAL_KEY,)):
            raise ConfigError(f"--set {key}: the benchmark is the rival the gates compare with (buy-and-hold), not a "
                              "choice; set universe.benchmark in the config")
        if not _under(key, GRID_KEYS):
            raise ConfigError(f"--set {key} is not part of the trading configuration: points that differ only there "
                              "are one configuration, so the grid would choose among something else under its name. "
                              f"Vary what the configuration decides: {', '.join(GRID_KEYS)}")


def value_at(config: BacktestConfig, key: str) -> Any:
    """The configuration's value at a dotted ``--set`` key; a ConfigError when the config does not set it."""
    node: Any = config.model_dump(mode="json")
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"--set {key}: the configuration sets no value there, so the grid cannot contain it; "
                              f"set {key} in the config (the value it trades with)")
        node = node[part]
    return node


def grid_with_configuration(config: BacktestConfig, grid: Grid) -> tuple[Grid, dict[str, Any]]:
    """``grid`` with the configuration's own value on every axis (added last where missing), and what was added.

    Refuses a key that is no choice of the configuration (:func:`check_grid_keys`), and a grid whose point of the
    configuration's own values is not the configuration: a value equal to the configuration's by ``==`` is not
    always the same (``60.0`` for a whole-number ``fast: 60`` is refused by the config checks, so the configuration
    itself never ran, yet nothing was added)."""
    check_grid_keys(grid)
    axes, added, own_point = {}, {}, {}
    for key, values in grid.to_dict().items():
        own = value_at(config, key)
        same = [value for value in values if value == own]
        axes[key] = list(values) if same else [*values, own]
        own_point[key] = same[0] if same else own
        if not same:
            added[key] = own
    try:
        holds = configuration_fingerprint(config.with_overrides(own_point)) == configuration_fingerprint(config)
    except ConfigError:
        holds = False
    if not holds:
        raise ConfigError(f"the grid does not hold the configuration itself: its point {own_point} is not the "
                          "configuration (refused, or another one); write each --set value that stands for the "
                          "configuration's own exactly as the config has it")
    return Grid.from_dict(axes), added


def gated_config(config: BacktestConfig) -> BacktestConfig:
    """The configuration as its gates run it: without a model."""
    return config.with_overrides({"ml.use_model": "none"}) if config.ml.use_model != "none" else config


def _gate(name: str, passed: bool, detail: str, **values: Any) -> dict[str, Any]:
    return {"name": name, "passed": bool(passed), "detail": detail, **values}


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def configuration_gates(policy: GatePolicy, walk: dict[str, Any], baseline: dict[str, Any]) -> list[dict[str, Any]]:
    """Each gate from the walk-forward's figures (``WalkForwardResult.to_dict()``) and the baseline's."""
    stitched = walk["stitched"]
    sharpe, days = stitched["sharpe"], stitched["days"]
    gates = [_gate("out_of_sample_days", days >= policy.min_oos_days,
                   f"{days} stitched out-of-sample days (policy min_oos_days {policy.min_oos_days})", days=days),
             _gate("walk_forward_sharpe", _finite(sharpe) and sharpe >= policy.config_min_oos_sharpe,
                   f"walk-forward out-of-sample Sharpe {sharpe:.2f} (policy config_min_oos_sharpe "
                   f"{policy.config_min_oos_sharpe:g})", value=sharpe)]
    pbo = walk["pbo"]
    if pbo.get("pbo") is None:
        gates.append(_gate("pbo", False, f"PBO could not be computed: {pbo.get('refused', pbo)}"))
    else:
        gates.append(_gate("pbo", pbo["pbo"] <= policy.config_max_pbo,
                           f"PBO {pbo['pbo']:.2f} over {pbo['configurations']} configurations (policy config_max_pbo "
                           f"{policy.config_max_pbo:g})", value=pbo["pbo"]))
    survives = bool(walk["cost_stress"]["survives_2x_costs"])
    gates.append(_gate("survives_2x_costs", survives or not policy.config_survive_2x_costs,
                       ("the edge survives 2x costs" if survives else "the edge does NOT survive 2x costs")
                       + ("" if policy.config_survive_2x_costs else " (not required by the policy)")))
    for name, rival, label, required in (
            ("beats_sma_baseline", baseline, "the SMA baseline", policy.config_beat_baseline),
            ("beats_buy_and_hold", walk.get("buy_and_hold"), "buy-and-hold", policy.config_beat_buy_and_hold)):
        if rival is None or not _finite(rival.get("sharpe")):
            beaten, detail = False, f"no Sharpe of {label} on the same days"
        else:
            beaten = _finite(sharpe) and sharpe > rival["sharpe"]
            detail = f"Sharpe {sharpe:.2f} against {label}'s {rival['sharpe']:.2f} on the same out-of-sample legs"
        gates.append(_gate(name, beaten or not required, detail + ("" if required else " (not required by the "
                                                                                       "policy)")))
    return gates


def earlier_failures_gate(policy: GatePolicy, fingerprint: str, failed: list[int],
                          elsewhere: dict[str, int] | None = None) -> dict[str, Any]:
    """Whether the configuration failed its gates more often than ``config_max_failed_runs`` before this run, here
    (audit lines ``failed``) and in the other namespaces of the artifacts folder (``elsewhere``): the research
    settings (windows, PBO splits, grid, period) are the gates run's own, so without a cap a configuration could be
    gated again and again under other settings, or in a new namespace, until one run passed."""
    elsewhere = elsewhere or {}
    cap = policy.config_max_failed_runs
    values = {"failed_runs": failed, "failed_elsewhere": elsewhere}
    refusal = failure_cap_refusal(fingerprint, failed, elsewhere, cap)
    if refusal is not None:
        return _gate("earlier_failures", False, refusal, **values)
    lines = f" (audit line(s) {', '.join(map(str, failed))})" if failed else ""
    others = "".join(f", {count} in namespace {name}" for name, count in sorted(elsewhere.items()))
    limit = "no cap (config_max_failed_runs none)" if cap is None else f"at most {cap}"
    total = len(failed) + sum(elsewhere.values())
    return _gate("earlier_failures", True, f"{total} earlier failed gates run(s) of this configuration{lines}{others}; "
                                           f"{limit}", **values)


def distinct_pbo(walk_pbo: dict[str, Any], matrix: np.ndarray, splits: int) -> dict[str, Any]:
    """The grid's PBO over its distinct configurations: columns of the sweep with the same daily returns count once.

    An axis the backtests never meet (``live.risk`` acts only in sessions; the regime rules under a single
    strategy) gives each point a twin with the very same returns: five configurations and such an axis made the ten
    columns PBO asks for, so a PBO was computed where it means nothing (fewer than ten) and passed. ``walk_pbo``
    (the walk-forward's, over every column) is kept when no two columns are equal."""
    from kraken_global.research.pbo import pbo
    from kraken_global.runners.stress import or_refusal

    if matrix.ndim != 2 or not matrix.shape[1]:
        return walk_pbo
    _, first = np.unique(matrix, axis=1, return_index=True)
    if len(first) == matrix.shape[1]:
        return walk_pbo
    distinct = matrix[:, np.sort(first)]
    return {**or_refusal(lambda: pbo(distinct, splits).to_dict()), "identical_points": matrix.shape[1] - len(first),
            "note": f"{matrix.shape[1] - len(first)} point(s) of the grid traded exactly like another and count once"}


def baseline_legs(config: BacktestConfig, windows: list[Any], client=None) -> dict[str, Any]:
    """The SMA baseline traded fresh on each out-of-sample leg of the walk-forward, stitched."""
    from kraken_global.runners.optimize import leg_config, run_legs

    baseline = config.model_copy(update={"strategy": StrategyConfig(name="baseline")})
    jobs = [[leg_config(baseline, {}, w.in_sample_end, w.out_of_sample_last_day)] for w in windows]
    legs = run_tasks(run_legs, jobs, client, label="baseline-legs")
    returns = np.concatenate([leg[0]["daily"] for leg in legs])
    return {"strategy": "baseline", **return_figures(returns)}


def check_resumed_sweep(config: BacktestConfig, grid: Grid, out: Path, registry: ModelRegistry) -> None:
    """Refuse, before any data is read, to resume a sweep folder holding points the registry did not run (the
    sweep itself refuses them too: :func:`~kraken_global.runners.sweep.refuse_unvouched_points`)."""
    from kraken_global.registry.trials import TrialLedger
    from kraken_global.runners.sweep import refuse_unvouched_points, sweep_manifest
    from kraken_global.runners.sweep_store import SweepStore

    store = SweepStore(out)
    if not store.points_file.exists() and not store.points_file.is_symlink():
        return
    identity = sweep_manifest(config, grid)["identity"]
    manifest = store.manifest()
    if manifest is not None and manifest.get("identity") != identity:
        return  # another sweep's folder: the sweep refuses to mix them, saying so
    refuse_unvouched_points(store, identity, TrialLedger(registry))


def gate_configuration(config: BacktestConfig, grid: Grid, out: Path, registry: ModelRegistry | None = None,
                       client=None, on_done: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Gate ``config`` over ``grid`` (its walk-forward kept in ``out``), record the audited report, return it.
    Raises PolicyViolation before any backtest when its trading setup is looser than the policy's floor."""
    from kraken_global.assembly.inputs import RunInputs
    from kraken_global.gating.candidates import registry_for
    from kraken_global.runners.optimize import walk_forward
    from kraken_global.runners.sweep_store import SweepStore

    registry = registry or registry_for(config)
    policy = registry.policy()
    config = gated_config(config)
    check_setup(policy, config)
    grid, added = grid_with_configuration(config, grid)
    check_resumed_sweep(config, grid, out, registry)
    fingerprint = configuration_fingerprint(config)
    data, _ = RunInputs(cache=0).data(config)
    record = setup_record(config, data)
    check_setup(policy, config, record["data"]["sha256"])
    result = walk_forward(config, grid, out, client, on_done)
    walk = result.to_dict()
    walk["pbo"] = distinct_pbo(walk["pbo"], SweepStore(out).returns_matrix()[2], config.research.pbo_splits)
    baseline = baseline_legs(config, [w.window for w in result.windows], client)
    gates = configuration_gates(policy, walk, baseline)
    approvals = ConfigurationApprovals(registry)
    gates.append(earlier_failures_gate(policy, fingerprint, approvals.failed_runs(registry.recovered_entries(),
                                                                                  fingerprint),
                                       failures_elsewhere(registry, fingerprint)))
    report = {"kind": KIND, "fingerprint": fingerprint, "setup": configuration_setup(config),
              "policy": policy.model_dump(mode="json"), "policy_sha256": policy.sha256(),
              "grid": grid.to_dict(), "grid_added": added, "period": {"start": str(config.data.start),
                                                                      "end": str(config.data.end)},
              "trading_setup": record, "walk_forward": walk, "baseline": baseline, "results": str(out),
              "gates": gates, "passed": all(g["passed"] for g in gates)}
    approvals.record_validation(fingerprint, _plain(report))
    return report


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars and dates as plain values (the report's bytes are what the chain hashes)."""
    from kraken_global.reports.summary import json_ready

    return json_ready(value)
