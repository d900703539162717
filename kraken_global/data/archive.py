"""``data import``: Kraken's downloadable archive files into the data folder, in Kraken's OHLCVT layout.

Kraken publishes its history as zip archives of CSV files without header: OHLCVT files ``<ALTNAME>_<minutes>.csv``
(``unix_seconds,open,high,low,close,volume,trades``) and trade files ``<ALTNAME>.csv`` (``unix_seconds,price,
volume``). Either may be given zipped or not. OHLCVT files are merged into the folder's file of the same name
(rows already there are kept); trade files are streamed into candles of the chosen timeframe (bounded memory,
:mod:`~kraken_global.feeds.trade_stream`) and merged the same way. ``pairs`` limits an archive to some pairs
(Kraken's full archive holds hundreds).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kraken_global.errors import DataError
from kraken_global.feeds.formats import _read_ohlcvt
from kraken_global.feeds.trade_stream import read_trade_candles
from kraken_global.feeds.validation import GapPolicy, validate_candles
from kraken_global.files import check_regular

_OHLCVT_NAME = re.compile(r"^([A-Z0-9]+)_(\d+)\.csv$", re.IGNORECASE)
_TRADES_NAME = re.compile(r"^([A-Z0-9]+)\.csv$", re.IGNORECASE)


@dataclass
class Imported:
    source: str
    file: Path
    rows: int
    first_bar: pd.Timestamp
    last_bar: pd.Timestamp


@contextmanager
def _members(path: Path) -> Iterator[list[tuple[str, object]]]:
    """(name, opener) of every CSV in ``path`` (a zip archive or one CSV file)."""
    if path.suffix.lower() == ".zip":
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataError(f"not a readable zip archive: {exc}", str(path)) from exc
        with archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".csv") and not n.endswith("/")]
            yield [(n, lambda n=n: archive.open(n)) for n in names]
    else:
        yield [(path.name, lambda: path.open("rb"))]


def import_files(sources: list[Path], folder: Path, timeframe: pd.Timedelta, altnames: set[str] | None = None,
                 on_file=None) -> list[Imported]:
    """Import every OHLCVT and trade CSV of ``sources`` into ``folder``; see the module docstring."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    minutes = int(pd.Timedelta(timeframe) / pd.Timedelta(minutes=1))
    done: list[Imported] = []
    for source in map(Path, sources):
        check_regular(source, "file to import", DataError)  # a FIFO or a device would block or never end
        with _members(source) as members:
            for name, opener in members:
                base = Path(name).name
                where = f"{source}:{name}" if source.suffix.lower() == ".zip" else str(source)
                ohlcvt, trades = _OHLCVT_NAME.match(base), _TRADES_NAME.match(base)
                altname = (ohlcvt or trades).group(1).upper() if (ohlcvt or trades) else None
                if altname is None or (altnames is not None and altname not in altnames):
                    continue
                if on_file is not None:
                    on_file(where)
                if ohlcvt:
                    with opener() as handle:
                        candles = _read_ohlcvt_handle(handle, where, pd.Timedelta(minutes=int(ohlcvt.group(2))))
                    target = folder / base.upper().replace(".CSV", ".csv")
                else:
                    candles = read_trade_candles(Path(where), timeframe, opener=opener)
                    target = folder / f"{altname}_{minutes}.csv"
                rows = merge_into(target, candles)
                done.append(Imported(where, target, rows, candles.index[0], candles.index[-1]))
    if not done:
        raise DataError("no Kraken OHLCVT (<ALTNAME>_<minutes>.csv) or trade (<ALTNAME>.csv) file found"
                        + (f" for {', '.join(sorted(altnames))}" if altnames else ""), ", ".join(map(str, sources)))
    return done


def _read_ohlcvt_handle(handle, where: str, timeframe: pd.Timedelta) -> pd.DataFrame:
    text = io.TextIOWrapper(handle, encoding="utf-8")
    try:
        raw = _read_ohlcvt(text)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"cannot parse as ohlcvt: {exc}", where) from exc
    # gaps are the loader's business when the file is used: keep Kraken's rows as they are
    return validate_candles(raw, where, timeframe=timeframe, gaps=GapPolicy(on_larger_gap="fill")) \
        .pipe(lambda c: c[c["volume"] > 0] if "trades" not in c else c[c["trades"] > 0])


def merge_into(target: Path, candles: pd.DataFrame) -> int:
    """Add ``candles`` to the OHLCVT file ``target`` (rows already there win); returns the rows written."""
    columns = ["open", "high", "low", "close", "volume", "trades"]
    new = candles.reindex(columns=columns).fillna({"trades": 0})
    if target.is_file() and target.stat().st_size:
        old = pd.read_csv(target, header=None, names=["time", *columns])
        old.index = pd.to_datetime(old.pop("time"), unit="s")
        new = pd.concat([old, new[~new.index.isin(old.index)]]).sort_index()
    out = new.copy()
    out.insert(0, "time", out.index.as_unit("s").asi8)
    out["trades"] = out["trades"].astype("int64")
    tmp = target.with_name(target.name + ".tmp")
    out.to_csv(tmp, header=False, index=False)
    tmp.replace(target)
    return len(candles)
