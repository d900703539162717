"""The out-of-sample gates: the candidate's own figures, and whether it beats the system without it.

On the same out-of-sample windows three systems run through the same backtest: the regime system without a model,
with the model approved now (if any, at its own operating point), and with the candidate (at the operating point
fixed in its manifest). The candidate must clear the policy's thresholds on its own figures (each metric its own
gate) *and* beat the no-model system and the approved model on the difference of daily returns
(:mod:`~kraken_global.gating.challenger`): a model that only rides the market of its windows fails.

The DSR deflates by the registry's trial ledger (:mod:`~kraken_global.registry.trials`), its basis frozen at the
candidate's first gating under the policy, so re-gating never changes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kraken_global import metrics
from kraken_global.assembly.cerebro import load_data
from kraken_global.config import BacktestConfig
from kraken_global.distributed import run_tasks
from kraken_global.feeds import parse_timeframe
from kraken_global.feeds.sources import bar_clock
from kraken_global.gating.candidates import trading_system
from kraken_global.gating.challenger import compare
from kraken_global.gating.checks import MetricCheck, track_record_needed
from kraken_global.gating.oos import oos_windows, run_oos_backtest
from kraken_global.gating.policy import GatePolicy, PolicyViolation
from kraken_global.gating.robustness import robustness
from kraken_global.gating.trading_setup import check_setup, setup_record
from kraken_global.ml import stats
from kraken_global.ml.operating_point import at_operating_point, bind_operating_point
from kraken_global.registry import ModelRegistry
from kraken_global.registry.trials import DsrBasis, TrialLedger

NO_MODEL, APPROVED, CANDIDATE = "no model", "approved", "candidate"


@dataclass(frozen=True)
class System:
    """One of the systems compared: its config (operating point bound) and model."""

    name: str
    config: BacktestConfig
    model: Any
    model_id: str | None = None
    model_sha256: str | None = None


def systems_to_compare(config: BacktestConfig, registry: ModelRegistry, model, manifest: dict[str, Any],
                       sha: str) -> list[System]:
    """Candidate, no model, and the approved model when there is one other than the candidate."""
    config = config.with_overrides({"ml.model_id": None, "ml.model_sha256": None})  # a trading pin is not a gate's
    systems = [System(CANDIDATE, bind_operating_point(config, manifest), model, manifest.get("id"), sha),
               System(NO_MODEL, config, None)]
    approved = registry.state().get("approved")
    if approved and approved.get("sha256") != sha:
        champion, champion_manifest = registry.approved_model()
        systems.append(System(APPROVED, at_operating_point(config, champion_manifest), champion,
                              approved.get("id"), approved.get("sha256")))
    return systems


def _oos_task(job: tuple) -> dict[str, Any]:
    name, config, model, start, end = job
    return {"system": name, **run_oos_backtest(config, model, start, end)}


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    daily = np.concatenate([r["daily_returns"] for r in runs])
    return {
        "days": int(daily.size),
        "sharpe": metrics.sharpe_ratio(daily),
        "total_return_pct": float((np.prod(1 + daily) - 1) * 100) if daily.size else 0.0,
        "max_drawdown_pct": max(r["max_drawdown_pct"] for r in runs),
        "tail_loss_pct": metrics.expected_shortfall_pct(daily),
        "turnover": float(np.average([r["turnover"] for r in runs], weights=[max(r["days"], 1) for r in runs])),
        "windows": [{k: v for k, v in r.items() if k not in ("daily_returns", "dates", "system")} for r in runs],
    }


def performance_gates(config: BacktestConfig, registry: ModelRegistry, model, manifest: dict[str, Any], sha: str,
                      thresholds: dict[str, Any], policy: GatePolicy, client=None) -> tuple[list, dict[str, Any]]:
    """(gates, report sections) of the out-of-sample evaluation."""
    timeframe = parse_timeframe(config.data.timeframe)
    data = load_data(config)
    setup = setup_record(config, data)
    check_setup(policy, config, setup["data"]["sha256"])
    clock = bar_clock(data.candles)
    train_end = pd.Timestamp(manifest["training_window"]["train_end"])
    embargo = manifest["training_window"]["embargo_bars"] * timeframe
    windows = oos_windows(train_end, clock[-1] + timeframe, thresholds["oos_windows"], embargo)
    span = (windows[-1][1] - windows[0][0]) / pd.Timedelta(days=1)
    if span < policy.min_oos_days:
        raise PolicyViolation(f"the out-of-sample period {windows[0][0]} .. {windows[-1][1]} spans {span:.0f} days, "
                              f"shorter than the policy's min_oos_days {policy.min_oos_days}: give the gates more "
                              "data after the training end (a later data.end, or an earlier ml.train_end)")
    systems = systems_to_compare(config, registry, model, manifest, sha)
    jobs = [(s.name, s.config, s.model, start, end) for s in systems for start, end in windows]
    runs = run_tasks(_oos_task, jobs, client, label="oos-window")
    by_system = {s.name: [r for r in runs if r["system"] == s.name] for s in systems}
    daily = {name: np.concatenate([r["daily_returns"] for r in rs]) for name, rs in by_system.items()}
    days = [d for r in by_system[CANDIDATE] for d in r["dates"]]
    own = _summary(by_system[CANDIDATE])

    gates: list[dict[str, Any]] = []
    checks = [MetricCheck("oos_sharpe", "out-of-sample Sharpe", own["sharpe"], thresholds["min_sharpe"], ">="),
              MetricCheck("oos_max_drawdown", "max drawdown", own["max_drawdown_pct"],
                          thresholds["max_drawdown_pct"], "<=", "%"),
              MetricCheck("oos_tail_loss", "tail loss", own["tail_loss_pct"], thresholds["max_tail_loss_pct"],
                          "<=", "%"),
              MetricCheck("turnover", "turnover", own["turnover"], thresholds["max_turnover"], "<=", "x")]
    gates += [c.as_gate() for c in checks]
    robust = robustness(daily[CANDIDATE], days)
    if policy.require_survive_without_best_day:
        gates.append(MetricCheck("without_best_day", f"Sharpe without the best day ({robust['best_day']})",
                                 robust["sharpe_without_best_day"], thresholds["min_sharpe"], ">=").as_gate())
    comparisons = []
    if policy.champion_margin is not None:
        for rival in (NO_MODEL, APPROVED):
            if rival in daily:
                comparison = compare(daily[CANDIDATE], daily[rival], rival, policy.champion_margin,
                                     policy.champion_confidence)
                comparisons.append(comparison.as_dict())
                gates.append({"name": f"beats_{rival.replace(' ', '_')}", "passed": comparison.passed,
                              "detail": comparison.explain(), "edge_probability": comparison.edge_probability,
                              "threshold": policy.champion_confidence,
                              "shortfall": max(0.0, policy.champion_confidence - comparison.edge_probability)})

    ledger = TrialLedger(registry)
    ledger.record("gate", sha, trading_system(systems[0].config), sharpe=own["sharpe"], ref=manifest.get("id"))
    statistics = trust_statistics(daily[CANDIDATE], ledger.basis(sha, policy.sha256()))
    if thresholds["dsr_gate"]:
        dsr = statistics["deflated_sharpe"]
        gates.append({"name": "deflated_sharpe", "passed": dsr >= thresholds["min_dsr"],
                      "detail": MetricCheck("deflated_sharpe", f"Deflated Sharpe over {statistics['trials']} trials",
                                            dsr, thresholds["min_dsr"], ">=").explain(),
                      "value": dsr, "threshold": thresholds["min_dsr"],
                      "shortfall": max(0.0, thresholds["min_dsr"] - dsr)})
    sections = {
        "operating_point": manifest.get("operating_point"),
        "trading_setup": setup,
        "oos": {"windows": own["windows"], "days": own["days"]},
        "systems": {name: {**_summary(rs), "model": _model_of(systems, name)} for name, rs in by_system.items()},
        "comparisons": comparisons,
        "robustness": robust,
        "track_record": track_record_needed(daily[CANDIDATE], thresholds["min_sharpe"]),
        "statistics": statistics,
    }
    return gates, sections


def _model_of(systems: list[System], name: str) -> dict[str, Any] | None:
    system = next(s for s in systems if s.name == name)
    return None if system.model is None else {"id": system.model_id, "sha256": system.model_sha256}


def trust_statistics(daily: np.ndarray, basis: DsrBasis) -> dict[str, Any]:
    """PSR, and the DSR over the trials of the ledger (the variance of their Sharpes when there are enough)."""
    sr, n, skewness, kurt = stats.moments(daily)
    if basis.enough_for_variance:
        variance = float(np.var(np.asarray(basis.sharpes) / np.sqrt(metrics.PERIODS_PER_YEAR), ddof=1))
    else:
        variance = (1 - skewness * sr + (kurt - 1) / 4 * sr * sr) / max(n - 1, 1)
    return {
        "daily_sharpe": sr, "days": n, "skewness": skewness, "kurtosis": kurt,
        "probabilistic_sharpe": stats.probabilistic_sharpe(sr, n, skewness, kurt),
        "deflated_sharpe": stats.deflated_sharpe(sr, n, skewness, kurt, basis.trials, variance),
        "trials": basis.trials, "dsr_basis": basis.as_dict(),
    }

