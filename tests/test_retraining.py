"""Downtime retraining fires on the schedule, trains and gates a candidate, and never promotes."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from kraken_global.config import BacktestConfig
from kraken_global.ml.retraining import DowntimeRetrainer, ModelRefused, RetrainJob, load_trading_model
from kraken_global.registry import ModelRegistry
from kraken_global.schedule import DowntimeSchedule
from tests.conftest import candles, run
from tests.registry_helpers import passed_candidate, relax_policy


def test_the_retrainer_runs_its_job_when_each_downtime_begins():
    calls: list[datetime] = []
    frame = candles([100.0] * 72, start="2024-01-01 06:00")  # three days of hourly bars
    run({"ETH/USD": frame}, strategy=DowntimeRetrainer, broker_kwargs={"schedule": DowntimeSchedule()},
        job=calls.append)
    assert [c.strftime("%d %H:%M") for c in calls] == ["02 03:00", "03 03:00", "04 03:00"]


def test_a_retrain_trains_and_gates_a_candidate_and_never_promotes(tmp_path):
    registry = ModelRegistry(tmp_path)
    relax_policy(registry)  # the config's lenient gates must be allowed by the registry's policy
    approved = passed_candidate(registry)
    registry.promote(approved, "yes-promote")
    config = BacktestConfig().with_overrides({
        "universe.pairs": ["BTC/USD", "ETH/USD", "XRP/USD"], "data.timeframe": "4h", "data.start": "2018-01-01",
        "ml.horizon_bars": 6, "ml.embargo_bars": 6, "gates.min_sharpe": -50, "gates.max_drawdown_pct": 100,
        "gates.max_tail_loss_pct": 100, "gates.max_turnover": 100, "gates.dsr_gate": False})
    job = RetrainJob(config, registry, background=True)
    job(datetime(2019, 10, 2, 3, 0))
    job.wait(timeout=240)
    (result,) = job.results
    assert result["data_until"] == "2019-10-01" and result["passed"] is True
    manifest = registry.manifest(result["candidate"])
    assert manifest["training_window"]["train_end"] < "2019-10-02"
    assert registry.validation(result["candidate"])["passed"] is True
    assert registry.state()["approved"]["id"] == approved  # a person must promote it
    tail = [e["action"] for e in registry.audit.entries()][-5:]  # its entry, its trials, its gates run: no promote
    assert tail[-1] == "validation" and "candidate" in tail and "promote" not in tail


def test_trading_refuses_to_start_without_a_verified_approved_model(tmp_path):
    registry = ModelRegistry(tmp_path)
    with pytest.raises(ModelRefused, match="refusing to start trading: no model is approved"):
        load_trading_model(registry)
    candidate = passed_candidate(registry)
    registry.promote(candidate, "yes-promote")
    assert load_trading_model(registry)[1]["id"] == candidate
    manifest_path = registry.paths.candidate_dir(candidate) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["sha256"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ModelRefused, match=r"refusing to start trading: the manifest of candidate .* differs from "
                                           r"the one entered at training"):
        load_trading_model(registry)
