"""Features, training, the model's effect on trading, the trust statistics, and the gates end to end."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from kraken_global.config import BacktestConfig
from kraken_global.feeds import bundled_data_dir, load_candles
from kraken_global.feeds.sources import BUNDLED_FILES
from kraken_global.ml import stats
from kraken_global.ml.features import FEATURES, compute_features, forward_label
from kraken_global.ml.training import TrainingSettings, dataset, purged_folds, train
from kraken_global.runners.backtest import run_backtest

ROOT = Path(__file__).resolve().parents[1]
HOUR = pd.Timedelta(hours=1)
PAIRS = ["BTC/USD", "ETH/USD", "XRP/USD"]


@pytest.fixture(scope="module")
def candles() -> dict[str, pd.DataFrame]:
    end = pd.Timestamp("2019-01-01")
    return {s: load_candles(bundled_data_dir() / BUNDLED_FILES[s], end=end) for s in PAIRS}


def test_features_use_no_future_bars(candles):
    frame = candles["BTC/USD"]
    cut = 5000
    changed = frame.copy()
    changed.iloc[cut:] *= 1.7
    pd.testing.assert_frame_equal(compute_features(frame).iloc[:cut], compute_features(changed).iloc[:cut])
    assert list(compute_features(frame).columns) == list(FEATURES)


def test_labels_look_ahead_and_are_unknown_at_the_end(candles):
    label = forward_label(candles["BTC/USD"], 24)
    assert label.iloc[-24:].isna().all() and label.iloc[:-24].notna().all()


def test_walk_forward_folds_purge_labels_that_reach_the_test_window(candles):
    settings = TrainingSettings(horizon=24, embargo=12, folds=3)
    data = dataset(candles, settings.horizon)
    folds = list(purged_folds(data["datetime"], settings, HOUR))
    assert len(folds) == 3
    for train_mask, test_mask in folds:
        last_train = data["datetime"][train_mask].max()
        first_test = data["datetime"][test_mask].min()
        # the last training label ends horizon bars after its row; it must end before the test window starts
        assert last_train + settings.horizon * HOUR < first_test
        assert first_test - last_train > (settings.horizon + settings.embargo - 1) * HOUR


def test_training_records_a_complete_manifest(candles):
    model, manifest = train(candles, TrainingSettings(folds=2, max_iter=20), HOUR, "{}")
    assert manifest["feature_schema"][0] == {"name": "ret_1", "dtype": "float64"}
    assert len(manifest["metrics"]["walk_forward"]) == 2
    assert manifest["training_window"]["pairs"] == PAIRS
    assert len(manifest["data_hash"]) == 64 and manifest["library_versions"]["scikit-learn"]
    assert model.n_features_in_ == len(FEATURES)


def test_the_model_changes_what_the_strategies_do(candles):
    model, _ = train(candles, TrainingSettings(folds=2, max_iter=30), HOUR, "{}")
    config = BacktestConfig().with_overrides({"universe.pairs": PAIRS, "data.start": "2018-10-01",
                                              "data.end": "2019-06-30"})
    without = run_backtest(config, with_baseline=False)
    strict = run_backtest(config.with_overrides({"ml.min_probability": 0.52}), with_baseline=False, model=model)
    buys_without = (without.fills["side"] == "buy").sum()
    buys_with = (strict.fills["side"] == "buy").sum()
    assert buys_without > 0 and buys_with != buys_without
    assert not without.fills.equals(strict.fills)


# Values computed by hand from the papers' formulas (standard-library normal distribution) for a daily Sharpe of
# 0.1 over 250 days with skewness -0.5 and kurtosis 4: sqrt(1 - skew SR + (kurt - 1)/4 SR^2) = 1.0283481900601568.
def test_probabilistic_sharpe_ratio_by_hand():
    assert stats.probabilistic_sharpe(0.1, 250, -0.5, 4.0) == pytest.approx(0.9375434364545412, abs=1e-9)
    assert stats.probabilistic_sharpe(0.1, 250, -0.5, 4.0, benchmark=0.05) == pytest.approx(0.778529665488404,
                                                                                             abs=1e-9)


def test_deflated_sharpe_ratio_by_hand():
    # 10 trials whose Sharpe ratios have variance 0.0025: SR0 = 0.0787299150672875
    assert stats.expected_max_sharpe(10, 0.0025) == pytest.approx(0.0787299150672875, abs=1e-9)
    assert stats.deflated_sharpe(0.1, 250, -0.5, 4.0, 10, 0.0025) == pytest.approx(0.6279330363338281, abs=1e-9)


def test_minimum_track_record_length_by_hand():
    assert stats.min_track_record_length(0.1, -0.5, 4.0) == pytest.approx(287.11122027058974, abs=1e-6)
    assert stats.min_track_record_length(-0.1, 0.0, 3.0) == math.inf


def test_moments_of_a_known_sample():
    sample = [0.01, -0.02, 0.03, 0.0, 0.01]
    sr, n, skewness, kurt = stats.moments(sample)
    assert n == 5 and sr == pytest.approx(0.006 / np.std(sample, ddof=1))
    assert stats.moments([0.01, -0.01] * 50)[2:] == pytest.approx((0.0, 1.0), abs=0.05)  # two-point: kurtosis 1
    assert math.isfinite(skewness) and kurt > 0


# -- the CLI workflow ------------------------------------------------------------------------------------------

def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kraken_global.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    """A 4-hour configuration (fast) and a registry folder; strict and lenient gate thresholds."""
    folder = tmp_path_factory.mktemp("workflow")
    base = {"universe": {"pairs": PAIRS}, "data": {"timeframe": "4h", "start": "2018-01-01"},
            "ml": {"artifacts": str(folder / "artifacts"), "horizon_bars": 6, "embargo_bars": 6},
            "run": {"scheduler": "serial"}}
    strict = folder / "strict.yaml"
    # the strict config has a namespace of its own, under the registry's default (safe) policy
    strict.write_text(yaml.safe_dump({**base, "ml": {**base["ml"], "namespace": "strict"},
                                      "gates": {"min_sharpe": 50.0}}))
    lenient = folder / "lenient.yaml"
    lenient.write_text(yaml.safe_dump({**base, "gates": {"min_sharpe": -50.0, "max_drawdown_pct": 100,
                                                         "max_tail_loss_pct": 100, "max_turnover": 100,
                                                         "dsr_gate": False}}))
    # the lenient config's gates are looser than the default policy: relaxing it is its own audited command
    relaxed = cli("policy", "set", "min_sharpe=-50", "max_drawdown_pct=100", "max_tail_loss_pct=100",
                  "max_turnover=100", "dsr_gate=false", "champion_margin=none",
                  "require_survive_without_best_day=false", "--config", str(lenient),
                  "--confirm", "yes-change-policy")
    assert relaxed.returncode == 0, relaxed.stderr
    return folder, strict, lenient


def _train(config: Path) -> str:
    done = cli("train", "--config", str(config), "--scheduler", "local", "--workers", "2")  # the Dask path
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[1]


def test_gates_fail_with_exit_1_and_promotion_is_refused(workflow):
    _, strict, _ = workflow
    candidate = _train(strict)
    done = cli("gates", candidate, "--config", str(strict))
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    gates = {g["name"]: g for g in report["gates"]}
    assert gates["integrity"]["passed"] and gates["schema"]["passed"] and not gates["oos_sharpe"]["passed"]
    assert "below the minimum 50" in gates["oos_sharpe"]["detail"]
    assert gates["oos_sharpe"]["shortfall"] == pytest.approx(50.0 - gates["oos_sharpe"]["value"])
    assert set(report["systems"]) == {"candidate", "no model"}  # nothing approved in this namespace yet
    assert not gates["beats_no_model"]["passed"] or gates["beats_no_model"]["edge_probability"] >= 0.9
    assert "candidate vs no model" in gates["beats_no_model"]["detail"]
    assert report["operating_point"] == {"min_probability": 0.5, "horizon_bars": 6}
    setup = report["trading_setup"]  # what the backtests traded with, and the data they read
    assert setup["setup"]["broker"]["fees"]["schedule"] == "kraken-legacy" and setup["setup"]["broker"][
        "slippage_bps"] == 5.0 and setup["setup"]["universe"]["pairs"] == PAIRS and len(setup["sha256"]) == 64
    assert set(setup["data"]["pairs"]) == set(PAIRS) and len(setup["data"]["sha256"]) == 64
    assert report["statistics"]["trials"] == 1  # its training and its gating are one trial
    assert 0 <= report["statistics"]["probabilistic_sharpe"] <= 1
    assert "gates for" in done.stderr and "no model" in done.stderr  # the human summary beside the JSON
    again = json.loads(cli("gates", candidate, "--config", str(strict)).stdout)
    assert again["statistics"]["deflated_sharpe"] == report["statistics"]["deflated_sharpe"]  # re-gating: same DSR
    refused = cli("promote", candidate, "--config", str(strict), "--confirm", "yes-promote")
    assert refused.returncode == 1 and "oos_sharpe" in refused.stderr


def test_train_gates_promote_backtest_rollback(workflow, tmp_path):
    _, _, lenient = workflow
    first = _train(lenient)
    done = cli("gates", first, "--config", str(lenient), "--output", str(tmp_path / "report.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((tmp_path / "report.json").read_text())["passed"] is True
    assert cli("promote", first, "--config", str(lenient)).returncode == 2  # no confirmation word
    assert cli("promote", first, "--config", str(lenient), "--confirm", "yes-promote").returncode == 0
    second = _train(lenient)
    gated = cli("gates", second, "--config", str(lenient))
    assert gated.returncode == 0
    systems = json.loads(gated.stdout)["systems"]  # candidate, no model and the approved model side by side
    assert set(systems) == {"candidate", "no model", "approved"} and systems["approved"]["model"]["id"] == first
    assert cli("promote", second, "--config", str(lenient), "--confirm", "yes-promote").returncode == 0
    listing = cli("models", "list", "--config", str(lenient)).stdout
    assert f"{second}  gates: passed  APPROVED" in listing
    backtest = cli("backtest", "--config", str(lenient), "--model", "approved", "--no-plot", "--no-progress",
                   "--out", str(tmp_path / "bt"))
    assert backtest.returncode == 0, backtest.stderr
    recorded = json.loads((tmp_path / "bt" / "metrics.json").read_text())["model"]
    assert recorded["id"] == second and recorded["operating_point"] == {"min_probability": 0.5, "horizon_bars": 6}
    saved = yaml.safe_load((tmp_path / "bt" / "config.yaml").read_text())["ml"]
    assert saved["model_id"] == second and saved["model_sha256"] == recorded["sha256"]
    assert f"model: {second}" in backtest.stdout
    assert "model registry: namespace kraken_global, policy" in backtest.stdout  # the relaxed policy is named
    assert "looser than the defaults" in backtest.stdout and recorded["registry"]["policy_looser_than_defaults"]
    contradicting = tmp_path / "contradicting.yaml"
    contradicting.write_text(lenient.read_text().replace("horizon_bars: 6", "horizon_bars: 12"))
    refused = cli("backtest", "--config", str(contradicting), "--model", "approved", "--no-plot", "--no-progress",
                  "--out", str(tmp_path / "bt2"))
    assert refused.returncode == 2 and "ml.horizon_bars is 12 in the config" in refused.stderr
    assert cli("rollback", "--config", str(lenient), "--confirm", "yes-rollback").returncode == 0
    history = json.loads(cli("models", "history", "--config", str(lenient)).stdout)
    assert history["approved"]["id"] == first
    assert [e["action"] for e in history["audit"]][-3:] == ["promote", "promote", "rollback"]
    assert [change["changes"] for change in history["policy_changes"]][-1]["min_sharpe"] == "-50"
    verify = cli("audit", "verify", "--config", str(lenient))
    assert verify.returncode == 0 and "hash chain intact" in verify.stdout and "policy change at entry" in verify.stdout


def test_gates_report_a_tampered_or_wrongly_shaped_candidate(workflow):
    folder, _, lenient = workflow
    candidate = _train(lenient)
    candidate_dir = folder / "artifacts" / "kraken_global" / "candidates" / candidate
    manifest_path = candidate_dir / "manifest.json"
    entered = manifest_path.read_bytes()
    manifest = json.loads(entered)
    manifest["feature_schema"] = manifest["feature_schema"][::-1]
    manifest_path.write_text(json.dumps(manifest))
    done = cli("gates", candidate, "--config", str(lenient))
    gates = {g["name"]: g for g in json.loads(done.stdout)["gates"]}
    assert done.returncode == 1 and not gates["integrity"]["passed"] and not gates["schema"]["passed"]
    assert "differs from the one entered at training" in gates["integrity"]["detail"]
    manifest_path.write_bytes(entered)
    model = candidate_dir / "model.skops"
    model.write_bytes(model.read_bytes()[:-10])
    done = cli("gates", candidate, "--config", str(lenient))
    gates = {g["name"]: g for g in json.loads(done.stdout)["gates"]}
    assert done.returncode == 1 and not gates["integrity"]["passed"]
    assert "the file was changed or corrupted" in gates["integrity"]["detail"]
    unknown = cli("gates", "20200101T000000Z-deadbeef", "--config", str(lenient))
    assert unknown.returncode == 2 and "no candidate" in unknown.stderr


def test_the_ci_example_fails_the_job_on_an_unknown_candidate(workflow, tmp_path):
    _, _, lenient = workflow
    done = subprocess.run(["bash", str(ROOT / "examples/ci/model-gates.sh"), "19990101T000000Z-00000000",
                           str(lenient)], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={"KRAKEN_GLOBAL": str(Path(sys.executable).parent / "kraken-global"),
                               "PATH": "/usr/bin:/bin", "KRAKEN_GLOBAL_KEY_DIR": os.environ["KRAKEN_GLOBAL_KEY_DIR"]})
    assert done.returncode == 2 and "could not run" in done.stdout
