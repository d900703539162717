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
class FitSpec:
    """One fit over rows ``[0, train_end)`` (the data is sorted by time, so a walk-forward training window is a
    prefix), scored on rows ``[test_start, test_end)``; without test rows it is the final model."""

    train_end: int
    test_start: int = 0
    test_end: int = 0
    test_first: str = ""
    test_last: str = ""


def _bounds(mask: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(mask)
    if rows[-1] - rows[0] + 1 != len(rows):
        raise AssertionError("walk-forward windows must be contiguous in time-sorted data")
    return int(rows[0]), int(rows[-1]) + 1


def fit(job: tuple):
    """A fold's scores, or the final model. A top-level function of (x, y, spec, settings), so Dask workers can
    run it with ``x`` and ``y`` scattered to them once instead of shipped with every task."""
    x, y, spec, settings = job
    model = make_model(settings).fit(x[:spec.train_end], y[:spec.train_end])
    if spec.test_end == 0:
        return model
    y_test = y[spec.test_start:spec.test_end]
    p = model.predict_proba(x[spec.test_start:spec.test_end])[:, 1]
    return {
        "train_rows": spec.train_end, "test_rows": len(y_test), "test_start": spec.test_first,
        "test_end": spec.test_last,
        "auc": float(roc_auc_score(y_test, p)) if len(set(y_test)) > 1 else None,
        "accuracy": float(accuracy_score(y_test, p >= 0.5)),
    }


def train(candles: dict[str, pd.DataFrame], settings: TrainingSettings, bar: pd.Timedelta,
          config_json: str, client=None, on_done=None) -> tuple[HistGradientBoostingClassifier, dict]:
    """Walk-forward scores and the final model; returns (model, manifest fields). ``client``: a Dask client
    to fit the folds and the final model in parallel (see :mod:`kraken_global.distributed`)."""
    data = dataset(candles, settings.horizon)
    if len(data) < 500:
        raise ValueError(f"only {len(data)} labelled rows: train on a longer period")
    x, y = data[list(FEATURES)].to_numpy(), data["label"].to_numpy().astype(int)
    specs = []
    for train_mask, test_mask in purged_folds(data["datetime"], settings, bar):
        test_start, test_end = _bounds(test_mask)
        specs.append(FitSpec(_bounds(train_mask)[1], test_start, test_end, str(data["datetime"][test_start]),
                             str(data["datetime"][test_end - 1])))
    specs.append(FitSpec(len(y)))  # the final model, fitted alongside the folds
    # largest fits first: two workers finish together instead of one waiting on the final fit
    order = sorted(range(len(specs)), key=lambda i: -specs[i].train_end)
    arrays = client.scatter([x, y], broadcast=True) if client is not None else [x, y]
    done = run_tasks(fit, [(*arrays, specs[i], settings) for i in order], client, label="walk-forward",
                     on_done=on_done)
    results = [None] * len(specs)
    for position, i in enumerate(order):
        results[i] = done[position]
    *folds, final = results
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
