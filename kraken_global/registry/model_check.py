"""Structural checks of a loaded model before anything calls it.

skops loads only trusted types, but a trusted type can still hold data that crashes compiled code: the
histogram gradient boosting trees are walked in Cython without bounds checks, so a node whose child points back
to itself hangs the process and an out-of-range child or feature index reads outside memory (SIGSEGV). Every tree
is therefore checked here: children after their parent (as sklearn's grower numbers them; this also rules out
cycles) and inside the tree, feature indices inside the model's inputs, no categorical splits (our models have
none), and the record layout sklearn expects. Only the one model class we train is accepted, as a binary
classifier of exactly the manifest's inputs: one tree per iteration, classes 0 and 1, the binomial loss with its
logit link, no preprocessor. Last, it must predict: probabilities of the right shape, finite, between 0 and 1, for
a few rows of inputs. A model that passes can be called by the gates, backtests and sessions without an error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn._loss.link import LogitLink
from sklearn._loss.loss import HalfBinomialLoss
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE
from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

from kraken_global.registry.errors import UntrustedModelError


def check_model(model: Any, where: str, n_features: int | None = None) -> Any:
    """``model`` if it is a structurally sound binary :class:`HistGradientBoostingClassifier` (of ``n_features``
    inputs when given) that predicts probabilities; raises otherwise."""
    if type(model) is not HistGradientBoostingClassifier:
        raise UntrustedModelError(f"{where} holds a {type(model).__module__}.{type(model).__name__}, not a "
                                  "HistGradientBoostingClassifier; it was not loaded")
    expected, n_features = n_features, getattr(model, "n_features_in_", None)
    per_iteration = getattr(model, "n_trees_per_iteration_", None)
    predictors = getattr(model, "_predictors", None)
    if not isinstance(n_features, int | np.integer) or n_features < 1:
        raise UntrustedModelError(f"{where}: the model has no valid input count; it was not loaded")
    if expected is not None and n_features != expected:
        raise UntrustedModelError(f"{where}: the model takes {n_features} inputs, but its manifest's feature schema "
                                  f"has {expected}; it was not loaded")
    if getattr(model, "is_categorical_", None) is not None:
        raise UntrustedModelError(f"{where}: the model has categorical features, which ours never have")
    if not isinstance(per_iteration, int | np.integer) or per_iteration < 1 or not isinstance(predictors, list) \
            or not predictors:
        raise UntrustedModelError(f"{where}: the model's trees are missing or malformed; it was not loaded")
    baseline = np.asarray(getattr(model, "_baseline_prediction", None))
    if baseline.dtype.kind != "f" or baseline.shape != (1, per_iteration):
        raise UntrustedModelError(f"{where}: the model's baseline prediction is malformed; it was not loaded")
    for iteration, trees in enumerate(predictors):
        if not isinstance(trees, list) or len(trees) != per_iteration:
            raise UntrustedModelError(f"{where}: iteration {iteration} does not hold {per_iteration} tree(s)")
        for number, tree in enumerate(trees):
            check_tree(tree, int(n_features), f"{where}: tree {iteration}.{number}")
    check_binary(model, where)
    check_predicts(model, int(n_features), where)
    return model


def check_binary(model: HistGradientBoostingClassifier, where: str) -> None:
    """One tree per iteration, classes 0 and 1, the binomial loss and its logit link, no preprocessor: what
    ``predict_proba(x)[:, 1]`` needs to mean P(up)."""
    classes = np.asarray(getattr(model, "classes_", None))
    loss = getattr(model, "_loss", None)
    if model.n_trees_per_iteration_ != 1 or classes.shape != (2,) or classes.tolist() != [0, 1]:
        raise UntrustedModelError(f"{where}: the model is not a binary classifier of classes 0 and 1 with one tree "
                                  "per iteration; it was not loaded")
    if type(loss) is not HalfBinomialLoss or type(getattr(loss, "link", None)) is not LogitLink:
        raise UntrustedModelError(f"{where}: the model's loss is {type(loss).__name__}, not the binomial loss with "
                                  "a logit link; it was not loaded")
    if getattr(model, "_preprocessor", None) is not None:
        raise UntrustedModelError(f"{where}: the model has an input preprocessor, which ours never have; it was not "
                                  "loaded")


def check_predicts(model: HistGradientBoostingClassifier, n_features: int, where: str) -> None:
    """Probabilities of shape (rows, 2), finite and between 0 and 1, for a few rows of inputs."""
    rows = np.random.default_rng(0).normal(size=(4, n_features))
    rows[0] = 0.0
    try:
        probabilities = np.asarray(model.predict_proba(rows), dtype=float)
    except Exception as exc:  # whatever a malformed model raises, it must not reach trading
        raise UntrustedModelError(f"{where}: the model fails to predict ({type(exc).__name__}: {exc}); it was not "
                                  "loaded") from None
    if probabilities.shape != (len(rows), 2) or not np.isfinite(probabilities).all() or \
            (probabilities < 0).any() or (probabilities > 1).any():
        raise UntrustedModelError(f"{where}: the model's predictions are not probabilities of two classes; it was "
                                  "not loaded")


def check_tree(tree: Any, n_features: int, where: str) -> None:
    if type(tree) is not TreePredictor:
        raise UntrustedModelError(f"{where} is not a TreePredictor; the model was not loaded")
    nodes = tree.nodes
    if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE or nodes.ndim != 1 \
            or len(nodes) == 0:
        raise UntrustedModelError(f"{where}: its nodes do not have sklearn's record layout; the model was not loaded")
    count = len(nodes)
    index = np.arange(count)
    inner = nodes["is_leaf"] == 0
    left, right = nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)
    bad_child = inner & ((left <= index) | (right <= index) | (left >= count) | (right >= count))
    if bad_child.any():
        raise UntrustedModelError(f"{where}: node {int(np.flatnonzero(bad_child)[0])} has a child index that "
                                  "loops back or lies outside the tree; the model was not loaded")
    features = nodes["feature_idx"]
    bad_feature = inner & ((features < 0) | (features >= n_features))
    if bad_feature.any():
        raise UntrustedModelError(f"{where}: node {int(np.flatnonzero(bad_feature)[0])} splits on feature "
                                  f"{int(features[bad_feature][0])}, outside the model's {n_features} inputs")
    if (nodes["is_categorical"] != 0).any() or (nodes["is_leaf"] > 1).any():
        raise UntrustedModelError(f"{where}: it has categorical or malformed nodes; the model was not loaded")
