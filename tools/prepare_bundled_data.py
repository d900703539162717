"""Rebuild ``kraken_global/bundled/data`` from the project's shared copies of the real Kraken data.

Usage: ``python tools/prepare_bundled_data.py ../shared/data``

The CryptoDataDownload files say "UTC" but, compared bar by bar with Kraken's own OHLCVT export, the rows
labelled 2017-09-22 20:00 .. 2017-11-12 03:00 are in New York local time (EDT, then EST after 2017-11-05):
the source switched to New York time at 2017-09-23 00:00 UTC and back to UTC at 2017-11-12 09:00 UTC, where
the five New York-labelled bars 23:00 .. 03:00 sit interleaved with their own UTC-labelled copies 04:00 ..
08:00 (which is why the loader rejects the original files as unsorted). This script re-labels that stretch
from America/New_York to UTC, drops the exact duplicates that result, and writes the rows newest first again.
The hours that the switch skipped (4 on 2017-09-22, 1 at the 2017-11-05 DST change) stay missing and are
filled flat by the loader's gap policy. The OHLCVT files are copied unchanged.
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


NEW_YORK_FIRST = "2017-09-22 20:00"
NEW_YORK_LAST = "2017-11-12 03:00"
DST_END_AMBIGUOUS = "2017-11-05 01:00"
LABEL_FORMAT = "%Y-%m-%d %I-%p"


def clean_cdd(text: str) -> tuple[str, int, int]:
    """Re-label the New York stretch to UTC; returns (text, rows re-labelled, duplicate rows dropped)."""
    import pandas as pd

    lines = text.splitlines(keepends=True)
    header, body = lines[:2], lines[2:]
    labels = pd.to_datetime([line.split(",", 1)[0] for line in body], format=LABEL_FORMAT)
    in_ny = (labels >= pd.Timestamp(NEW_YORK_FIRST)) & (labels <= pd.Timestamp(NEW_YORK_LAST))
    # the interleaved UTC copies 04:00..08:00 are outside the window; everything inside it is New York time
    ny_sorted = pd.DatetimeIndex(sorted(labels[in_ny]))
    # the file has one 01:00 on 2017-11-05 and Kraken's export shows it is the EST one (06:00 UTC)
    is_dst = ny_sorted < pd.Timestamp(DST_END_AMBIGUOUS)
    utc_of = dict(zip(ny_sorted, ny_sorted.tz_localize("America/New_York", ambiguous=is_dst)
                      .tz_convert("UTC").tz_localize(None), strict=True))
    rows: dict[pd.Timestamp, str] = {}
    dropped = 0
    for line, label, ny in zip(body, labels, in_ny, strict=True):
        stamp = utc_of[label] if ny else label
        rest = line.split(",", 1)[1]
        if stamp in rows:
            if rows[stamp].split(",", 1)[1] != rest:
                raise SystemExit(f"conflicting rows for {stamp}: {rows[stamp]!r} vs {line!r}")
            dropped += 1
            continue
        rows[stamp] = f"{stamp.strftime(LABEL_FORMAT)},{rest}"
    ordered = [rows[stamp] for stamp in sorted(rows, reverse=True)]
    return "".join(header + ordered), int(in_ny.sum()), dropped


def main(source: Path) -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    for name in CDD_FILES:
        cleaned, relabelled, dropped = clean_cdd((source / "kraken-1h" / f"{name}.csv").read_text())
        _write_gz(TARGET / f"{name}.csv.gz", cleaned)
        print(f"{name}: re-labelled {relabelled} New York rows to UTC, dropped {dropped} duplicates")
    for name in OHLCVT_FILES:
        _write_gz(TARGET / f"{name}.csv.gz", (source / "kraken-ohlcvt" / f"{name}.csv").read_text())
        print(f"{name}: copied")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"))
