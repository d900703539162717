"""Warm-up before ``--from``: the history before the evaluation period is loaded, used and never reported."""

from __future__ import annotations

import pandas as pd
import pytest

from kraken_global.assembly.cerebro import WARMUP_LABEL
from kraken_global.config import BacktestConfig
from kraken_global.reports.summary import notes
from kraken_global.runners.backtest import run_backtest


def _run(start: str, end: str = "2018-06-30"):
    config = BacktestConfig().with_overrides({
        "universe.pairs": ["BTC/USD", "ETH/USD", "XRP/USD"], "data.start": start, "data.end": end,
        "run.progress": False})
    return run_backtest(config, with_baseline=False)


@pytest.fixture(scope="module")
def early():
    return _run("2018-01-01")


@pytest.fixture(scope="module")
def late():
    return _run("2018-04-01")


def test_from_reports_the_same_regimes_as_a_run_started_earlier(early, late):
    start = pd.Timestamp("2018-04-01")
    late_regimes = late.equity["regime"]
    early_regimes = early.equity["regime"][early.equity.index > start]
    assert late_regimes.index[0] == start + pd.Timedelta(hours=1)  # the first evaluated candle starts at --from
    pd.testing.assert_series_equal(late_regimes, early_regimes)
    assert WARMUP_LABEL not in set(late_regimes)
    system = late.metrics["regime_system"]
    assert system["warmup_bars"] == 0 and "WARMUP" not in system["regimes"]
    assert sum(row["bars"] for row in system["regimes"].values()) == len(late.equity)


def test_the_evaluation_period_alone_is_reported(late):
    start = pd.Timestamp("2018-04-01")
    assert late.equity.index.min() == start + pd.Timedelta(hours=1)  # equity is stamped at the candle's close
    assert late.fills.empty or pd.to_datetime(late.fills["dt"]).min() >= start
    run = late.metrics["run"]
    assert run["bars"] == len(late.equity) and pd.Timestamp(run["first_bar"]) == start
    assert run["warmup"]["missing_days"] == 0 and run["warmup"]["bars_available"] >= run["warmup"]["bars_needed"]
    assert late.metrics["performance"]["start_value"] == pytest.approx(late.config.broker.cash)


def test_missing_history_is_counted_in_days_and_shown_as_warmup():
    result = _run("2017-07-20", "2017-12-31")  # the bundled files begin on 2017-07-01
    warmup = result.metrics["run"]["warmup"]
    assert warmup["missing_days"] > 50
    labels = result.equity["regime"]
    assert labels.iloc[0] == WARMUP_LABEL and (labels == WARMUP_LABEL).sum() == \
        result.metrics["regime_system"]["warmup_bars"]
    neutral_in_warmup = result.plan.loc[result.plan["warmup"], "regime"]
    assert len(neutral_in_warmup) > 0  # the detector's warm-up is counted as warm-up, not NEUTRAL
    assert any(f"lacks {warmup['missing_days']:g} days" in line for line in notes(result))
