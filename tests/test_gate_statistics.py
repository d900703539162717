"""The statistics behind the champion/challenger gates, robustness, explained checks and the trial ledger."""

import math

import numpy as np
import pytest

from kraken_global.gating.challenger import block_bootstrap_mean, compare
from kraken_global.gating.checks import MetricCheck, track_record_needed
from kraken_global.gating.robustness import robustness
from kraken_global.ml import stats
from kraken_global.registry import ModelRegistry
from kraken_global.registry.trials import MIN_TRIALS_FOR_VARIANCE, TrialLedger


def test_identical_returns_fail_the_comparison_whatever_their_sharpe():
    r = np.random.default_rng(1).normal(0.003, 0.01, 200)
    c = compare(r, r, "no model", margin_sharpe=0.0, confidence=0.9)
    assert c.identical and not c.passed
    assert "changed no decision" in c.explain()


def test_a_steady_edge_passes_and_a_coin_flip_does_not():
    rng = np.random.default_rng(2)
    base = rng.normal(0.001, 0.02, 300)
    strong = compare(base + rng.normal(0.002, 0.002, 300), base, "no model", 0.0, 0.95)
    assert strong.passed and strong.edge_probability > 0.99
    noise = compare(base + rng.normal(0.0, 0.01, 300), base, "no model", 0.0, 0.95)
    assert not noise.passed
    assert "FAIL" in noise.explain() and "short by" in noise.explain()


def test_the_edge_probability_is_the_psr_of_the_difference_against_the_margin():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.002, 0.01, 150), rng.normal(0.001, 0.01, 150)
    c = compare(a, b, "approved", margin_sharpe=0.5, confidence=0.9)
    sr, n, sk, ku = stats.moments(a - b)
    assert c.edge_probability == pytest.approx(stats.probabilistic_sharpe(sr, n, sk, ku, 0.5 / math.sqrt(365)))
    assert c.as_dict()["passed"] == c.passed


def test_different_days_are_refused():
    with pytest.raises(ValueError, match="not the same days"):
        compare([0.01, 0.02], [0.01], "no model", 0.0, 0.9)


def test_block_bootstrap_is_deterministic_and_brackets_the_mean():
    diff = np.random.default_rng(4).normal(0.001, 0.01, 120)
    low, high = block_bootstrap_mean(diff, block=5)
    assert (low, high) == block_bootstrap_mean(diff, block=5)
    assert low < diff.mean() < high


def test_robustness_by_hand():
    daily = [0.01, -0.02, 0.10, 0.0, 0.01, 0.02, -0.01]
    r = robustness(daily, days=[f"d{i}" for i in range(7)])
    assert r["best_day"] == "d2" and r["best_day_return_pct"] == pytest.approx(10.0)
    assert r["best_day_share"] == pytest.approx(0.10 / 0.11)
    assert r["best_5_days_share"] == pytest.approx((0.10 + 0.02 + 0.01 + 0.01 + 0.0) / 0.11)
    rest = np.array([0.01, -0.02, 0.0, 0.01, 0.02, -0.01])
    assert r["sharpe_without_best_day"] == pytest.approx(rest.mean() / rest.std(ddof=1) * math.sqrt(365))


def test_robustness_shares_have_no_meaning_for_a_loss():
    r = robustness([-0.01, 0.005, -0.02])
    assert r["best_day_share"] is None and r["best_5_days_share"] is None


def test_each_metric_says_which_way_it_failed_and_by_how_much():
    sharpe = MetricCheck("oos_sharpe", "Sharpe", 0.435, 0.5, ">=")
    assert not sharpe.passed and sharpe.shortfall == pytest.approx(0.065)
    assert sharpe.explain() == "Sharpe 0.435: FAIL, below the minimum 0.5 by 0.065"
    drawdown = MetricCheck("oos_max_drawdown", "max drawdown", 17.0, 15.0, "<=", "%")
    assert "above the maximum 15% by 2.000%" in drawdown.explain()
    assert MetricCheck("oos_tail_loss", "tail loss", 3.0, 5.0, "<=", "%").as_gate()["passed"]
    assert not MetricCheck("oos_sharpe", "Sharpe", float("nan"), 0.5, ">=").passed


def test_track_record_is_measured_against_the_threshold_and_the_days_available():
    z = np.random.default_rng(5).normal(0, 1, 100)
    daily = 0.004 + 0.02 * (z - z.mean()) / z.std(ddof=1)  # Sharpe 0.2 a day, about 3.8 a year
    needed = track_record_needed(daily, min_sharpe=0.5)
    sr, _, sk, ku = stats.moments(daily)
    assert sr * math.sqrt(365) > 0.5
    assert needed["min_track_record_days"] == pytest.approx(
        stats.min_track_record_length(sr, sk, ku, benchmark=0.5 / math.sqrt(365)))
    assert needed["min_track_record_days"] > stats.min_track_record_length(sr, sk, ku)
    assert needed["days_available"] == 100
    assert needed["more_days_needed"] == max(0, math.ceil(needed["min_track_record_days"]) - 100)
    losing = track_record_needed(-np.abs(daily), min_sharpe=0.5)
    assert losing["min_track_record_days"] is None and "no length" in losing["detail"]


def test_the_same_trial_counts_once_and_a_sweep_counts_each_point(tmp_path):
    ledger = TrialLedger(ModelRegistry(tmp_path / "artifacts").root)
    ledger.record("train", "sha-a", {"strategy": "regime"})
    ledger.record("gate", "sha-a", {"strategy": "regime"}, sharpe=0.8)
    assert ledger.count() == 1
    for fast in (10, 20, 30):
        ledger.record("sweep", None, {"strategy": "regime", "fast": fast}, sharpe=fast / 10)
    assert ledger.count() == 4
    ledger.record("sweep", None, {"strategy": "regime", "fast": 10}, sharpe=1.0)
    assert ledger.count() == 4


def test_the_dsr_basis_is_frozen_at_the_first_gating(tmp_path):
    ledger = TrialLedger(ModelRegistry(tmp_path / "artifacts").root)
    ledger.record("train", "sha-a", {"x": 1}, sharpe=0.5)
    first = ledger.basis("sha-a", "policy-1")
    for i in range(10):
        ledger.record("sweep", None, {"x": i + 2}, sharpe=float(i))
    assert ledger.basis("sha-a", "policy-1") == first
    later = ledger.basis("sha-a", "policy-2")
    assert later.trials == 11 and later.enough_for_variance
    assert not first.enough_for_variance and str(MIN_TRIALS_FOR_VARIANCE) in first.as_dict()["variance_note"]


def test_a_torn_last_line_is_ignored_and_fenced_off(tmp_path):
    ledger = TrialLedger(ModelRegistry(tmp_path / "artifacts").root)
    ledger.record("train", "sha-a", {"x": 1})
    with open(ledger.file, "ab") as handle:
        handle.write(b'{"kind": "tr')
    ledger.record("train", "sha-b", {"x": 1})
    assert ledger.count() == 2
