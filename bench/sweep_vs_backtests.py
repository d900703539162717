"""Benchmark: a 200-point sweep against the same points as separate ``kraken-global backtest`` runs, per point.

The sweep (serial, in one process: candles and warm-up loaded once for the points that share them, no process
start-up per point) runs 200 points of the baseline on BTC, ETH and XRP at 4h over 2019 (``configs/quick.yaml``).
The alternative a user has without it, one ``kraken-global backtest`` per point, is timed on a sample of
``--separate`` of the same points (each a new process, one after another) and taken per point. Also printed:
``run_backtest`` in one process without shared inputs, which isolates what sharing the inputs saves. The figure is
separate seconds per point / sweep seconds per point (goal: >= 2). Exits 1 when the goal is missed.

    .venv/bin/python bench/sweep_vs_backtests.py [--separate 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kraken_global.config import dump_config, load_config
from kraken_global.runners.backtest import run_backtest
from kraken_global.runners.grid import parse_grid
from kraken_global.runners.sweep import run_sweep

GOAL = 2.0
ROOT = Path(__file__).resolve().parents[1]
QUICK = ROOT / "configs" / "quick.yaml"
GRID = ["strategy.params.fast=" + ",".join(str(f) for f in range(20, 120, 5)),  # 20 values
        "strategy.params.slow=" + ",".join(str(s) for s in range(150, 350, 20))]  # x 10 = 200 points
KG = Path(sys.executable).with_name("kraken-global")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--separate", type=int, default=20, help="separate backtest runs timed (a sample)")
    args = parser.parse_args()
    grid = parse_grid(GRID)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["KRAKEN_GLOBAL_KEY_DIR"] = str(Path(tmp) / "keys")  # the trial ledger's key: not the user's
        config = load_config(QUICK).with_overrides({"ml.artifacts": str(Path(tmp) / "artifacts")})
        started = time.perf_counter()
        run_sweep(config, grid, Path(tmp) / "sweep")
        sweep_s = (time.perf_counter() - started) / grid.size
        sample = [grid.point(i * grid.size // args.separate) for i in range(args.separate)]
        started = time.perf_counter()
        for overrides in sample:
            run_backtest(config.with_overrides(overrides), with_baseline=False)
        in_process_s = (time.perf_counter() - started) / len(sample)
        started = time.perf_counter()
        for number, overrides in enumerate(sample):
            point = Path(tmp) / f"point-{number}.yaml"
            point.write_text(dump_config(config.with_overrides(overrides)))
            subprocess.run([str(KG), "backtest", "--config", str(point), "--out", str(Path(tmp) / f"run-{number}"),
                            "--no-plot", "--no-progress"], check=True, capture_output=True, cwd=ROOT)
        separate_s = (time.perf_counter() - started) / len(sample)
    ratio = separate_s / sweep_s
    print(f"sweep of {grid.size} points (serial): {sweep_s * 1000:.0f} ms a point")
    print(f"run_backtest per point in one process, inputs loaded each time: {in_process_s * 1000:.0f} ms a point")
    print(f"separate `kraken-global backtest` runs ({len(sample)} of the points): {separate_s * 1000:.0f} ms a point")
    print(f"200-point sweep vs separate backtests: {ratio:.1f}x faster per point (goal >= {GOAL}x)")
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
