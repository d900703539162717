"""The Monte Carlo block bootstrap, the cost scenarios, the walk-forward windows and choices, against values
worked out by hand."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from kraken_global import metrics
from kraken_global.config import BacktestConfig
from kraken_global.errors import InsufficientEvidence
from kraken_global.fees import CURRENT_KRAKEN_PRESET
from kraken_global.research.costs import cost_scenarios, cost_stress, return_figures, scaled_costs
from kraken_global.research.monte_carlo import block_bootstrap, moving_block_indices
from kraken_global.research.objectives import best_column, score_columns
from kraken_global.research.walk_forward import choose, choose_in_sample, stability, walk_forward_windows


def test_blocks_are_runs_of_consecutive_days_cut_to_the_length():
    index = moving_block_indices(10, 4, 50, np.random.default_rng(1))
    assert index.shape == (50, 10)
    for row in index:
        for start in (0, 4):  # blocks of 4, 4 and the first 2 of the third
            assert list(np.diff(row[start:start + 4])) == [1, 1, 1]
        assert row.min() >= 0 and row.max() <= 9


def test_a_constant_series_has_one_outcome_in_every_path():
    result = block_bootstrap([0.001] * 100, seed=3, samples=200)
    assert result.total_return_pct == pytest.approx({"5%": (1.001 ** 100 - 1) * 100, "50%": (1.001 ** 100 - 1) * 100,
                                                     "95%": (1.001 ** 100 - 1) * 100})
    assert set(result.sharpe.values()) == {0.0}  # no variation: Sharpe 0 by the project's convention
    assert set(result.max_drawdown_pct.values()) == {0.0}
    assert result.probability_of_loss == 0.0


def test_one_block_as_long_as_the_series_replays_the_series_itself():
    returns = np.random.default_rng(5).normal(0.001, 0.02, 60)
    result = block_bootstrap(returns, samples=100, block=60)
    values = np.cumprod(np.concatenate([[1.0], 1 + returns]))
    for quantile in ("5%", "50%", "95%"):
        assert result.total_return_pct[quantile] == pytest.approx((values[-1] - 1) * 100)
        assert result.sharpe[quantile] == pytest.approx(metrics.sharpe_ratio(returns))
        assert result.max_drawdown_pct[quantile] == pytest.approx(metrics.max_drawdown_pct(values))


def test_the_bootstrap_is_seeded_and_its_quantiles_are_ordered():
    returns = np.random.default_rng(9).normal(0.0005, 0.03, 365)
    first, again, other = (block_bootstrap(returns, seed=s) for s in (1, 1, 2))
    assert first == again and first != other
    assert first.block_days == round(365 ** (1 / 3)) == 7
    for figure in (first.total_return_pct, first.sharpe, first.max_drawdown_pct):
        assert figure["5%"] <= figure["50%"] <= figure["95%"]
    assert first.to_dict()["samples"] == 2000


@pytest.mark.parametrize("kwargs, message", [({"daily_returns": [0.01] * 19}, "at least 20 daily returns"),
                                             ({"daily_returns": [0.01] * 30, "block": 31}, "use 1 to 30"),
                                             ({"daily_returns": [0.01] * 30, "samples": 10}, "at least 100")])
def test_a_bootstrap_that_would_say_nothing_is_refused(kwargs, message):
    with pytest.raises(InsufficientEvidence, match=message):
        block_bootstrap(**kwargs)


def test_cost_scenarios_scale_every_fee_tier_and_both_slippages():
    config = BacktestConfig().with_overrides({"broker.random_slippage_bps": 2.0})
    scenarios = cost_scenarios(config)
    assert [s.name for s in scenarios] == ["as configured", "1.5x costs", "2x costs",
                                           f"current schedule ({CURRENT_KRAKEN_PRESET})"]
    assert scenarios[0].config == config
    doubled = scenarios[2].config
    base_tiers, tiers = config.broker.fees.schedule().tiers, doubled.broker.fees.schedule().tiers
    assert [t.min_volume for t in tiers] == [t.min_volume for t in base_tiers]
    assert [r for t in tiers for r in (t.maker, t.taker)] == \
        pytest.approx([2 * r for t in base_tiers for r in (t.maker, t.taker)])
    assert (doubled.broker.slippage_bps, doubled.broker.random_slippage_bps) == (10.0, 4.0)
    assert scaled_costs(config, 1.5).broker.slippage_bps == 7.5
    current = scenarios[3].config
    assert current.broker.fees.preset == CURRENT_KRAKEN_PRESET and current.broker.slippage_bps == 5.0
    assert doubled.strategy == config.strategy and doubled.data == config.data  # only costs change


def test_the_edge_survives_2x_costs_only_with_a_positive_sharpe_and_return():
    config = BacktestConfig()
    gains = {1.0: 0.002, 1.5: 0.001, 2.0: 0.0005}

    def run(scenario_config):  # a "backtest" whose mean daily return falls as its costs rise
        multiplier = scenario_config.broker.slippage_bps / 5.0
        return [gains[multiplier] + 0.01 * (-1) ** i for i in range(100)]

    result = cost_stress(config, run)
    assert result.survives_2x_costs
    assert result.sharpe_retained_at_2x == pytest.approx(0.0005 / 0.002)
    gains[2.0] = -0.0005
    assert not cost_stress(config, run).survives_2x_costs
    assert cost_stress(config, run).to_dict()["survives_2x_costs"] is False


def test_return_figures_are_those_of_the_daily_values():
    figures = return_figures([0.1, -0.5, 0.2])
    assert figures["total_return_pct"] == pytest.approx((1.1 * 0.5 * 1.2 - 1) * 100)
    assert figures["max_drawdown_pct"] == pytest.approx(50.0)
    assert figures["sharpe"] == pytest.approx(metrics.sharpe_ratio([0.1, -0.5, 0.2]))
    assert figures["days"] == 3 and not math.isnan(figures["sharpe"])


def test_rolling_windows_tile_the_period_after_the_first_in_sample_window():
    windows = walk_forward_windows(date(2019, 1, 1), date(2019, 1, 31), in_sample_days=10, out_of_sample_days=7)
    spans = [(w.in_sample_start.day, w.in_sample_end.day, w.out_of_sample_end.day) for w in windows]
    # in sample 10 days, out of sample the next 7; the last leg (Jan 25..31) is 7 days; none left after it
    assert spans == [(1, 11, 18), (8, 18, 25), (15, 25, 1)]
    assert windows[-1].out_of_sample_end == date(2019, 2, 1) and windows[-1].out_of_sample_last_day.day == 31
    assert windows[0].to_dict() == {"in_sample_period": "2019-01-01 .. 2019-01-10",
                                    "out_of_sample_period": "2019-01-11 .. 2019-01-17"}


def test_anchored_windows_start_at_the_first_day_and_a_short_last_leg_is_dropped():
    windows = walk_forward_windows(date(2019, 1, 1), date(2019, 1, 28), 10, 7, anchored=True)
    # legs Jan 11..17, 18..24; Jan 25..28 is 4 days, not under half of 7: kept; a 3-day leg would be dropped
    assert [(w.in_sample_start.day, w.in_sample_end.day, w.out_of_sample_last_day.day) for w in windows] == \
        [(1, 11, 17), (1, 18, 24), (1, 25, 28)]
    assert len(walk_forward_windows(date(2019, 1, 1), date(2019, 1, 27), 10, 7, anchored=True)) == 2


def test_a_period_too_short_for_one_window_is_refused_in_one_line():
    with pytest.raises(InsufficientEvidence, match=r"needs at least 14 days, the period .* has 12"):
        walk_forward_windows(date(2019, 1, 1), date(2019, 1, 12), 10, 7)


def test_stability_counts_kept_choices_distinct_points_and_changes_per_key():
    choices = [{"fast": 20, "slow": 200}, {"fast": 20, "slow": 200}, {"fast": 40, "slow": 200},
               {"fast": 20, "slow": 300}]
    assert stability(choices) == {"windows": 4, "kept_share": pytest.approx(1 / 3), "distinct_points": 3,
                                  "changes_per_key": {"fast": 2, "slow": 1}}
    assert stability(choices[:1])["kept_share"] is None
    assert choose([0.5, 2.0, 2.0, -1.0]) == 1  # the first of equal scores


def test_objectives_score_columns_by_sharpe_or_compounded_return():
    matrix = np.array([[0.1, 0.01], [-0.05, 0.01], [0.1, 0.02]])
    assert score_columns(matrix, "total_return") == pytest.approx([(1.1 * 0.95 * 1.1 - 1) * 100,
                                                                    (1.01 * 1.01 * 1.02 - 1) * 100])
    assert score_columns(matrix, "sharpe")[1] == pytest.approx(metrics.sharpe_ratio([0.01, 0.01, 0.02]))
    assert best_column(matrix, "total_return") == 0 and best_column(matrix, "sharpe") == 1


def test_each_window_chooses_on_its_in_sample_days_only():
    days = pd.date_range("2019-01-01", periods=6, freq="D")
    # point 0 shines in the first three days, point 1 in the last three
    matrix = np.array([[0.02, 0.0], [0.03, -0.01], [0.01, 0.0], [-0.05, 0.04], [-0.05, 0.05], [-0.05, 0.06]])
    windows = walk_forward_windows(date(2019, 1, 1), date(2019, 1, 6), in_sample_days=3, out_of_sample_days=2)
    columns, scores = choose_in_sample(days, matrix, windows, "total_return")
    assert columns == [0, 1] and scores[0] == pytest.approx((1.02 * 1.03 * 1.01 - 1) * 100)
    matrix[4:, 0] = 1.0  # a huge future for point 0 changes nothing chosen before it
    assert choose_in_sample(days, matrix, windows[:1], "total_return")[0] == [0]
