"""Files as people have them (CryptoDataDownload's variants, --format) and values that cannot be prices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kraken_global.cli import build_parser
from kraken_global.errors import DataError
from kraken_global.feeds import GapPolicy, load_candles, parse_timeframe

HOUR = pd.Timedelta(hours=1)
T0 = 1_700_000_000 // 3600 * 3600
CDD_ROWS = [  # newest first, as CryptoDataDownload writes them: (unix seconds, date, o, h, l, c, volume)
    (T0 + 2 * 3600, "2023-11-15 12-AM", 3, 4, 2, 3.5, 1),
    (T0 + 3600, "2023-11-14 11-PM", 2, 3, 1, 3, 1),
    (T0, "2023-11-14 10-PM", 1, 2, 1, 2, 1),
]
EXPECTED_INDEX = [pd.Timestamp(T0, unit="s") + i * HOUR for i in range(3)]


def _cdd(banner: str | None, header: str, unix: str | None) -> str:
    lines = [banner] if banner is not None else []
    lines.append(header)
    for seconds, date, o, h, lo, c, v in CDD_ROWS:
        stamp = {"s": [str(seconds)], "ms": [str(seconds * 1000)], None: []}[unix]
        lines.append(",".join([*stamp, date, "BTCUSD", *map(str, (o, h, lo, c, v, v * c))]))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("banner", "header", "unix"), [
    ("Timestamps are UTC timezone,https://www.CryptoDataDownload.com",
     "Date,Symbol,Open,High,Low,Close,Volume BTC,Volume USD", None),                       # the classic file
    (None, "Date,Symbol,Open,High,Low,Close,Volume BTC,Volume USD", None),                 # banner removed
    ("https://www.CryptoDataDownload.com", "Date,Symbol,Open,High,Low,Close,Volume BTC,Volume USD", None),
    ("CryptoDataDownload.com", "Date,Symbol,Open,High,Low,Close,Volume BTC,Volume USD", None),
    ("https://www.CryptoDataDownload.com",
     "Unix Timestamp,Date,Symbol,Open,High,Low,Close,Volume BTC,Volume USD", "ms"),         # milliseconds
    (None, "Unix Timestamp,Date,Symbol,Open,High,Low,Close,Volume BTC,Volume USD", "s"),
    ("https://www.CryptoDataDownload.com", "unix,date,symbol,open,high,low,close,Volume BTC,Volume USD", "s"),
    (None, "unix,date,symbol,open,high,low,close,volume btc,volume usd", "ms"),             # lowercase throughout
])
def test_every_cryptodatadownload_variant_loads_the_same_candles(tmp_path, banner, header, unix):
    path = tmp_path / "Kraken_BTCUSD_1h.csv"
    path.write_text(_cdd(banner, header, unix))
    candles = load_candles(path)
    assert list(candles.index) == EXPECTED_INDEX
    assert list(candles["close"]) == [2, 3, 3.5] and list(candles["volume"]) == [1, 1, 1]


def test_a_format_error_names_the_format_tried_and_how_to_force_another(tmp_path):
    path = tmp_path / "XBTUSD_60.csv"
    path.write_text("".join(f"{T0 + i * 3600},1,2,0.5,1.5,3,4\n" for i in range(3)))
    with pytest.raises(DataError) as info:
        load_candles(path, fmt="cryptodatadownload")
    assert "cannot parse as cryptodatadownload" in str(info.value) and "--format" in str(info.value)
    assert "ohlcvt" in str(info.value)
    weird = tmp_path / "weird.csv"
    weird.write_text("a,b,c,d\n")
    with pytest.raises(DataError, match=r"--format or data\.format"):
        load_candles(weird)


def test_format_option_reaches_the_config():
    args = build_parser().parse_args(["backtest", "--format", "ohlcvt", "--reference", "ETH/USD",
                                      "--benchmark", "ETH/USD"])
    assert (args.data_format, args.reference, args.benchmark) == ("ohlcvt", "ETH/USD", "ETH/USD")


def _ohlcvt(tmp_path, closes, name="XBTUSD_60.csv"):
    path = tmp_path / name
    path.write_text("".join(f"{T0 + i * 3600},{c},{c},{c},{c},1,1\n" for i, c in enumerate(closes)))
    return path


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity"])
def test_non_finite_prices_are_errors_naming_file_and_row(tmp_path, value):
    path = tmp_path / "XBTUSD_60.csv"
    path.write_text(f"{T0},1,1,1,1,1,1\n{T0 + 3600},1,1,1,{value},1,1\n")
    with pytest.raises(DataError) as info:
        load_candles(path)
    assert info.value.row == 2 and info.value.path == str(path)
    assert "non-finite" in info.value.problem or "non-positive" in info.value.problem
    trades = tmp_path / "XBTUSD.csv"
    trades.write_text(f"{T0},100,1\n{T0 + 1},{value},1\n")
    with pytest.raises(DataError) as info:
        load_candles(trades, timeframe=HOUR)
    assert info.value.row == 2 and "non-finite" in info.value.problem


def test_trade_files_obey_the_gap_policy(tmp_path):
    path = tmp_path / "XBTUSD.csv"
    days60 = 60 * 86_400
    path.write_text(f"{T0},100,1\n{T0 + 3600},101,1\n{T0 + days60},102,1\n")
    with pytest.raises(DataError, match="gap of 1438 missing bars"):
        load_candles(path, timeframe=HOUR)
    filled = load_candles(path, timeframe=HOUR, gaps=GapPolicy(on_larger_gap="fill"))
    assert filled.attrs["filled_bars"] == 1438


def test_an_implausible_spike_is_an_error_or_a_reported_repair(tmp_path):
    path = _ohlcvt(tmp_path, [100, 101, 101_000, 102, 103])
    with pytest.raises(DataError) as info:
        load_candles(path)
    assert info.value.row == 3 and "implausible price jump" in info.value.problem and "on_jump" in info.value.problem
    repaired = load_candles(path, gaps=GapPolicy(on_jump="repair"))
    assert repaired.attrs["repaired_bars"] == 1 and list(repaired["close"]) == [100, 101, 101, 102, 103]
    assert load_candles(path, gaps=GapPolicy(max_jump=None))["close"].max() == 101_000
    level = _ohlcvt(tmp_path, [100, 101, 10_100, 10_200, 10_300], "ETHUSD_60.csv")  # does not revert
    with pytest.raises(DataError, match="implausible price jump"):
        load_candles(level, gaps=GapPolicy(on_jump="repair"))


def test_an_implausible_wick_is_flagged(tmp_path):
    path = tmp_path / "XBTUSD_60.csv"
    path.write_text(f"{T0},100,100,100,100,1,1\n{T0 + 3600},100,100000,99,100,1,1\n{T0 + 7200},100,100,100,100,1,1\n")
    with pytest.raises(DataError, match="implausible high/low"):
        load_candles(path)
    assert load_candles(path, gaps=GapPolicy(on_jump="repair"))["high"].max() == 100


def test_the_bundled_data_has_no_implausible_jump():
    from kraken_global.feeds import bundled_data_dir
    from kraken_global.feeds.sources import BUNDLED_FILES

    for name in BUNDLED_FILES.values():
        assert np.isfinite(load_candles(bundled_data_dir() / name)["close"]).all()


def test_trades_to_candles_by_hand_with_timeframe_parse():
    assert parse_timeframe("1h") == HOUR


def _backtest(*args: str):
    import subprocess
    import sys
    from pathlib import Path

    return subprocess.run([sys.executable, "-m", "kraken_global.cli", "backtest", *args], capture_output=True,
                          text=True, timeout=240, cwd=Path(__file__).resolve().parents[1])


def test_a_missing_reference_names_the_option_and_the_pairs_with_data(tmp_path):
    done = _backtest("--pairs", "ETH/USD", "XRP/USD", "--from", "2019-01-01", "--to", "2019-03-01", "--no-plot",
                     "--no-progress", "--out", str(tmp_path))
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "--reference PAIR" in done.stderr and "ETH/USD, XRP/USD" in done.stderr


def test_reference_and_benchmark_follow_the_data(tmp_path):
    done = _backtest("--pairs", "ETH/USD", "XRP/USD", "--from", "2019-01-01", "--to", "2019-03-01", "--no-plot",
                     "--no-progress", "--reference", "ETH/USD", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "BTC/USD has no data in this run" in done.stdout and "--benchmark PAIR" in done.stdout
    done = _backtest("--pairs", "ETH/USD", "XRP/USD", "--from", "2019-01-01", "--to", "2019-03-01", "--no-plot",
                     "--no-progress", "--reference", "ETH/USD", "--benchmark", "XRP/USD", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "buy & hold XRP/USD" in done.stdout and "has no data in this run" not in done.stdout
