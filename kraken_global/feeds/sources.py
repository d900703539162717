"""Where candles come from: the bundled real Kraken data or a directory of Kraken exports.

:func:`load_candles` is the one entry point that reads any supported file, validates it, applies the gap
policy and resamples to the run's timeframe. :func:`find_pair_file` maps a pair to a file by Kraken's own
naming (``XBTUSD_60.csv``, ``XBTUSD.csv`` for trades, ``Kraken_BTCUSD_1h.csv``), so a user can drop Kraken's
downloadable archive into a folder and point the config at it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from kraken_global.errors import DataError
from kraken_global.feeds.candles import resample_candles
from kraken_global.feeds.formats import detect_format, read_raw
from kraken_global.feeds.recorded import extend_history, record_file
from kraken_global.feeds.timeframes import timeframe_name
from kraken_global.feeds.trade_stream import read_trade_candles
from kraken_global.feeds.validation import (
    DEFAULT_GAPS,
    GapPolicy,
    check_jumps,
    fill_gaps,
    off_tick_bars,
    validate_candles,
)
from kraken_global.files import check_regular
from kraken_global.universe import PairRules

log = logging.getLogger(__name__)

BUNDLED_DIR = "bundled/data"

# The default backtest reads the CryptoDataDownload files (one source, same period for every pair). Kraken's
# own OHLCVT exports of BTC and ETH are bundled too, for cross-checks and as examples of that format.
BUNDLED_FILES: dict[str, str] = {
    "BTC/USD": "Kraken_BTCUSD_1h.csv.gz",
    "ETH/USD": "Kraken_ETHUSD_1h.csv.gz",
    "XRP/USD": "Kraken_XRPUSD_1h.csv.gz",
    "LTC/USD": "Kraken_LTCUSD_1h.csv.gz",
}
BUNDLED_OHLCVT_FILES: dict[str, str] = {"BTC/USD": "XBTUSD_60.csv.gz", "ETH/USD": "ETHUSD_60.csv.gz"}


def bundled_data_dir() -> Path:
    """The folder of real Kraken data shipped inside the package."""
    return Path(str(resources.files("kraken_global").joinpath(BUNDLED_DIR)))


def load_candles(
    path: Path,
    fmt: str = "auto",
    timeframe: pd.Timedelta | None = None,
    gaps: GapPolicy = DEFAULT_GAPS,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Read, validate and (when ``timeframe`` is longer than the file's) resample one file of candles or trades.

    Trades become candles of ``timeframe`` (required for trade files). The result is indexed by candle start
    time (naive UTC) with columns open, high, low, close, volume (and trades where the source has them).
    Rows outside ``[start, end)`` are dropped before validation, so a flaw in years the run does not use
    cannot stop it; rows with an unparseable timestamp are always kept, and so always reported.
    """
    check_regular(Path(path), "data file", DataError)  # a FIFO or a device would block or never end
    if fmt == "trades" or (fmt == "auto" and detect_format(Path(path)) == "trades"):
        return _trade_candles(Path(path), timeframe, gaps, start, end)
    raw, fmt = read_raw(Path(path), fmt)
    keep = raw["timestamp"].isna()
    inside = pd.Series(True, index=raw.index)
    if start is not None:
        inside &= raw["timestamp"] >= start
    if end is not None:
        inside &= raw["timestamp"] < end
    raw = raw[keep | inside]
    if raw.empty:
        return pd.DataFrame(columns=["open", "high", "low", "close", "volume"],
                            index=pd.DatetimeIndex([], name="datetime"))
    source_tf = _timeframe_from_name(Path(path))
    stamps = raw["timestamp"].dropna()
    newest_first = fmt == "cryptodatadownload" and len(stamps) > 1 and stamps.iloc[0] > stamps.iloc[-1]
    candles = validate_candles(raw, str(path), newest_first=newest_first,
                               timeframe=source_tf, gaps=gaps)
    source_tf = candles.attrs["timeframe"]
    if timeframe is not None and timeframe != source_tf:
        candles = resample_candles(candles, source_tf, timeframe)
    return candles


def _trade_candles(path: Path, timeframe: pd.Timedelta | None, gaps: GapPolicy, start, end) -> pd.DataFrame:
    """A trade file streamed into candles (:mod:`~kraken_global.feeds.trade_stream`), clipped to [start, end)
    and put through the gap policy like any candle file."""
    if timeframe is None:
        raise DataError("a timeframe is needed to turn trades into candles", str(path))
    candles = read_trade_candles(path, timeframe)
    if start is not None:
        candles = candles[candles.index >= start]
    if end is not None:
        candles = candles[candles.index < end]
    if candles.empty:
        return pd.DataFrame(columns=["open", "high", "low", "close", "volume"],
                            index=pd.DatetimeIndex([], name="datetime"))
    candles = check_jumps(candles, str(path), gaps)
    repaired = candles.attrs.get("repaired_bars", 0)
    out = fill_gaps(candles, str(path), timeframe, gaps)
    out.attrs["repaired_bars"] = repaired
    return out


def _timeframe_from_name(path: Path) -> pd.Timedelta | None:
    """Kraken names OHLCVT exports ``<ALTNAME>_<minutes>.csv``."""
    stem = path.name.split(".")[0]
    suffix = stem.rsplit("_", 1)[-1]
    if "_" in stem and suffix.isdigit():
        return pd.Timedelta(minutes=int(suffix))
    if stem.endswith("_1h"):
        return pd.Timedelta(hours=1)
    return None


def candidate_names(rules: PairRules, timeframe: pd.Timedelta) -> list[str]:
    """File names that hold ``rules``' pair, best first."""
    minutes = int(timeframe / pd.Timedelta(minutes=1))
    names = [rules.altname, rules.symbol.replace("/", ""), *[a.replace("/", "") for a in rules.aliases]]
    out: list[str] = []
    for name in dict.fromkeys(names):
        out += [f"{name}_{minutes}.csv", f"{name}_60.csv", f"Kraken_{name}_{timeframe_name(timeframe)}.csv",
                f"Kraken_{name}_1h.csv", f"{name}.csv"]
    return [n + ext for n in dict.fromkeys(out) for ext in ("", ".gz")]


def find_pair_file(directory: Path, rules: PairRules, timeframe: pd.Timedelta) -> Path | None:
    for name in candidate_names(rules, timeframe):
        path = Path(directory) / name
        if path.is_file():
            return path
    return None


def load_record(directory: Path, rules: PairRules, timeframe: pd.Timedelta, gaps, start=None, end=None):
    """The recorded candles of a pair in [start, end), or None. A record that does not load (it is our own file,
    but a disk can fail) is reported and left out: the run goes on with the local history."""
    path = record_file(directory, rules.altname, timeframe)
    if not path.is_file():
        return None, path
    try:
        return load_candles(path, "ohlcvt", timeframe, gaps, start, end), path
    except DataError as exc:
        log.warning("recorded candles not used: %s", exc)
        return None, path


def bar_clock(candles: dict[str, pd.DataFrame]) -> pd.DatetimeIndex:
    """Every bar time of any pair, sorted: the clock of a multi-pair run."""
    return pd.DatetimeIndex(sorted(set().union(*(frame.index for frame in candles.values()))))


@dataclass
class UniverseData:
    """Candles per symbol, plus the pairs that had no data (they join once data for them exists)."""

    candles: dict[str, pd.DataFrame] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    off_tick: dict[str, int] = field(default_factory=dict)  # bars priced finer than the pair's tick, per pair


def load_universe(
    pairs: list[PairRules],
    timeframe: pd.Timedelta,
    directory: Path | None = None,
    fmt: str = "auto",
    gaps: GapPolicy = DEFAULT_GAPS,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    recorded: Path | None = None,
) -> UniverseData:
    """Load every pair of ``pairs`` from ``directory`` (default: the bundled data), clipped to [start, end).

    A pair without a file, or without rows in the period, is listed in ``missing`` rather than failing the
    run: pairs listed later than others simply join when their data begins. ``recorded``: the folder where
    sessions record candles; each pair's candles are continued with them (see :mod:`kraken_global.feeds.recorded`).
    """
    folder = Path(directory) if directory is not None else bundled_data_dir()
    if not folder.is_dir():
        raise DataError("data directory not found", str(folder))
    out = UniverseData()
    record_folder = Path(recorded) if recorded is not None and Path(recorded).is_dir() else None
    for rules in pairs:
        if directory is None:
            name = BUNDLED_FILES.get(rules.symbol)
            path = folder / name if name else None
        else:
            path = find_pair_file(folder, rules, timeframe)
        candles = load_candles(path, fmt, timeframe, gaps, start, end) if path is not None else None
        source = path.name if path is not None else None
        if record_folder is not None:
            record, record_path = load_record(record_folder, rules, timeframe, gaps, start, end)
            candles, how = extend_history(candles, record, timeframe, gaps.max_fill)
            source = {"joined": f"{source} + recorded {record_path.name}",
                      "recorded": f"recorded {record_path.name}"}.get(how, source)
        if candles is None or candles.empty:
            out.missing.append(rules.symbol)
            continue
        out.candles[rules.symbol] = candles
        out.files[rules.symbol] = source
        off_tick = off_tick_bars(candles, rules.tick_size, rules.symbol, source or str(folder))
        if off_tick:
            out.off_tick[rules.symbol] = off_tick
    return out
