"""``data import``: Kraken's downloadable archive files into the data folder, in Kraken's OHLCVT layout.

Kraken publishes its history as zip archives of CSV files without header: OHLCVT files ``<ALTNAME>_<minutes>.csv``
(``unix_seconds,open,high,low,close,volume,trades``) and trade files ``<ALTNAME>.csv`` (``unix_seconds,price,
volume``). Either may be given zipped or not. OHLCVT files are merged into the folder's file of the same name: a row
already stored with the same values is kept, one stored with other values is an error naming both (a re-import
must not silently keep or lose either), unless ``duplicates="keep-last"``: the new row replaces it and the count is
reported; trade files are streamed into candles of the chosen timeframe (bounded memory,
:mod:`~kraken_global.feeds.trade_stream`) and merged the same way. ``pairs`` limits an archive to some pairs
(Kraken's full archive holds hundreds).
"""

from __future__ import annotations

import gzip
import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
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
    replaced: int = 0  # stored rows the import replaced (duplicates="keep-last")


@contextmanager
def _members(path: Path) -> Iterator[list[tuple[str, object]]]:
    """(name, opener) of every CSV in ``path`` (a zip archive, one CSV file, or one gzipped CSV file)."""
    if path.suffix.lower() == ".zip":
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataError(f"not a readable zip archive: {exc}", str(path)) from exc
        with archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".csv") and not n.endswith("/")]
            yield [(n, lambda n=n: archive.open(n)) for n in names]
    elif path.suffix.lower() == ".gz":
        yield [(path.name[:-3], lambda: gzip.open(path, "rb"))]  # noqa: SIM115 (the caller closes it)
    else:
        yield [(path.name, lambda: path.open("rb"))]


def import_files(sources: list[Path], folder: Path, timeframe: pd.Timedelta, altnames: set[str] | None = None,
                 on_file=None, duplicates: str = "error") -> list[Imported]:
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
                        candles = _read_ohlcvt_handle(handle, where, pd.Timedelta(minutes=int(ohlcvt.group(2))),
                                                      duplicates)
                    target = folder / base.upper().replace(".CSV", ".csv")
                else:
                    candles = read_trade_candles(Path(where), timeframe, opener=opener)
                    target = folder / f"{altname}_{minutes}.csv"
                rows, replaced = merge_into(target, candles, duplicates, where)
                done.append(Imported(where, target, rows, candles.index[0], candles.index[-1], replaced))
    if not done:
        raise DataError("no Kraken OHLCVT (<ALTNAME>_<minutes>.csv) or trade (<ALTNAME>.csv) file found"
                        + (f" for {', '.join(sorted(altnames))}" if altnames else ""), ", ".join(map(str, sources)))
    return done


def _read_ohlcvt_handle(handle, where: str, timeframe: pd.Timedelta, duplicates: str = "error") -> pd.DataFrame:
    text = io.TextIOWrapper(handle, encoding="utf-8")
    try:
        raw = _read_ohlcvt(text)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"cannot parse as ohlcvt: {exc}", where) from exc
    # gaps are the loader's business when the file is used: keep Kraken's rows as they are
    return validate_candles(raw, where, timeframe=timeframe, gaps=GapPolicy(on_larger_gap="fill",
                                                                          duplicates=duplicates)) \
        .pipe(lambda c: c[c["volume"] > 0] if "trades" not in c else c[c["trades"] > 0])


def merge_into(target: Path, candles: pd.DataFrame, duplicates: str = "error",
               source: str = "") -> tuple[int, int]:
    """Add ``candles`` to the OHLCVT file ``target``; returns (rows written, stored rows replaced). A stored row
    with other values is an error naming both, or (``keep-last``) replaced by the new one."""
    columns = ["open", "high", "low", "close", "volume", "trades"]
    new = candles.reindex(columns=columns).fillna({"trades": 0})
    replaced = 0
    if target.is_file() and target.stat().st_size:
        old = pd.read_csv(target, header=None, names=["time", *columns])
        old.index = pd.to_datetime(old.pop("time"), unit="s")
        both = new.index.intersection(old.index)
        values = columns[:5]  # Kraken's trade count is not a price: a recount does not conflict
        differs = ~np.isclose(old.loc[both, values].to_numpy(), new.loc[both, values].to_numpy(), rtol=1e-9,
                              atol=0.0).all(axis=1)
        if differs.any() and duplicates != "keep-last":
            at = both[differs][0]
            shown = {name: ", ".join(f"{c} {frame.loc[at, c]:g}" for c in values)
                     for name, frame in (("stored", old), ("new", new))}
            raise DataError(f"{differs.sum()} row(s) differ from the ones stored in {target}, the first at {at}: "
                            f"stored {shown['stored']}; new {shown['new']}. Keep the stored file, or import with "
                            "--duplicates keep-last to replace them", source or None, at=at)
        replaced = int(differs.sum())
        kept = old.drop(both[differs])  # the stored rows that stay: all, but those the new ones replace
        new = pd.concat([kept, new[~new.index.isin(kept.index)]]).sort_index()
    out = new.copy()
    out.insert(0, "time", out.index.as_unit("s").asi8)
    out["trades"] = out["trades"].astype("int64")
    tmp = target.with_name(target.name + ".tmp")
    out.to_csv(tmp, header=False, index=False)
    tmp.replace(target)
    return len(candles), replaced
