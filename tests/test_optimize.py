"""Walk-forward optimization as a user runs it (the real CLI, bundled data): the stitched out-of-sample result,
the per-window choices and their stability, PBO with its slope, the Monte Carlo and the 2x-cost figures, all in
metrics.json and byte-identical when run again; and the same statistics on any results folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kraken_global.cli import main
from kraken_global.research.costs import return_figures

ROOT = Path(__file__).resolve().parents[1]
GRID = ("--set", "strategy.params.fast=20,40,60,80", "--set", "strategy.params.slow=150,200,300,500")


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kraken_global.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def optimized(tmp_path_factory):
    """A 16-point walk-forward of the baseline on 4h bundled data, 2018-01 .. 2019-12 (serial)."""
    folder = tmp_path_factory.mktemp("optimize")
    args = ("optimize", "--config", "configs/quick.yaml", *GRID, "--from", "2018-01-01", "--in-sample-days", "180",
            "--out-of-sample-days", "120", "--out", str(folder / "wf"), "--scheduler", "serial",
            "--artifacts", str(folder / "artifacts"))
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    return folder / "wf", args, done.stdout


def test_optimize_prints_and_stores_every_figure_of_the_done_when(optimized):
    out, _, printed = optimized
    metrics = json.loads((out / "metrics.json").read_text())
    windows = metrics["windows"]
    # 714 days: 180 in sample, then legs of 120 days; the last 54 days are under half a leg and left out
    assert len(windows) == 4 and windows[0]["out_of_sample_period"] == "2018-06-30 .. 2018-10-27"
    assert windows[-1]["out_of_sample_period"] == "2019-06-25 .. 2019-10-22"
    assert all(set(w["overrides"]) == {"strategy.params.fast", "strategy.params.slow"} for w in windows)
    assert metrics["stability"]["windows"] == 4 and 1 <= metrics["stability"]["distinct_points"] <= 4
    assert metrics["pbo"]["configurations"] == 16 and metrics["pbo"]["combinations"] == 12_870
    assert metrics["pbo"]["degradation_slope"] is not None and 0 <= metrics["pbo"]["pbo"] <= 1
    assert metrics["monte_carlo"]["days"] == metrics["stitched"]["days"]
    stress = metrics["cost_stress"]
    assert [s["name"] for s in stress["scenarios"]][:3] == ["as configured", "1.5x costs", "2x costs"]
    assert stress["scenarios"][0]["total_return_pct"] == pytest.approx(metrics["stitched"]["total_return_pct"])
    assert stress["scenarios"][2]["total_return_pct"] < stress["scenarios"][0]["total_return_pct"]
    assert isinstance(stress["survives_2x_costs"], bool)
    assert metrics["best_row_statistics"]["trials"] == 16 and metrics["sweep"]["finished"] == 16
    for line in ("Walk-forward: 4 windows", "Out of sample, stitched", "walk-forward (honest)", "in-sample best",
                 "buy & hold BTC/USD", "stability of the choices", "PBO ", "degradation slope", "Monte Carlo",
                 "2x costs", "DSR"):
        assert line in " ".join(printed.split()), line


def test_the_stitched_days_are_the_out_of_sample_legs_and_nothing_else(optimized):
    out, _, _ = optimized
    metrics = json.loads((out / "metrics.json").read_text())
    daily = pd.read_csv(out / "walk_forward.csv", index_col=0, parse_dates=True)
    assert str(daily.index[0].date()) == metrics["stitched"]["first_day"] == "2018-06-30"
    assert daily.index.is_unique and (daily.index.to_series().diff().dropna() == pd.Timedelta(days=1)).all()
    stitched = return_figures(daily["walk_forward"].to_numpy())
    assert stitched["total_return_pct"] == pytest.approx(metrics["stitched"]["total_return_pct"])
    for number, window in enumerate(metrics["windows"]):
        leg = daily.loc[daily["window"] == number, "walk_forward"].to_numpy()
        assert return_figures(leg)["sharpe"] == pytest.approx(window["out_of_sample"]["sharpe"])
    assert np.isfinite(daily["in_sample_best"]).all() and np.isfinite(daily["buy_and_hold"]).all()


def test_optimize_run_again_resumes_its_sweep_and_writes_the_same_bytes(optimized):
    out, args, _ = optimized
    before = (out / "metrics.json").read_bytes(), (out / "points.jsonl").read_bytes()
    again = cli(*args, "--json")
    assert again.returncode == 0, again.stderr
    assert (out / "metrics.json").read_bytes() == before[0]
    assert (out / "points.jsonl").read_bytes() == before[1]  # no point ran twice
    assert json.loads(again.stdout)["pbo"] == json.loads(before[0])["pbo"]


def research(capsys, *args: str) -> tuple[int, str, str]:
    """``kraken-global research ...`` in this process (the parser and handler a user's command runs)."""
    code = main(["research", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_research_commands_on_a_walk_forward_folder(optimized, capsys):
    out, _, _ = optimized
    metrics = json.loads((out / "metrics.json").read_text())
    code, printed, _ = research(capsys, "monte-carlo", str(out), "--json")
    assert code == 0 and json.loads(printed) | {"source": None} == metrics["monte_carlo"] | {"source": None}
    code, printed, _ = research(capsys, "pbo", str(out), "--splits", "8")
    assert code == 0 and "PBO" in printed and "S=8" in printed
    code, printed, _ = research(capsys, "stress", str(out), "--point", "4", "--json")
    section = json.loads(printed)
    assert "point 4 (strategy.params.fast=40, strategy.params.slow=150)" in section["source"]
    assert len(section["scenarios"]) == 4
    code, _, error = research(capsys, "pbo", str(out), "--splits", "7")
    assert code == 2 and error.count("\n") == 1 and "even number" in error


def test_backtest_with_monte_carlo_and_stress_and_research_on_its_folder(tmp_path, capsys):
    out = tmp_path / "quick"
    done = cli("backtest", "--config", "configs/quick.yaml", "--out", str(out), "--no-plot", "--no-progress",
               "--monte-carlo", "--stress")
    assert done.returncode == 0, done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    scenarios = {s["name"]: s for s in metrics["cost_stress"]["scenarios"]}
    assert scenarios["as configured"]["total_return_pct"] == pytest.approx(metrics["performance"]["total_return_pct"])
    assert scenarios["2x costs"]["total_return_pct"] < scenarios["1.5x costs"]["total_return_pct"] < \
        scenarios["as configured"]["total_return_pct"]
    assert metrics["monte_carlo"]["days"] == metrics["performance"]["days"]
    assert "the edge" in done.stdout and "Monte Carlo" in done.stdout
    code, printed, _ = research(capsys, "monte-carlo", str(out), "--json")
    assert code == 0 and json.loads(printed) | {"source": None} == metrics["monte_carlo"] | {"source": None}
    code, _, error = research(capsys, "pbo", str(out))
    assert code == 2 and "holds no sweep" in error
