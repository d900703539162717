"""Honest periods: a short backtest withholds its annualized figures in metrics.json (null, with the reason), and a
backtest of the approved model over its own training window marks that window in sample and reports the rest on
its own, in metrics, equity.csv, the console and the plot."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from rich.console import Console

from kraken_global.config import BacktestConfig
from kraken_global.registry import ModelRegistry
from kraken_global.reports.summary import print_summary, write_results
from kraken_global.runners.backtest import run_backtest
from tests.registry_helpers import passed_candidate

TRAIN_END = pd.Timestamp("2019-01-01")  # registry_helpers' manifest: trained to 2019-01-01, 24 bars of embargo


@pytest.fixture(scope="module")
def model_backtest(tmp_path_factory):
    root = tmp_path_factory.mktemp("in-sample")
    registry = ModelRegistry(root / "artifacts")
    candidate = passed_candidate(registry, seed=3, operating_point={"min_probability": 0.5, "horizon_bars": 24})
    registry.promote(candidate, "yes-promote")
    config = BacktestConfig().with_overrides({
        "universe.pairs": ["BTC/USD", "ETH/USD", "XRP/USD"], "data.start": "2018-12-20", "data.end": "2019-01-12",
        "ml.use_model": "approved", "ml.artifacts": str(root / "artifacts")})
    result = run_backtest(config)
    out = write_results(result, root / "results")
    console = Console(record=True, width=120)
    print_summary(result, out, console)
    return result, out, console.export_text()


def test_a_short_backtest_has_its_annualized_figures_null_with_the_reason(model_backtest):
    _, out, text = model_backtest
    metrics = json.loads((out / "metrics.json").read_text())
    for part in ("performance", "baseline", "benchmark"):
        assert metrics[part]["sharpe"] is None, part
        assert "under 30" in metrics[part]["annualized_withheld"]
    assert metrics["performance"]["annualized_return_pct"] is None
    assert metrics["performance"]["period_days"] == pytest.approx(metrics["run"]["bars"] / 24)
    assert "no annualized figures: the period covers" in " ".join(text.split())


def test_the_models_training_window_is_marked_in_sample_and_the_rest_reported_alone(model_backtest):
    _, out, text = model_backtest
    metrics = json.loads((out / "metrics.json").read_text())
    in_sample = metrics["model"]["in_sample"]
    last_in_sample = TRAIN_END + 24 * pd.Timedelta(hours=1)
    assert pd.Timestamp(in_sample["last_in_sample_bar"]) == last_in_sample
    equity = pd.read_csv(out / "equity.csv", index_col=0, parse_dates=True)
    assert equity["in_sample"].tolist() == (equity.index <= last_in_sample).tolist()
    assert in_sample["bars"] == int(equity["in_sample"].sum())
    assert in_sample["share_pct"] == pytest.approx(100 * in_sample["bars"] / len(equity))
    outside = metrics["out_of_sample"]
    assert pd.Timestamp(outside["first_bar"]) == equity.index[~equity["in_sample"]][0]
    before = equity.loc[equity["in_sample"], "value"].iloc[-1]
    assert outside["start_value"] == pytest.approx(before)
    assert outside["end_value"] == pytest.approx(equity["value"].iloc[-1])
    assert outside["total_return_pct"] == pytest.approx((equity["value"].iloc[-1] / before - 1) * 100)
    assert outside["sharpe"] is None  # ten days: withheld too
    words = " ".join(text.split())
    assert "out of sample" in text and f"{in_sample['share_pct']:.0f}% of this backtest's bars" in words
    assert "The 'out of sample' column covers" in words
    assert (out / "report.png").stat().st_size > 0
