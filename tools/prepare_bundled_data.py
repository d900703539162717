"""Rebuild ``kraken_global/bundled/data`` from the project's shared copies of the real Kraken data.

Usage: ``python tools/prepare_bundled_data.py ../shared/data``

The CryptoDataDownload files hold one defect that the loader (rightly) rejects as unsorted: the five bars
2017-11-11 23:00 .. 2017-11-12 03:00 appear a second time, interleaved, under the labels 04:00 .. 08:00 (the
source switched time zones there). This script removes the rows that break the newest-first order, which
leaves a 5-bar gap that the default gap policy fills flat. Everything else is copied byte for byte, gzipped.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

CDD_FILES = ("Kraken_BTCUSD_1h", "Kraken_ETHUSD_1h", "Kraken_XRPUSD_1h", "Kraken_LTCUSD_1h")
OHLCVT_FILES = ("XBTUSD_60", "ETHUSD_60")
TARGET = Path(__file__).resolve().parents[1] / "kraken_global" / "bundled" / "data"


def _write_gz(path: Path, text: str) -> None:
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle:
        handle.write(text.encode())


def clean_cdd(text: str) -> tuple[str, list[str]]:
    """Drop rows whose timestamp is not older than the last kept row (the file is newest first)."""
    from datetime import datetime

    lines = text.splitlines(keepends=True)
    kept, dropped, last = lines[:2], [], None
    for line in lines[2:]:
        stamp = datetime.strptime(line.split(",", 1)[0], "%Y-%m-%d %I-%p")
        if last is not None and stamp >= last:
            dropped.append(line.strip())
            continue
        kept.append(line)
        last = stamp
    return "".join(kept), dropped


def main(source: Path) -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    for name in CDD_FILES:
        cleaned, dropped = clean_cdd((source / "kraken-1h" / f"{name}.csv").read_text())
        _write_gz(TARGET / f"{name}.csv.gz", cleaned)
        print(f"{name}: dropped {len(dropped)} misplaced rows")
    for name in OHLCVT_FILES:
        _write_gz(TARGET / f"{name}.csv.gz", (source / "kraken-ohlcvt" / f"{name}.csv").read_text())
        print(f"{name}: copied")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"))
