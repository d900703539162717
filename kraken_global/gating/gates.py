"""Run every gate on a candidate under the registry's policy, and record the report: ``kraken-global gates``.

Gates (thresholds from the namespace's :class:`~kraken_global.gating.policy.GatePolicy`, or stricter ones the
config's ``gates`` section asks for; definitions in the README):

1. integrity: the model file is a regular file whose SHA256 equals its manifest's, and it loads with only the
   trusted types and structurally sound trees;
2. schema: the manifest has every required field and its feature schema is exactly the code's;
3. out-of-sample metrics: Sharpe >= min, max drawdown <= max, tail loss <= max, computed by the backtrader
   analyzers over backtests of the regime system with the candidate on windows after its training data, which
   must span at least the policy's ``min_oos_days``;
4. risk: turnover <= max;
5. (when the policy or config asks) Deflated Sharpe Ratio >= min_dsr over the number of candidates tried.

The report records the policy and its hash; the registry audits the report's own SHA256 with the verdict.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kraken_global import metrics
from kraken_global.config import BacktestConfig
from kraken_global.distributed import run_tasks
from kraken_global.feeds import parse_timeframe
from kraken_global.feeds.sources import bar_clock
from kraken_global.gating.candidates import registry_for
from kraken_global.gating.oos import oos_windows, run_oos_backtest
from kraken_global.gating.policy import GatePolicy, PolicyViolation, effective_thresholds
from kraken_global.ml import stats
from kraken_global.ml.features import FEATURE_SCHEMA
from kraken_global.registry import ModelRegistry, RegistryError
from kraken_global.registry.errors import IntegrityError, UntrustedModelError
from kraken_global.registry.paths import read_regular
from kraken_global.registry.serialization import sha256
from kraken_global.runners.backtest import load_data


def _gate(name: str, passed: bool, detail: str, **values) -> dict[str, Any]:
    return {"name": name, "passed": bool(passed), "detail": detail, **values}


def run_gates(config: BacktestConfig, candidate_id: str, registry: ModelRegistry | None = None,
              client=None) -> dict[str, Any]:
    """Evaluate every gate under the registry's policy, store the report (bound to the file's SHA256 and the
    policy's hash, audited with its own SHA256) and return it. Raises :class:`PolicyViolation` before any
    backtest when the config asks for looser gates or the out-of-sample period is too short. ``client``: a
    Dask client for the out-of-sample windows."""
    registry = registry or registry_for(config)
    policy = registry.policy()
    thresholds = effective_thresholds(policy, config.gates.model_dump())  # looser than the policy: refused
    gates: list[dict[str, Any]] = []
    sha = None
    model = manifest = None
    if not registry.paths.candidate_dir(candidate_id).is_dir():
        registry.manifest(candidate_id)  # raises UnknownCandidateError
    try:
        sha = sha256(read_regular(registry.paths.candidate_file(candidate_id, "model.skops"), "model file"))
        model, manifest = registry.load_candidate(candidate_id)
        gates.append(_gate("integrity", True, "SHA256 matches the manifest; only trusted types", sha256=sha))
    except (IntegrityError, UntrustedModelError, FileNotFoundError) as exc:
        gates.append(_gate("integrity", False, str(exc), sha256=sha))
    if manifest is not None:
        schema_ok = manifest.get("feature_schema") == FEATURE_SCHEMA
        detail = "feature schema matches the strategies' features" if schema_ok else \
            f"feature schema {manifest.get('feature_schema')} differs from the code's {FEATURE_SCHEMA}"
        gates.append(_gate("schema", schema_ok, detail))
    else:
        try:
            registry.manifest(candidate_id)
            gates.append(_gate("schema", False, "not checked: the model did not pass integrity"))
        except (IntegrityError, RegistryError) as exc:
            gates.append(_gate("schema", False, str(exc)))
    report: dict[str, Any] = {"candidate": candidate_id, "sha256": sha, "policy_sha256": policy.sha256(),
                              "policy": policy.model_dump(mode="json"), "thresholds": thresholds}
    if all(g["passed"] for g in gates):
        report.update(_performance_gates(config, registry, model, manifest, gates, thresholds, policy, client))
    else:
        gates += [_gate("oos_metrics", False, "not run: integrity or schema failed"),
                  _gate("turnover", False, "not run: integrity or schema failed")]
    report["gates"] = gates
    report["passed"] = all(g["passed"] for g in gates)
    if sha is not None:
        registry.record_validation(candidate_id, report)
    return report


def _oos_task(job: tuple) -> dict[str, Any]:
    config, model, start, end = job
    return run_oos_backtest(config, model, start, end)


def _performance_gates(config: BacktestConfig, registry: ModelRegistry, model, manifest: dict[str, Any],
                       gates: list[dict[str, Any]], thresholds: dict[str, Any], policy: GatePolicy,
                       client=None) -> dict[str, Any]:
    t = _Thresholds(thresholds)
    data = load_data(config)
    clock = bar_clock(data.candles)
    timeframe = parse_timeframe(config.data.timeframe)
    train_end = pd.Timestamp(manifest["training_window"]["train_end"])
    embargo = manifest["training_window"]["embargo_bars"] * timeframe
    windows = oos_windows(train_end, clock[-1] + timeframe, t.oos_windows, embargo)
    span = (windows[-1][1] - windows[0][0]) / pd.Timedelta(days=1)
    if span < policy.min_oos_days:
        raise PolicyViolation(f"the out-of-sample period {windows[0][0]} .. {windows[-1][1]} spans {span:.0f} days, "
                              f"shorter than the policy's min_oos_days {policy.min_oos_days}: give the gates more "
                              "data after the training end (a later data.end, or an earlier ml.train_end)")
    runs = run_tasks(_oos_task, [(config, model, s, e) for s, e in windows], client, label="oos-window")
    daily = np.concatenate([r["daily_returns"] for r in runs])
    sharpe = metrics.sharpe_ratio(daily)
    drawdown = max(r["max_drawdown_pct"] for r in runs)
    tail = metrics.expected_shortfall_pct(daily)
    turnover = float(np.average([r["turnover"] for r in runs], weights=[max(r["days"], 1) for r in runs]))
    ok = sharpe >= t.min_sharpe and drawdown <= t.max_drawdown_pct and tail <= t.max_tail_loss_pct
    gates.append(_gate("oos_metrics", ok, f"Sharpe {sharpe:.3f} (>= {t.min_sharpe}), max drawdown {drawdown:.2f}% "
                       f"(<= {t.max_drawdown_pct}), tail loss {tail:.2f}% (<= {t.max_tail_loss_pct})",
                       sharpe=sharpe, max_drawdown_pct=drawdown, tail_loss_pct=tail))
    gates.append(_gate("turnover", turnover <= t.max_turnover, f"turnover {turnover:.3f} (<= {t.max_turnover})",
                       turnover=turnover))
    statistics = trust_statistics(daily, registry)
    if t.dsr_gate:
        dsr = statistics["deflated_sharpe"]
        gates.append(_gate("deflated_sharpe", dsr >= t.min_dsr, f"DSR {dsr:.3f} (>= {t.min_dsr}) over "
                           f"{statistics['trials']} candidates", deflated_sharpe=dsr))
    for run in runs:
        run.pop("daily_returns")
    return {"oos": {"windows": runs, "days": int(daily.size)}, "statistics": statistics}


class _Thresholds:
    """Attribute access to the effective thresholds (a plain dict in the report)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def trust_statistics(daily: np.ndarray, registry: ModelRegistry) -> dict[str, Any]:
    """PSR, DSR (over the candidates tried so far) and the minimum track record length, for information."""
    sr, n, skewness, kurt = stats.moments(daily)
    trial_sharpes = []
    for candidate in registry.candidates():
        report = registry.validation(candidate) or {}
        for gate in report.get("gates", []):
            if gate.get("name") == "oos_metrics" and "sharpe" in gate:
                trial_sharpes.append(gate["sharpe"] / np.sqrt(365))
    trials = max(len(registry.candidates()), 1)
    variance = float(np.var(trial_sharpes, ddof=1)) if len(trial_sharpes) >= 2 else \
        (1 - skewness * sr + (kurt - 1) / 4 * sr * sr) / max(n - 1, 1)
    return {
        "daily_sharpe": sr, "days": n, "skewness": skewness, "kurtosis": kurt,
        "probabilistic_sharpe": stats.probabilistic_sharpe(sr, n, skewness, kurt),
        "deflated_sharpe": stats.deflated_sharpe(sr, n, skewness, kurt, trials, variance),
        "trials": trials,
        "min_track_record_days": stats.min_track_record_length(sr, skewness, kurt),
    }
