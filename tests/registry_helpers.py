"""Small real candidates for registry tests (a tiny scikit-learn model and a complete manifest)."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from kraken_global.ml.features import FEATURE_SCHEMA, FEATURES
from kraken_global.registry import ModelRegistry


def tiny_model(seed: int = 0) -> HistGradientBoostingClassifier:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(200, len(FEATURES)))
    y = (x[:, 0] + rng.normal(0, 0.5, 200) > 0).astype(int)
    return HistGradientBoostingClassifier(max_iter=5, random_state=seed).fit(x, y)


def crafted(attribute: str) -> HistGradientBoostingClassifier:
    """A model whose trees pass the structural checks but whose ``attribute`` would break prediction."""
    model = tiny_model()
    if attribute == "n_features_in_":
        model.n_features_in_ = 5
    elif attribute == "n_trees_per_iteration_":
        model.n_trees_per_iteration_ = 2
        model._baseline_prediction = np.zeros((1, 2))
        model._predictors = [[trees[0], trees[0]] for trees in model._predictors]
    else:
        from sklearn._loss.loss import HalfPoissonLoss

        model._loss = HalfPoissonLoss()
    return model


def manifest(**overrides) -> dict:
    base = {
        "feature_schema": FEATURE_SCHEMA,
        "library_versions": {"scikit-learn": "test"},
        "training_window": {"first_bar": "2018-01-01", "train_end": "2019-01-01", "embargo_bars": 24},
        "data_hash": "0" * 64,
        "config_hash": "0" * 64,
        "metrics": {},
        "operating_point": {"min_probability": 0.5, "horizon_bars": 24},
    }
    return {**base, **overrides}


def passed_candidate(registry: ModelRegistry, seed: int = 0, **manifest_overrides) -> str:
    """A stored candidate with a passing gates report bound to its SHA256 and the current policy."""
    candidate = registry.add_candidate(tiny_model(seed), manifest(**manifest_overrides))
    registry.record_validation(candidate, {"candidate": candidate, "sha256": registry.file_sha256(candidate),
                                           "policy_sha256": registry.policy().sha256(), "passed": True,
                                           "gates": []})
    return candidate


LENIENT_POLICY = {"min_sharpe": "-50", "max_drawdown_pct": "100", "max_tail_loss_pct": "100", "max_turnover": "100",
                  "min_oos_days": "90", "dsr_gate": "false", "champion_margin": "none",
                  "require_survive_without_best_day": "false"}


def relax_policy(registry: ModelRegistry, **changes: str) -> None:
    """Relax the namespace's gate policy the only way there is: its audited command."""
    registry.set_policy({**LENIENT_POLICY, **changes}, "yes-change-policy")


def approved_configuration(registry: ModelRegistry, config) -> str:
    """Approve ``config``'s trading configuration with a passing gates report recorded the registry's own way (the
    real gates run in tests/test_configuration_approval.py); returns its fingerprint."""
    from kraken_global.config.fingerprint import configuration_fingerprint, configuration_setup
    from kraken_global.registry.configurations import ConfigurationApprovals

    approvals = ConfigurationApprovals(registry)
    fingerprint = configuration_fingerprint(config)
    approvals.record_validation(fingerprint, {"kind": "trading_configuration", "fingerprint": fingerprint,
                                              "setup": configuration_setup(config), "gates": [], "passed": True,
                                              "policy_sha256": registry.policy().sha256()})
    approvals.promote(fingerprint, "yes-promote")
    return fingerprint
