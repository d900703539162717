"""Structural checks of a loaded model before anything calls it.

skops loads only trusted types, but a trusted type can still hold data that crashes compiled code: the
histogram gradient boosting trees are walked in Cython without bounds checks, so a node whose child points back
to itself hangs the process and an out-of-range child or feature index reads outside memory (SIGSEGV). Every tree
is therefore checked here: children after their parent (as sklearn's grower numbers them; this also rules out
cycles) and inside the tree, feature indices inside the model's inputs, no categorical splits (our models have
none), and the record layout sklearn expects. Only the one model class we train is accepted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE
from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

from kraken_global.registry.errors import UntrustedModelError


def check_model(model: Any, where: str) -> Any:
    """``model`` if it is a structurally sound :class:`HistGradientBoostingClassifier`; raises otherwise."""
    if type(model) is not HistGradientBoostingClassifier:
        raise UntrustedModelError(f"{where} holds a {type(model).__module__}.{type(model).__name__}, not a "
                                  "HistGradientBoostingClassifier; it was not loaded")
    n_features = getattr(model, "n_features_in_", None)
    per_iteration = getattr(model, "n_trees_per_iteration_", None)
    predictors = getattr(model, "_predictors", None)
    if not isinstance(n_features, int | np.integer) or n_features < 1:
        raise UntrustedModelError(f"{where}: the model has no valid input count; it was not loaded")
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
    return model


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
