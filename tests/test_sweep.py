"""Sweeps that scale, tried the way they break: a point must be exactly its own backtest although the inputs are
shared, a killed sweep must resume without losing or doubling a point, a grid is never built in memory, and the
refusals are one line each."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from kraken_global.config import load_config
from kraken_global.errors import ConfigError
from kraken_global.runners.backtest import run_backtest
from kraken_global.runners.grid import Grid, parse_grid
from kraken_global.runners.sweep import run_sweep
from kraken_global.runners.sweep_store import SweepStore, record_days

ROOT = Path(__file__).resolve().parents[1]
QUICK = ROOT / "configs" / "quick.yaml"


def cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kraken_global.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


@pytest.fixture
def quick(tmp_path):
    return load_config(QUICK).with_overrides({"ml.artifacts": str(tmp_path / "artifacts")})


def test_each_point_is_exactly_the_backtest_of_its_config_and_progress_starts_at_once(quick, tmp_path):
    # slow changes the warm-up (so the points load different history) and the combination (80, 60) is refused
    grid = parse_grid(["strategy.params.fast=20,80", "strategy.params.slow=60,240"])
    progress: list[tuple[int, int]] = []
    store = run_sweep(quick, grid, tmp_path / "sweep", on_done=lambda done, total: progress.append((done, total)))
    assert progress[0] == (0, 4) and progress[-1] == (4, 4)  # the size is known before the first point runs
    records = {r["point"]: r for r in store.records()}
    assert "fast (80) must be shorter than slow (60)" in records[2]["error"]
    for point in (0, 1, 3):
        alone = run_backtest(quick.with_overrides(grid.point(point)), with_baseline=False)
        figures = records[point]["figures"]
        assert figures["sharpe"] == alone.metrics["performance"]["sharpe"]
        assert figures["fees_paid"] == alone.metrics["trading"]["fees_paid"]
        daily = alone.daily_returns()
        assert records[point]["daily_returns"] == list(daily.to_numpy())
        assert list(record_days(records[point])) == list(daily.index)
    table = store.table()
    assert list(table["point"]) == [0, 1, 2, 3] and table["error"].notna().tolist() == [False, False, True, False]


def test_the_grid_is_read_lazily_and_numbered_the_same_way_everywhere():
    grid = parse_grid(["a=1,2,3", "b=x,y", "c=[1, 2],5"])
    points = list(grid)
    assert grid.size == 12 and [grid.point(i) for i in range(12)] == points
    assert points[5] == {"a": 2, "b": "x", "c": 5}  # the last key varies fastest
    huge = Grid(tuple((f"k{i}", tuple(range(10))) for i in range(12)))  # 10^12 points: never built
    assert huge.size == 10 ** 12 and huge.point(10 ** 12 - 1) == {f"k{i}": 9 for i in range(12)}
    for bad, message in ((["a=1,2", "a=3"], "given twice"), (["a=1,1"], "listed twice"), (["a"], "KEY=V1,V2")):
        with pytest.raises(ConfigError, match=message):
            parse_grid(bad)


def test_a_grid_above_max_grid_points_is_refused_in_one_line_before_any_work(tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text(QUICK.read_text() + "  max_grid_points: 4\n")  # appended to quick.yaml's run section
    done = cli("sweep", "--config", str(config), "--set", "strategy.params.fast=10,20,30",
               "--set", "strategy.params.slow=100,200", "--out", str(tmp_path / "sweep"), "--scheduler", "serial")
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: the grid has 6 points (3 strategy.params.fast x 2 strategy.params.slow), "
                                   "above run.max_grid_points 4: give fewer values, or raise run.max_grid_points in "
                                   "the config")
    assert not (tmp_path / "sweep").exists()


def test_a_folder_holding_another_sweep_is_refused_not_mixed(quick, tmp_path):
    run_sweep(quick, parse_grid(["strategy.params.fast=20,40"]), tmp_path / "sweep")
    with pytest.raises(ConfigError, match="holds another sweep"):
        run_sweep(quick, parse_grid(["strategy.params.fast=20,50"]), tmp_path / "sweep")
    with pytest.raises(ConfigError, match="holds another sweep"):
        run_sweep(quick.with_overrides({"broker.slippage_bps": 9}), parse_grid(["strategy.params.fast=20,40"]),
                  tmp_path / "sweep")
    with pytest.raises(ConfigError, match="unknown parameter"):  # a wrong key: refused before anything runs
        run_sweep(quick, parse_grid(["strategy.params.fsat=20,40"]), tmp_path / "other")


def _lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


def test_a_killed_sweep_resumes_where_it_stopped_without_losing_or_doubling_a_point(tmp_path):
    out, artifacts = tmp_path / "sweep", tmp_path / "artifacts"
    args = ("sweep", "--config", str(QUICK), "--set", "strategy.params.fast=10,20,30,40,50,60",
            "--set", "strategy.params.slow=100,200", "--out", str(out), "--scheduler", "serial",
            "--artifacts", str(artifacts))
    process = subprocess.Popen([sys.executable, "-m", "kraken_global.cli", *args], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while _lines(out / "points.jsonl") < 2 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    before = (out / "points.jsonl").read_bytes().splitlines()
    assert 2 <= len(before) < 12, "the sweep was not killed in the middle"
    with open(out / "points.jsonl", "ab") as handle:
        handle.write(b'{"point": 11, "overrides": {"strategy.params.fa')  # a line torn by the kill
    resumed = cli(*args)
    assert resumed.returncode == 0, resumed.stderr
    after = (out / "points.jsonl").read_bytes().splitlines()
    assert after[:len(before)] == before  # what was done stays as it was
    assert len(after) == len(before) + 1 + (12 - len(before))  # the torn line, then only the points not done
    assert sorted(r["point"] for r in SweepStore(out).records()) == list(range(12))
    table = pd.read_csv(out / "sweep.csv")
    assert list(table["point"]) == list(range(12)) and table["sharpe"].notna().all()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["finished"] == 12 and metrics["refused"] == 0
    assert metrics["pbo"]["configurations"] == 12 and metrics["best"]["statistics"]["trials"] == 12
    again = cli(*args)  # a finished sweep run again only rewrites its summary, identically
    assert again.returncode == 0 and json.loads((out / "metrics.json").read_text()) == metrics
    assert (out / "points.jsonl").read_bytes().splitlines() == after


def test_regime_points_share_a_plan_only_when_their_regime_settings_agree(tmp_path):
    config = load_config(ROOT / "configs" / "regime-2019.yaml").with_overrides(
        {"data.start": "2019-08-01", "data.end": "2019-09-30", "ml.artifacts": str(tmp_path / "artifacts")})
    grid = parse_grid(["regimes.thresholds.trend_band=0.0,0.05", "strategy.per_strategy.TrendFollower.stop_atr=2,4"])
    records = {r["point"]: r for r in run_sweep(config, grid, tmp_path / "sweep").records()}
    alone = run_backtest(config.with_overrides(grid.point(3)), with_baseline=False)
    assert records[3]["figures"]["sharpe"] == alone.metrics["performance"]["sharpe"]
    assert records[3]["daily_returns"] == list(alone.daily_returns().to_numpy())
    assert records[0]["daily_returns"] != records[2]["daily_returns"]  # another plan, other trades


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small")
    config = load_config(QUICK).with_overrides({"ml.artifacts": str(folder / "artifacts")})
    run_sweep(config, parse_grid(["strategy.params.fast=20,40"]), folder / "sweep")
    return folder / "sweep"


@pytest.mark.parametrize("args, message", [
    (["sweep", "--set", "strategy.params.fast=[1"], "not YAML separated by commas"),
    (["sweep", "--set", "strategy.params.fast="], "expected KEY=V1,V2"),
    (["research", "stress", "{sweep}", "--point", "99"], "outside the grid of 2 points"),
    (["research", "monte-carlo", "{sweep}", "--samples", "5"], "research.monte_carlo_samples"),
    (["research", "pbo", "{damaged}"], "is not a sweep manifest"),
    (["research", "pbo", "{sweep}/sweep.json"], "is not a folder"),
])
def test_bad_research_input_is_one_line(small_sweep, tmp_path, capsys, args, message):
    from kraken_global.cli import main

    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / "sweep.json").write_text('{"identity": 1}')
    argv = [a.format(sweep=small_sweep, damaged=tmp_path / "damaged") for a in args]
    if argv[0] == "sweep":
        argv += ["--config", str(QUICK), "--out", str(tmp_path / "new"), "--scheduler", "serial"]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_a_sweep_does_not_resume_from_points_edited_or_planted_in_its_folder(quick, tmp_path):
    """The folder is outside the registry: a line the ledger did not vouch for is no evidence, for the research
    commands (``optimize`` runs its grid through the same ``run_sweep``) as for the gates
    (tests/test_configuration_attacks.py)."""
    grid = parse_grid(["strategy.params.fast=20,40", "strategy.params.slow=150,300"])
    out = tmp_path / "sweep"
    run_sweep(quick, grid, out)
    run_sweep(quick, grid, out)  # its own lines: resumed (here: nothing left to run)
    points = out / "points.jsonl"
    honest = points.read_bytes()
    lines = honest.splitlines()
    record = json.loads(lines[1])
    record["figures"]["sharpe"] = 9.9  # a weak point made strong
    points.write_bytes(b"\n".join([lines[0], json.dumps(record).encode(), *lines[2:]]) + b"\n")
    from kraken_global.registry.errors import IntegrityError

    with pytest.raises(IntegrityError, match=r"holds 1 point\(s\) the registry's ledger does not vouch for \(point "):
        run_sweep(quick, grid, out)
    points.write_bytes(lines[0] + b"\n")  # the edited line and those after it taken out: the vouched one resumes,
    run_sweep(quick, grid, out)  # the rest runs again
    assert sorted(r["point"] for r in SweepStore(out).records()) == [0, 1, 2, 3]
    # the command line says it in one line, exit 1
    points.write_bytes(b"\n".join([lines[0], json.dumps(record).encode(), *lines[2:]]) + b"\n")
    done = cli("sweep", "--config", str(QUICK), "--set", "strategy.params.fast=20,40",
               "--set", "strategy.params.slow=150,300", "--out", str(out), "--scheduler", "serial",
               "--artifacts", str(tmp_path / "artifacts"))
    assert done.returncode == 1 and "does not vouch for" in done.stderr and "Traceback" not in done.stderr
