"""PBO by CSCV (Bailey, Borwein, Lopez de Prado and Zhu): a hand-worked matrix, a brute-force reference, and the
two cases that say whether it works at all: real edge (PBO near 0) and pure noise (near or above 0.5)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata

from kraken_global import metrics
from kraken_global.errors import InsufficientEvidence
from kraken_global.research.pbo import pbo

ANNUAL = math.sqrt(365)


def _block(mean: float, d: float = 0.01) -> list[float]:
    """Five days with mean ``mean`` and sample standard deviation ``d`` exactly: Sharpe mean / d per day."""
    return [mean + d, mean - d, mean + d, mean - d, mean]


def test_pbo_agrees_with_a_hand_computation():
    # Ten configurations, two blocks of five days (S = 2, so two CSCV splits). In block A configuration j has a
    # daily Sharpe of 0.1 (j + 1), in block B of 0.12 (10 - j): the best of each half is the worst of the other.
    columns = [_block(0.001 * (j + 1)) + _block(0.0012 * (10 - j)) for j in range(10)]
    result = pbo(np.array(columns).T, splits=2)
    # split 1: in sample A, n* = 9 (Sharpe 1.0/day); out of sample B its Sharpe 0.12 is the lowest: rank 1 of 10,
    # w = 1/11, logit ln(1/10). Split 2: in sample B, n* = 0 (1.2/day), out of sample A 0.1: rank 1 again.
    assert result.combinations == 2 and result.configurations == 10 and result.days == 10
    assert result.pbo == 1.0
    assert result.logit_mean == pytest.approx(math.log(1 / 10))
    assert result.probability_of_loss == 0.0
    # the pairs (IS, OOS) are (1.0, 0.12) and (1.2, 0.1) per day: slope -0.1, intercept 0.22 per day
    assert result.degradation_slope == pytest.approx(-0.1)
    assert result.degradation_intercept == pytest.approx(0.22 * ANNUAL)
    assert result.mean_in_sample_sharpe == pytest.approx(1.1 * ANNUAL)


def test_rows_that_do_not_fill_a_block_are_the_oldest_and_are_left_out():
    columns = [_block(0.001 * (j + 1)) + _block(0.0012 * (10 - j)) for j in range(10)]
    matrix = np.array(columns).T
    older = np.vstack([np.full((1, 10), 0.5) * np.arange(10), matrix])  # a wild first day that would change all
    result = pbo(older, splits=2)
    assert result.dropped_days == 1 and result.days == 10
    assert result.to_dict() | {"dropped_days": 0, "convention": ""} == \
        pbo(matrix, splits=2).to_dict() | {"dropped_days": 0, "convention": ""}


def _reference_pbo(matrix: np.ndarray, splits: int) -> tuple[float, float, float]:
    """The paper's procedure, written the slow and obvious way."""
    days, n = matrix.shape
    size = days // splits
    rows = matrix[days - size * splits:]
    blocks = [rows[i * size:(i + 1) * size] for i in range(splits)]
    logits, pairs = [], []
    for chosen in itertools.combinations(range(splits), splits // 2):
        inside = np.vstack([blocks[i] for i in chosen])
        outside = np.vstack([blocks[i] for i in range(splits) if i not in chosen])
        r_is = [metrics.sharpe_ratio(inside[:, j]) for j in range(n)]
        r_oos = [metrics.sharpe_ratio(outside[:, j]) for j in range(n)]
        best = int(np.argmax(r_is))
        omega = rankdata(r_oos)[best] / (n + 1)
        logits.append(math.log(omega / (1 - omega)))
        pairs.append((r_is[best], r_oos[best]))
    x, y = np.array(pairs).T
    slope = np.polyfit(x, y, 1)[0]
    return float(np.mean(np.array(logits) <= 0)), float(slope), float(np.mean(y < 0))


@pytest.mark.parametrize("splits", [4, 6])
def test_pbo_equals_a_brute_force_reference(splits):
    rng = np.random.default_rng(splits)
    matrix = rng.normal(0.0005, 0.02, size=(splits * 9 + 3, 12))
    result = pbo(matrix, splits=splits)
    expected_pbo, expected_slope, expected_loss = _reference_pbo(matrix, splits)
    assert result.pbo == pytest.approx(expected_pbo)
    assert result.degradation_slope == pytest.approx(expected_slope)
    assert result.probability_of_loss == pytest.approx(expected_loss)
    assert result.combinations == math.comb(splits, splits // 2)


def test_one_column_of_real_edge_gives_a_pbo_near_zero():
    rng = np.random.default_rng(7)
    matrix = rng.normal(0.0, 0.02, size=(730, 20))
    matrix[:, 13] += 0.004  # a daily Sharpe of 0.2: about 3.8 a year
    result = pbo(matrix)
    assert result.combinations == 12_870
    assert result.pbo < 0.05
    assert result.probability_of_loss < 0.05


def test_pure_noise_gives_a_pbo_near_or_above_one_half():
    rng = np.random.default_rng(11)
    result = pbo(rng.normal(0.0, 0.02, size=(730, 50)))
    assert result.pbo >= 0.4
    assert result.degradation_slope is not None and result.degradation_slope < 0.5


def test_configurations_that_never_trade_tie_and_selection_adds_nothing():
    matrix = np.zeros((100, 10))  # ten configurations that never traded: Sharpe 0 everywhere
    result = pbo(matrix, splits=4)
    assert result.pbo == 1.0  # n* ranks at the median: logit 0 counts as overfit
    assert result.logit_mean == 0.0 and result.probability_of_loss == 0.0
    assert result.degradation_slope is None


@pytest.mark.parametrize("shape, splits, message", [
    ((200, 9), 16, "at least 10 configurations, the sweep has 9"),
    ((79, 12), 16, "at least 80 days"),
    ((200, 12), 15, "even number"),
    ((200, 12), 22, "even number"),
])
def test_pbo_refuses_what_would_mean_nothing_in_one_line(shape, splits, message):
    with pytest.raises(InsufficientEvidence, match=message) as caught:
        pbo(np.zeros(shape), splits=splits)
    assert "\n" not in str(caught.value)


def test_a_matrix_with_missing_days_is_refused():
    matrix = np.zeros((100, 10))
    matrix[5, 3] = np.nan
    with pytest.raises(InsufficientEvidence, match="NaN"):
        pbo(matrix, splits=4)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), columns=st.integers(10, 30), splits=st.sampled_from([2, 4, 6]))
def test_pbo_does_not_depend_on_the_order_of_the_configurations(seed, columns, splits):
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, 0.02, size=(splits * 6, columns))
    shuffled = matrix[:, rng.permutation(columns)]
    first, second = pbo(matrix, splits), pbo(shuffled, splits)
    assert first.pbo == pytest.approx(second.pbo)
    assert first.probability_of_loss == pytest.approx(second.probability_of_loss)
    assert 0.0 <= first.pbo <= 1.0
