"""Train a candidate and run its gates: the steps behind ``kraken-global train`` and ``kraken-global gates``.

Gates (thresholds in the config's ``gates`` section, definitions in the README):

1. integrity: the model file's SHA256 equals its manifest's, and it loads with only the trusted types;
2. schema: the manifest has every required field and its feature schema is exactly the code's;
3. out-of-sample metrics: Sharpe >= min, max drawdown <= max, tail loss <= max, computed by the backtrader
   analyzers over backtests of the regime system with the candidate on windows after its training data;
4. risk: turnover <= max;
5. (optional) Deflated Sharpe Ratio >= min_dsr over the number of candidates tried.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from kraken_global import metrics
from kraken_global.config import BacktestConfig
from kraken_global.distributed import run_tasks
from kraken_global.feeds import parse_timeframe
from kraken_global.feeds.sources import bar_clock
from kraken_global.ml import stats
from kraken_global.ml.features import FEATURE_SCHEMA
from kraken_global.ml.training import TrainingSettings, canonical_json, train
from kraken_global.registry import ModelRegistry, RegistryError
from kraken_global.registry.errors import IntegrityError, UntrustedModelError
from kraken_global.registry.serialization import sha256

TRAIN_SHARE = 0.7


def registry_for(config: BacktestConfig) -> ModelRegistry:
    return ModelRegistry(config.ml.artifacts, config.ml.namespace)


def train_end_of(config: BacktestConfig, candles: dict[str, pd.DataFrame]) -> pd.Timestamp:
    if config.ml.train_end is not None:
        return pd.Timestamp(config.ml.train_end)
    clock = bar_clock(candles)
    return clock[int(len(clock) * TRAIN_SHARE)].normalize()


def train_candidate(config: BacktestConfig, registry: ModelRegistry | None = None, client=None,
                    on_done=None) -> str:
    """Train on the data before the training end and store a candidate; returns its id. ``client``: a Dask
    client for the walk-forward folds (results are identical to serial)."""
    from kraken_global.runners.backtest import load_data

    registry = registry or registry_for(config)
    data = load_data(config)
    end = train_end_of(config, data.candles)
    training = {s: f[f.index < end] for s, f in data.candles.items() if (f.index < end).sum() > 0}
    settings = TrainingSettings(horizon=config.ml.horizon_bars, embargo=config.ml.embargo_bars,
                                folds=config.ml.folds, seed=config.run.seed)
    described = canonical_json({"universe": config.universe.model_dump(mode="json"),
                                "data": config.data.model_dump(mode="json"), "ml": config.ml.model_dump(mode="json"),
                                "seed": config.run.seed})
    model, manifest = train(training, settings, parse_timeframe(config.data.timeframe), described, client, on_done)
    manifest["training_window"]["train_end"] = str(end)
    manifest["training_window"]["timeframe"] = config.data.timeframe
    return registry.add_candidate(model, manifest)


def _gate(name: str, passed: bool, detail: str, **values) -> dict[str, Any]:
    return {"name": name, "passed": bool(passed), "detail": detail, **values}


def oos_windows(train_end: pd.Timestamp, data_end: pd.Timestamp, count: int, embargo: pd.Timedelta):
    start = train_end + embargo
    if start >= data_end:
        raise RegistryError(f"no out-of-sample data after the training end {train_end} (data ends {data_end})")
    edges = pd.date_range(start, data_end, periods=count + 1)
    return [(edges[i].normalize() if i else start, edges[i + 1]) for i in range(count)]


def run_oos_backtest(config: BacktestConfig, model, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, Any]:
    """The regime system with ``model`` on [start, end], warmed up on the history before ``start``; figures
    from the analyzers restricted to the window."""
    from kraken_global.runners.backtest import build_cerebro
    from kraken_global.runners.warmup import load_with_warmup

    window_config = config.with_overrides({"strategy.name": "regime"})
    data, warmup = load_with_warmup(window_config, start, (end - timedelta(days=1)).normalize() + timedelta(days=1))
    cerebro = build_cerebro(window_config, data.candles, model=model, evaluation_start=warmup.evaluation_start)
    strategies = cerebro.run()
    a = strategies[0].analyzers
    daily = a.returns.daily_returns()
    return {
        "start": str(start), "end": str(end), "days": len(daily),
        "sharpe": a.sharpe.get_analysis()["sharpe"],
        "max_drawdown_pct": a.drawdown.get_analysis()["max_drawdown_pct"],
        "tail_loss_pct": a.tail_loss.get_analysis()["tail_loss_pct"],
        "turnover": sum(s.analyzers.turnover.get_analysis()["turnover"] for s in strategies),
        "total_return_pct": a.returns.get_analysis()["total_return_pct"],
        "daily_returns": [float(x) for x in daily],
    }


def run_gates(config: BacktestConfig, candidate_id: str, registry: ModelRegistry | None = None,
              client=None) -> dict[str, Any]:
    """Evaluate every gate, store the report (bound to the file's SHA256) and return it. ``client``: a Dask
    client for the out-of-sample windows."""
    registry = registry or registry_for(config)
    thresholds = config.gates
    gates: list[dict[str, Any]] = []
    sha = None
    model = manifest = None
    if not registry.paths.candidate_dir(candidate_id).is_dir():
        registry.manifest(candidate_id)  # raises UnknownCandidateError
    try:
        sha = sha256((registry.paths.candidate_dir(candidate_id) / "model.skops").read_bytes())
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
    report: dict[str, Any] = {"candidate": candidate_id, "sha256": sha, "thresholds": thresholds.model_dump()}
    if all(g["passed"] for g in gates):
        report.update(_performance_gates(config, registry, model, manifest, gates, client))
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


def _performance_gates(config, registry, model, manifest, gates, client=None) -> dict[str, Any]:
    from kraken_global.runners.backtest import load_data

    t = config.gates
    data = load_data(config)
    clock = bar_clock(data.candles)
    timeframe = parse_timeframe(config.data.timeframe)
    train_end = pd.Timestamp(manifest["training_window"]["train_end"])
    embargo = manifest["training_window"]["embargo_bars"] * timeframe
    windows = oos_windows(train_end, clock[-1] + timeframe, t.oos_windows, embargo)
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
