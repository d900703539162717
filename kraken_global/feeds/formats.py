"""Readers for the CSV layouts Kraken data comes in, each returning raw rows with their file line numbers.

Readers only parse; :mod:`kraken_global.feeds.validation` decides whether the rows are usable, so every error
can name the file and the line a person would open in an editor (1-based, header lines counted).

Formats:

- ``cryptodatadownload``: an optional banner line (``Timestamps are UTC timezone,https://www.CryptoDataDownload.com``
  or just the site's address), then a header such as ``Date,Symbol,Open,High,Low,Close,Volume <BASE>,Volume USD``
  or ``Unix Timestamp,Date,Symbol,...`` / ``unix,date,symbol,open,...`` (any case), rows newest first. Times come
  from the unix column when there is one (seconds or milliseconds), else from ``Date`` like ``2019-12-15 07-PM``
  (UTC) or ``2019-12-15 19:00:00``.
- ``ohlcvt``: Kraken's OHLCVT export, no header, ``unix_seconds,open,high,low,close,volume,trades``, oldest first.
- ``trades``: Kraken's trade history export, no header, ``unix_seconds,price,volume``, oldest first.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import pandas as pd

from kraken_global.errors import DataError
from kraken_global.files import check_regular

FORMATS = ("cryptodatadownload", "ohlcvt", "trades")
PRICE_COLUMNS = ("open", "high", "low", "close")
CANDLE_COLUMNS = (*PRICE_COLUMNS, "volume")
# what reading a damaged file raises: a compressed file cut short (EOFError), a corrupt stream (zlib.error, gzip's
# BadGzipFile), a disk error (OSError)
DAMAGED = (EOFError, zlib.error, OSError)


def damaged(exc: BaseException, path: Path) -> DataError:
    """The one message for a data file that cannot be read to its end."""
    import gzip

    if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile):
        return DataError(f"cannot read file: {exc.strerror or exc}", str(path))
    return DataError(f"cannot be read to its end, the file is damaged or cut short ({exc or type(exc).__name__}): "
                     "download or copy it again", str(path))


def _is_banner(line: str) -> bool:
    """CryptoDataDownload's first line, in any of its forms (``Timestamps are UTC timezone,https://www.Crypto
    DataDownload.com``, the address alone, ``CryptoDataDownload.com``...)."""
    low = line.lower()
    return "cryptodatadownload" in low or low.startswith("timestamps are utc")


def _is_cdd_header(line: str) -> bool:
    low = line.lower().lstrip("\ufeff")
    return low.startswith(("date,", "unix,", "unix timestamp,", "timestamp,", "time,")) and "open" in low


def detect_format(path: Path) -> str:
    """Guess the format from the first line of ``path``."""
    first = _first_line(path)
    if _is_banner(first) or _is_cdd_header(first):
        return "cryptodatadownload"
    fields = first.split(",")
    if len(fields) in (6, 7):
        return "ohlcvt"
    if len(fields) == 3:
        return "trades"
    raise DataError(
        f"cannot tell the format from the first line {first[:60]!r}: expected a CryptoDataDownload file, "
        "a Kraken OHLCVT export (7 columns) or a Kraken trades export (3 columns); "
        f"if it is one of them, say which with --format or data.format ({', '.join(FORMATS)})",
        str(path), 1,
    )


def _first_line(path: Path) -> str:
    try:
        with _open_text(path) as handle:
            return handle.readline().strip()
    except DAMAGED as exc:
        raise damaged(exc, path) from exc
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
    check_regular(path, "data file", DataError)  # a FIFO or a device would block or never end
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt not in FORMATS:
        raise DataError(f"unknown data format {fmt!r}; use one of: auto, {', '.join(FORMATS)}", str(path))
    reader = {"cryptodatadownload": _read_cdd, "ohlcvt": _read_ohlcvt, "trades": _read_trades}[fmt]
    try:
        frame = reader(path)
    except DAMAGED as exc:
        raise damaged(exc, path) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        others = ", ".join(f for f in FORMATS if f != fmt)
        raise DataError(f"cannot parse as {fmt}: {exc}; if the file is in another layout, force it with --format "
                        f"or data.format ({others})", str(path)) from exc
    return frame, fmt


def _numeric(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def _read_cdd(path: Path) -> pd.DataFrame:
    skip = 1 if _is_banner(_first_line(path)) else 0
    frame = pd.read_csv(path, skiprows=skip, dtype=str, keep_default_na=False)
    names = {c.strip().lstrip("\ufeff").lower(): c for c in frame.columns}
    volume = [names[c] for c in names if c.startswith("volume") and c != "volume usd" and c != "volume usdt"]
    stamp = next((names[c] for c in ("unix timestamp", "unix", "timestamp", "time") if c in names), None)
    needed = {"open", "high", "low", "close"}
    if not needed <= set(names) or not volume or (stamp is None and "date" not in names):
        raise ValueError("expected columns Date or Unix (Unix Timestamp), Open, High, Low, Close, Volume <BASE>; "
                         f"got {list(frame.columns)}")
    times = _parse_unix_any(frame[stamp]) if stamp is not None else _parse_cdd_dates(frame[names["date"]])
    out = pd.DataFrame({
        "timestamp": times,
        "open": frame[names["open"]], "high": frame[names["high"]], "low": frame[names["low"]],
        "close": frame[names["close"]], "volume": frame[volume[0]],
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


def _parse_unix_any(values: pd.Series) -> pd.Series:
    """Unix time in seconds or milliseconds (CryptoDataDownload has used both), told apart by size."""
    numbers = pd.to_numeric(values, errors="coerce")
    millis = numbers.abs() > 1e11
    seconds = numbers.where(~millis, numbers / 1000.0)
    return pd.to_datetime(seconds, unit="s", errors="coerce").astype("datetime64[ns]")


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
