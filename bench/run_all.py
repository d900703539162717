"""Runs every benchmark in its own process and prints their figures together; exits 1 if any goal is missed.

    .venv/bin/python bench/run_all.py        (what `make bench` runs)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = ("feed_load.py", "system_vs_plain.py", "walk_forward_scaling.py", "memory.py", "trade_conversion.py",
              "cli_startup.py", "sweep_scaling.py", "sweep_vs_backtests.py", "sweep_memory.py")


def main() -> int:
    figures, failed = [], []
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        done = subprocess.run([sys.executable, str(HERE / name)], capture_output=True, text=True)
        print(done.stdout, end="")
        if done.stderr.strip():
            print(done.stderr[-2000:], file=sys.stderr)
        last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else f"{name}: no figure (crashed)"
        figures.append(("ok  " if done.returncode == 0 else "MISS") + "  " + last)
        if done.returncode != 0:
            failed.append(name)
    print("\n== figures")
    for line in figures:
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
