"""The backtest as a user runs it: the real CLI in a subprocess, on the bundled data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from kraken_global.config import BacktestConfig
from kraken_global.reports.summary import metrics_json
from kraken_global.runners.backtest import run_backtest

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kraken_global.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def test_default_backtest_writes_every_result_and_prints_the_summary(tmp_path):
    out = tmp_path / "default"
    done = cli("backtest", "--config", "configs/default.yaml", "--out", str(out), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert {p.name for p in out.iterdir()} == {"metrics.json", "trades.csv", "equity.csv", "config.yaml",
                                               "report.png"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["run"]["pairs_traded"] == ["BTC/USD", "ETH/USD", "XRP/USD"]
    assert metrics["run"]["pairs_without_data"] == ["SOL/USD", "ADA/USD", "DOT/USD", "LINK/USD", "DOGE/USD",
                                                    "POL/USD", "AVAX/USD"]
    assert metrics["run"]["bars"] == 21_537
    assert metrics["trading"]["trades"] > 5 and metrics["trading"]["fees_paid"] > 0
    trades = pd.read_csv(out / "trades.csv")
    assert trades["fee"].sum() == pytest.approx(metrics["trading"]["fees_paid"])
    equity = pd.read_csv(out / "equity.csv")
    assert equity["value"].iloc[-1] == pytest.approx(metrics["performance"]["end_value"])
    assert "total return" in done.stdout and "buy & hold BTC/USD" in done.stdout
    assert "SOL/USD" in done.stdout  # pairs without data are named
    system = metrics["regime_system"]
    assert system["regimes_not_seen"] == [] and system["checks"]["max_active_strategies"] <= 2
    for regime in ("RISK_ON", "NEUTRAL", "RISK_OFF", "PANIC"):
        assert system["regimes"][regime]["share_of_time_pct"] > 1
        assert regime in done.stdout
    assert "baseline" in metrics and "baseline_value" in equity and "regime" in equity
    assert "Strategies: time holding a slot" in done.stdout


def test_same_config_data_and_seed_give_byte_identical_metrics(tmp_path):
    args = ["backtest", "--config", "configs/regime-2019.yaml", "--no-plot", "--no-progress", "--seed", "11"]
    first = cli(*args, "--out", str(tmp_path / "a"))
    second = cli(*args, "--out", str(tmp_path / "b"))
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert (tmp_path / "a" / "metrics.json").read_bytes() == (tmp_path / "b" / "metrics.json").read_bytes()
    assert (tmp_path / "a" / "trades.csv").read_bytes() == (tmp_path / "b" / "trades.csv").read_bytes()


def test_cli_overrides_reach_the_run(tmp_path):
    done = cli("backtest", "--config", "configs/quick.yaml", "--pairs", "ETH/USD,XRPUSD", "--from", "2017-08-01",
               "--to", "2017-12-31", "--timeframe", "1d", "--out", str(tmp_path), "--no-plot", "--no-progress")
    assert done.returncode == 2 and "needs more than 300 to warm up" in done.stderr  # data since 2017-07 only
    done = cli("backtest", "--config", "configs/quick.yaml", "--pairs", "ETH/USD,XRPUSD", "--from", "2019-01-01",
               "--to", "2019-06-30", "--timeframe", "4h", "--out", str(tmp_path), "--no-plot", "--no-progress")
    assert done.returncode == 0, done.stderr
    run = json.loads((tmp_path / "metrics.json").read_text())["run"]
    assert run["pairs_traded"] == ["ETH/USD", "XRP/USD"] and run["timeframe"] == "4h"
    assert run["first_bar"] == "2019-01-01 00:00:00" and run["last_bar"] == "2019-06-30 20:00:00"


@pytest.mark.parametrize(("args", "message"), [
    (["backtest", "--pairs", "FOO/USD"], "error: invalid configuration in <command line>: universe: unknown pair"),
    (["backtest", "--timeframe", "3x"], "data.timeframe: timeframe '3x' is not valid"),
    (["backtest", "--config", "nope.yaml"], "error: config nope.yaml does not exist"),
    (["backtest", "--from", "2030-01-01", "--pairs", "BTC/USD"], "error: no data for any of BTC/USD"),
    (["backtest", "--data-dir", "/nonexistent"], "data directory not found"),
])
def test_bad_input_is_one_clear_message_and_exit_code_2(args, message, tmp_path):
    done = cli(*args, "--out", str(tmp_path), "--no-progress")
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_arguments_are_rejected_by_the_parser():
    done = cli("backtest", "--from", "yesterday")
    assert done.returncode == 2 and "is not a date in YYYY-MM-DD form" in done.stderr


@pytest.mark.parametrize("strategy", [{"strategy.name": "regime"},
                                      {"strategy.name": "baseline", "strategy.params": {"fast": 48, "slow": 240}}])
def test_results_do_not_depend_on_cerebro_mode(strategy):
    config = BacktestConfig().with_overrides({"data.start": "2019-01-01", "data.end": "2019-06-30",
                                              "universe.pairs": ["BTC/USD", "ETH/USD", "XRP/USD"], **strategy})
    reference = metrics_json(run_backtest(config, with_baseline=False))
    assert json.loads(reference)["trading"]["trades"] > 0
    for preload, runonce in ((True, False), (False, False)):
        assert metrics_json(run_backtest(config, preload=preload, runonce=runonce, with_baseline=False)) == reference
