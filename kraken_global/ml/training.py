"""Purged walk-forward training of the entry-filter model.

Rows are (pair, bar) pairs pooled over the universe. A row's label looks ``horizon`` bars ahead, so every
training set ends ``horizon + embargo`` bars before the window it is evaluated on: no training label overlaps
the evaluation window. Fold k trains on everything before its test window (expanding window) and is scored
there; the final model trains on the whole training window (its last ``horizon`` rows purged).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from importlib import metadata

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, roc_auc_score

from kraken_global.distributed import run_tasks
from kraken_global.ml.features import FEATURE_SCHEMA, FEATURES, compute_features, forward_label


@dataclass(frozen=True)
class TrainingSettings:
    horizon: int = 24
    embargo: int = 24
    folds: int = 4
    seed: int = 42
    max_iter: int = 150
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15


def dataset(candles: dict[str, pd.DataFrame], horizon: int) -> pd.DataFrame:
    """Features and label for every (pair, bar) with all values known, sorted by time then pair."""
    frames = []
    for symbol, frame in candles.items():
        rows = compute_features(frame)
        rows["label"] = forward_label(frame, horizon)
        rows["symbol"] = symbol
        frames.append(rows.dropna())
    data = pd.concat(frames).reset_index().rename(columns={"index": "datetime"})
    return data.sort_values(["datetime", "symbol"], kind="stable").reset_index(drop=True)


def make_model(settings: TrainingSettings) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(max_iter=settings.max_iter, learning_rate=settings.learning_rate,
                                          max_leaf_nodes=settings.max_leaf_nodes, random_state=settings.seed)


def purged_folds(times: pd.Series, settings: TrainingSettings, bar: pd.Timedelta):
    """(train mask, test mask) per fold: expanding train windows that end horizon + embargo bars before the test."""
    unique = np.sort(times.unique())
    edges = np.linspace(0, len(unique), settings.folds + 2).astype(int)[1:]
    gap = (settings.horizon + settings.embargo) * bar
    for start, end in itertools.pairwise(edges):
        test_start, test_end = unique[start], unique[end - 1]
        train = times < (pd.Timestamp(test_start) - gap)
        test = (times >= test_start) & (times <= test_end)
        if train.any() and test.any():
            yield train.to_numpy(), test.to_numpy()


@dataclass(frozen=True)
class FitTask:
    """One fit: a walk-forward fold (scored on its test rows) or, without test rows, the final model."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    settings: TrainingSettings
    test_start: str = ""
    test_end: str = ""


def fit(task: FitTask):
    """A fold's scores, or the final model (a top-level function, so Dask workers can run it)."""
    model = make_model(task.settings).fit(task.x_train, task.y_train)
    if task.x_test is None:
        return model
    p = model.predict_proba(task.x_test)[:, 1]
    return {
        "train_rows": len(task.y_train), "test_rows": len(task.y_test),
        "test_start": task.test_start, "test_end": task.test_end,
        "auc": float(roc_auc_score(task.y_test, p)) if len(set(task.y_test)) > 1 else None,
        "accuracy": float(accuracy_score(task.y_test, p >= 0.5)),
    }


def train(candles: dict[str, pd.DataFrame], settings: TrainingSettings, bar: pd.Timedelta,
          config_json: str, client=None, on_done=None) -> tuple[HistGradientBoostingClassifier, dict]:
    """Walk-forward scores and the final model; returns (model, manifest fields). ``client``: a Dask client
    to fit the folds and the final model in parallel (see :mod:`kraken_global.distributed`)."""
    data = dataset(candles, settings.horizon)
    if len(data) < 500:
        raise ValueError(f"only {len(data)} labelled rows: train on a longer period")
    x, y = data[list(FEATURES)].to_numpy(), data["label"].to_numpy().astype(int)
    tasks = [FitTask(x[train_mask], y[train_mask], x[test_mask], y[test_mask], settings,
                     str(data["datetime"][test_mask].min()), str(data["datetime"][test_mask].max()))
             for train_mask, test_mask in purged_folds(data["datetime"], settings, bar)]
    tasks.append(FitTask(x, y, None, None, settings))  # the final model, fitted alongside the folds
    *folds, final = run_tasks(fit, tasks, client, label="walk-forward", on_done=on_done)
    last_known = data["datetime"].max()
    manifest = {
        "feature_schema": FEATURE_SCHEMA,
        "model_type": type(final).__name__,
        "library_versions": {name: metadata.version(name) for name in
                             ("scikit-learn", "skops", "numpy", "pandas", "kraken-global")},
        "training_window": {"first_bar": str(data["datetime"].min()), "last_labelled_bar": str(last_known),
                            "pairs": sorted(candles), "rows": len(data), "horizon_bars": settings.horizon,
                            "embargo_bars": settings.embargo},
        "data_hash": hashlib.sha256(np.ascontiguousarray(x).tobytes() + y.tobytes()).hexdigest(),
        "config_hash": hashlib.sha256(config_json.encode()).hexdigest(),
        "metrics": {"walk_forward": folds,
                    "mean_auc": float(np.mean([f["auc"] for f in folds if f["auc"] is not None] or [np.nan]))},
        "settings": settings.__dict__,
    }
    return final, manifest


def predict_probabilities(model, candles: pd.DataFrame) -> pd.Series:
    """P(positive forward return) for every bar (NaN where features are not yet defined)."""
    features = compute_features(candles)
    known = features.notna().all(axis=1)
    out = pd.Series(np.nan, index=candles.index, name="p_up")
    if known.any():
        out[known] = model.predict_proba(features[known].to_numpy())[:, 1]
    return out


def canonical_json(data) -> str:
    return json.dumps(data, sort_keys=True, default=str)
