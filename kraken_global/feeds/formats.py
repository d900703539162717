"""Readers for the CSV layouts Kraken data comes in, each returning raw rows with their file line numbers.

Readers only parse; :mod:`kraken_global.feeds.validation` decides whether the rows are usable, so every error
can name the file and the line a person would open in an editor (1-based, header lines counted).

Formats:

- ``cryptodatadownload``: line 1 a banner, line 2 ``Date,Symbol,Open,High,Low,Close,Volume <BASE>,Volume USD``,
  rows newest first, ``Date`` like ``2019-12-15 07-PM`` (UTC) or ``2019-12-15 19:00:00``.
- ``ohlcvt``: Kraken's OHLCVT export, no header, ``unix_seconds,open,high,low,close,volume,trades``, oldest first.
- ``trades``: Kraken's trade history export, no header, ``unix_seconds,price,volume``, oldest first.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kraken_global.errors import DataError

FORMATS = ("cryptodatadownload", "ohlcvt", "trades")
PRICE_COLUMNS = ("open", "high", "low", "close")
CANDLE_COLUMNS = (*PRICE_COLUMNS, "volume")


def detect_format(path: Path) -> str:
    """Guess the format from the first line of ``path``."""
    first = _first_line(path)
    if first.startswith("Timestamps") or first.lower().startswith("date,") or first.startswith("unix,"):
        return "cryptodatadownload"
    fields = first.split(",")
    if len(fields) in (6, 7):
        return "ohlcvt"
    if len(fields) == 3:
        return "trades"
    raise DataError(
        f"cannot tell the format from the first line {first[:60]!r}: expected a CryptoDataDownload file, "
        "a Kraken OHLCVT export (7 columns) or a Kraken trades export (3 columns)",
        str(path), 1,
    )


def _first_line(path: Path) -> str:
    try:
        with _open_text(path) as handle:
            return handle.readline().strip()
    except OSError as exc:
        raise DataError(f"cannot read file: {exc.strerror or exc}", str(path)) from exc
    except UnicodeDecodeError:
        raise DataError("not UTF-8 text: is it a Kraken CSV export?", str(path)) from None


def _open_text(path: Path):
    if str(path).endswith(".gz"):
        import gzip

        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_raw(path: Path, fmt: str = "auto") -> tuple[pd.DataFrame, str]:
    """Parse ``path`` into a raw frame with a ``row`` column of file line numbers; returns (frame, format)."""
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", str(path))
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt not in FORMATS:
        raise DataError(f"unknown data format {fmt!r}; use one of: auto, {', '.join(FORMATS)}", str(path))
    reader = {"cryptodatadownload": _read_cdd, "ohlcvt": _read_ohlcvt, "trades": _read_trades}[fmt]
    try:
        frame = reader(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"cannot parse as {fmt}: {exc}", str(path)) from exc
    return frame, fmt


def _numeric(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def _read_cdd(path: Path) -> pd.DataFrame:
    skip = 1 if _first_line(path).startswith("Timestamps") else 0
    frame = pd.read_csv(path, skiprows=skip, dtype=str, keep_default_na=False)
    frame.columns = [c.strip() for c in frame.columns]
    volume = [c for c in frame.columns if c.startswith("Volume") and c != "Volume USD"]
    needed = {"Date", "Open", "High", "Low", "Close"}
    if not needed <= set(frame.columns) or not volume:
        raise ValueError(f"expected columns Date, Open, High, Low, Close, Volume <BASE>; got {list(frame.columns)}")
    out = pd.DataFrame({
        "timestamp": _parse_cdd_dates(frame["Date"]),
        "open": frame["Open"], "high": frame["High"], "low": frame["Low"], "close": frame["Close"],
        "volume": frame[volume[0]],
    })
    out["row"] = range(skip + 2, skip + 2 + len(out))
    return _numeric(out, CANDLE_COLUMNS)


def _parse_cdd_dates(dates: pd.Series) -> pd.Series:
    text = dates.str.strip()
    parsed = pd.to_datetime(text, format="%Y-%m-%d %I-%p", errors="coerce")
    missing = parsed.isna()
    if missing.any():
        parsed[missing] = pd.to_datetime(text[missing], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    return parsed


def _read_ohlcvt(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, header=None, dtype=str, keep_default_na=False)
    if frame.shape[1] not in (6, 7):
        raise ValueError(
            f"expected 6 or 7 columns (timestamp,open,high,low,close,volume[,trades]); got {frame.shape[1]}")
    names = ["timestamp", *CANDLE_COLUMNS, "trades"][: frame.shape[1]]
    frame.columns = names
    frame["timestamp"] = _parse_unix(frame["timestamp"])
    frame["row"] = range(1, len(frame) + 1)
    return _numeric(frame, tuple(c for c in names if c != "timestamp"))


def _read_trades(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, header=None, dtype=str, keep_default_na=False)
    if frame.shape[1] != 3:
        raise ValueError(f"expected 3 columns (timestamp,price,volume); got {frame.shape[1]}")
    frame.columns = ["timestamp", "price", "volume"]
    frame["timestamp"] = _parse_unix(frame["timestamp"])
    frame["row"] = range(1, len(frame) + 1)
    return _numeric(frame, ("price", "volume"))


def _parse_unix(values: pd.Series) -> pd.Series:
    seconds = pd.to_numeric(values, errors="coerce")
    return pd.to_datetime(seconds, unit="s", errors="coerce").astype("datetime64[ns]")
