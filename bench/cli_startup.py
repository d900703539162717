"""Benchmark: how fast the CLI answers. ``kraken-global --help``, ``models list`` and ``status`` start a new Python
each time, so their import cost is what a person waits for.

Prints, for each command, the median wall time of ``--repeat`` runs and its ratio to ``python -c pass`` (the
interpreter's own start-up, the floor). Goal: every command under 0.5 s. Exits 1 when the goal is missed.

    .venv/bin/python bench/cli_startup.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_SECONDS = 0.5


def wall(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def median_of(command: list[str], cwd: Path, repeat: int) -> float:
    wall(command, cwd)  # the first run warms the file cache
    return statistics.median(wall(command, cwd) for _ in range(repeat))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "kraken_global.cli"]
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        floor = median_of([sys.executable, "-c", "pass"], cwd, args.repeat)
        commands = {"kraken-global --help": [*cli, "--help"],
                    "kraken-global models list": [*cli, "models", "list", "--artifacts", str(cwd / "artifacts")],
                    "kraken-global status": [*cli, "status", "--results", str(cwd)]}
        timings = {name: median_of(command, cwd, args.repeat) for name, command in commands.items()}
    print(f"python -c pass: {floor:.3f} s (the floor)")
    for name, seconds in timings.items():
        print(f"{name}: {seconds:.3f} s ({seconds / floor:.1f}x python -c pass)")
    worst = max(timings, key=timings.get)
    met = timings[worst] < GOAL_SECONDS
    print(f"CLI start-up: slowest {worst} {timings[worst]:.3f} s, {timings[worst] / floor:.1f}x python -c pass "
          f"(goal < {GOAL_SECONDS} s: {'met' if met else 'MISSED'})")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
