"""Train a candidate from a config and store it in the registry: the step behind ``kraken-global train``.

It loads the data the way a backtest does (``runners``), so it lives here beside the gates rather than in ``ml``,
which stays features, training and models.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from kraken_global.assembly.cerebro import load_data
from kraken_global.config import BacktestConfig
from kraken_global.config.fingerprint import trading_fingerprint
from kraken_global.feeds import parse_timeframe
from kraken_global.feeds.sources import bar_clock
from kraken_global.ml.operating_point import operating_point
from kraken_global.ml.training import TrainingSettings, canonical_json, train
from kraken_global.registry import ModelRegistry
from kraken_global.registry.trials import TrialLedger

TRAIN_SHARE = 0.7


def registry_for(config: BacktestConfig) -> ModelRegistry:
    return ModelRegistry(config.ml.artifacts, config.ml.namespace)


def trading_system(config: BacktestConfig) -> dict[str, Any]:
    """A trial's identity besides its model: the trading configuration's fingerprint (the one canonical definition,
    :func:`~kraken_global.config.fingerprint.trading_fingerprint`) and the data it ran on."""
    data = config.data
    return {"trading_sha256": trading_fingerprint(config),
            "data": {"directory": str(data.directory) if data.directory else None, "format": data.format,
                     "start": str(data.start) if data.start else None, "end": str(data.end) if data.end else None,
                     "recorded": str(data.recorded) if data.recorded else None}}


def train_end_of(config: BacktestConfig, candles: dict[str, pd.DataFrame]) -> pd.Timestamp:
    if config.ml.train_end is not None:
        return pd.Timestamp(config.ml.train_end)
    clock = bar_clock(candles)
    return clock[int(len(clock) * TRAIN_SHARE)].normalize()


def train_candidate(config: BacktestConfig, registry: ModelRegistry | None = None, client=None,
                    on_done=None) -> str:
    """Train on the data before the training end and store a candidate; returns its id. ``client``: a Dask
    client for the walk-forward folds (results are identical to serial)."""
    registry = registry or registry_for(config)
    point = operating_point(config)  # refuses a threshold that would switch the model off, before any work
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
    manifest["operating_point"] = point
    candidate_id = registry.add_candidate(model, manifest)
    TrialLedger(registry).record("train", registry.manifest(candidate_id)["sha256"], trading_system(config),
                                      ref=candidate_id)
    return candidate_id
