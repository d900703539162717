"""Loading Kraken data from real files: every bad-data case, each format, gaps, resampling, trades."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from kraken_global.errors import DataError
from kraken_global.feeds import GapPolicy, bundled_data_dir, load_candles, parse_timeframe, resample_candles
from kraken_global.feeds.sources import BUNDLED_FILES, BUNDLED_OHLCVT_FILES, find_pair_file, load_universe
from kraken_global.universe import catalog
from tests.conftest import DATA_DIR

HOUR = pd.Timedelta(hours=1)
CDD_HEADER = ("Timestamps are UTC timezone,https://www.CryptoDataDownload.com\n"
              "Date,Symbol,Open,High,Low,Close,Volume BTC,Volume USD\n")


def ohlcvt(tmp_path: Path, rows: list[str], name: str = "XBTUSD_60.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n")
    return path


GOOD = [f"{1_700_000_000 // 3600 * 3600 + i * 3600},100,101,99,100.5,2.5,7" for i in range(6)]


def with_row(i: int, row: str) -> list[str]:
    rows = list(GOOD)
    rows[i] = row
    return rows


def t(i: int) -> int:
    return 1_700_000_000 // 3600 * 3600 + i * 3600


@pytest.mark.parametrize(("rows", "line", "problem"), [
    (with_row(3, f"{t(3)},100,101,99,,2.5,7"), 4, "NaN) in column 'close'"),
    (with_row(2, f"{t(2)},100,abc,99,100,2.5,7"), 3, "non-numeric value (NaN) in column 'high'"),
    (with_row(4, f"{t(4)},100,101,0,100,2.5,7"), 5, "non-positive price in column 'low': 0.0"),
    (with_row(1, f"{t(1)},100,98,99,98.5,2.5,7"), 2, "high 98.0 < low 99.0"),
    (with_row(1, f"{t(1)},100,101,99,102,2.5,7"), 2, "open or close outside the high-low range"),
    (with_row(5, f"{t(5)},100,101,99,100,-1,7"), 6, "negative volume -1.0"),
    (with_row(3, f"{t(2)},100,101,99,100,1,7"), 4, "duplicate timestamp 2023-11-15 00:00:00"),
    (with_row(3, f"{t(1) + 1800},100,101,99,100,1,7"), 4, "unsorted: timestamp"),
    (with_row(0, f"x{t(0)},100,101,99,100,1,7"), 1, "timestamp missing or unparseable"),
])
def test_bad_rows_name_file_row_and_problem(tmp_path, rows, line, problem):
    path = ohlcvt(tmp_path, rows)
    with pytest.raises(DataError) as info:
        load_candles(path)
    assert info.value.path == str(path) and info.value.row == line
    assert problem in info.value.problem
    assert f"{path}, row {line}: " in str(info.value)


def test_the_real_cryptodatadownload_defect_is_rejected_as_unsorted():
    path = DATA_DIR / "Kraken_BTCUSD_1h_unsorted_excerpt.csv"
    with pytest.raises(DataError) as info:
        load_candles(path)
    assert info.value.row == 20
    assert "unsorted: timestamp 2017-11-12 08:00:00 breaks the newest first order" in info.value.problem
    assert "(and 4 more rows with this problem)" in info.value.problem


def test_gap_over_tolerance_is_an_error_unless_configured_to_fill(tmp_path):
    rows = [*GOOD[:2], *GOOD[5:]]  # 3 bars missing before row 3
    path = ohlcvt(tmp_path, rows)
    with pytest.raises(DataError, match=r"row 3: gap of 3 missing bars .*tolerance 2"):
        load_candles(path, gaps=GapPolicy(max_fill=2))
    filled = load_candles(path, gaps=GapPolicy(max_fill=2, on_larger_gap="fill"))
    assert len(filled) == 6 and filled.attrs["filled_bars"] == 3
    gap = filled.iloc[2:5]
    assert (gap[["open", "high", "low", "close"]] == 100.5).all().all()  # previous close, flat
    assert (gap["volume"] == 0).all()


def test_small_gaps_are_filled_flat_within_tolerance(tmp_path):
    path = ohlcvt(tmp_path, [*GOOD[:3], *GOOD[4:]])
    candles = load_candles(path, gaps=GapPolicy(max_fill=1))
    assert len(candles) == 6 and candles["volume"].iloc[3] == 0


def test_timestamp_off_the_grid_is_an_error(tmp_path):
    path = ohlcvt(tmp_path, [*GOOD[:3], f"{t(3) + 60},100,101,99,100,1,7"])
    with pytest.raises(DataError, match="not on the 1h grid"):
        load_candles(path)


def test_empty_and_missing_files_and_unknown_layouts(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv does not exist"):
        load_candles(tmp_path / "nope.csv")
    weird = tmp_path / "weird.csv"
    weird.write_text("a,b,c,d\n")
    with pytest.raises(DataError, match="cannot tell the format"):
        load_candles(weird)


def test_cryptodatadownload_rows_newest_first_become_oldest_first(tmp_path):
    path = tmp_path / "Kraken_BTCUSD_1h.csv"
    path.write_text(CDD_HEADER + "2019-12-15 01-PM,BTCUSD,3,4,2,3.5,1,3\n2019-12-15 12-PM,BTCUSD,2,3,1,3,1,3\n"
                    "2019-12-15 11-AM,BTCUSD,1,2,1,2,1,3\n")
    candles = load_candles(path)
    assert list(candles.index.hour) == [11, 12, 13]
    assert list(candles["close"]) == [2, 3, 3.5]


def test_cryptodatadownload_bad_row_is_reported_at_its_file_line(tmp_path):
    path = tmp_path / "Kraken_BTCUSD_1h.csv"
    path.write_text(CDD_HEADER + "2019-12-15 01-PM,BTCUSD,3,4,2,3.5,1,3\n2019-12-15 12-PM,BTCUSD,2,3,1,NaN,1,3\n")
    with pytest.raises(DataError) as info:
        load_candles(path)
    assert info.value.row == 4


def test_bundled_files_load_clean_and_match_their_readme():
    for symbol, name in BUNDLED_FILES.items():
        candles = load_candles(bundled_data_dir() / name)
        assert len(candles) == 21_537, symbol
        assert str(candles.index[0]) == "2017-07-01 11:00:00" and str(candles.index[-1]) == "2019-12-15 19:00:00"
        assert candles.attrs["filled_bars"] == 5  # the hours the source skipped (see the data README)


def test_bundled_sources_agree_where_they_overlap():
    """The CryptoDataDownload BTC file against Kraken's own OHLCVT export, month by month."""
    cdd = load_candles(bundled_data_dir() / BUNDLED_FILES["BTC/USD"], start=pd.Timestamp("2017-09-01"))
    kraken = load_candles(bundled_data_dir() / BUNDLED_OHLCVT_FILES["BTC/USD"], start=pd.Timestamp("2017-09-01"),
                          end=pd.Timestamp("2019-12-16"), gaps=GapPolicy(6, "fill"))
    both = cdd.join(kraken, how="inner", suffixes=("", "_kraken"))
    same_high = ((both["high"] - both["high_kraken"]).abs() < 1e-6).groupby(both.index.to_period("M")).mean()
    assert len(same_high) == 28 and same_high.min() >= 0.85
    close_diff = ((both["close"] - both["close_kraken"]).abs() / both["close_kraken"])
    assert close_diff.median() < 1e-6 and close_diff.quantile(0.99) < 1e-3


def test_date_window_is_applied_before_gap_checks():
    # the OHLCVT BTC file has long gaps in 2013-2016; a 2018 window must not trip on them
    path = bundled_data_dir() / BUNDLED_OHLCVT_FILES["BTC/USD"]
    with pytest.raises(DataError, match="gap of"):
        load_candles(path)
    candles = load_candles(path, start=pd.Timestamp("2019-01-01"), end=pd.Timestamp("2019-02-01"))
    assert candles.index[0] == pd.Timestamp("2019-01-01") and candles.index[-1] == pd.Timestamp("2019-01-31 23:00")


def test_resample_one_hour_to_four_hours_by_hand():
    hours = pd.date_range("2024-01-01 01:00", periods=10, freq="1h")  # 01:00 .. 10:00
    frame = pd.DataFrame({"open": range(1, 11), "high": range(2, 12), "low": range(0, 10), "close": range(1, 11),
                          "volume": [1.0] * 10}, index=hours, dtype=float)
    out = resample_candles(frame, HOUR, 4 * HOUR)
    # buckets 00:00 (01-03: incomplete, dropped), 04:00 (04-07), 08:00 (08-10: incomplete, dropped)
    assert list(out.index) == [pd.Timestamp("2024-01-01 04:00")]
    row = out.iloc[0]
    assert (row["open"], row["high"], row["low"], row["close"], row["volume"]) == (4, 8, 3, 7, 4)


def test_resample_rejects_a_target_that_is_not_a_multiple():
    frame = pd.DataFrame({"open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0], "volume": [1.0]},
                         index=pd.DatetimeIndex(["2024-01-01"]))
    with pytest.raises(DataError, match="whole multiple"):
        resample_candles(frame, 4 * HOUR, 6 * HOUR)


def test_bundled_hourly_resampled_to_daily_keeps_price_extremes():
    hourly = load_candles(bundled_data_dir() / BUNDLED_FILES["ETH/USD"], start=pd.Timestamp("2019-01-01"),
                          end=pd.Timestamp("2019-02-01"))
    daily = load_candles(bundled_data_dir() / BUNDLED_FILES["ETH/USD"], timeframe=parse_timeframe("1d"),
                         start=pd.Timestamp("2019-01-01"), end=pd.Timestamp("2019-02-01"))
    assert len(daily) == 31
    jan5 = hourly.loc["2019-01-05"]
    assert daily.loc["2019-01-05", "high"] == jan5["high"].max()
    assert daily.loc["2019-01-05", "open"] == jan5["open"].iloc[0]
    assert daily["volume"].sum() == pytest.approx(hourly["volume"].sum())


def test_trades_become_candles_of_any_timeframe(tmp_path):
    base = 1_700_000_400  # 22:20:00 UTC
    rows = [f"{base},100,1", f"{base + 30},102,0.5", f"{base + 59},99,2", f"{base + 150},101,1"]
    path = tmp_path / "XBTUSD.csv"
    path.write_text("\n".join(rows) + "\n")
    candles = load_candles(path, timeframe=parse_timeframe("1m"))
    assert list(candles.index.strftime("%H:%M")) == ["22:20", "22:21", "22:22"]
    first = candles.iloc[0]
    assert (first["open"], first["high"], first["low"], first["close"], first["volume"], first["trades"]) == \
        (100, 102, 99, 99, 3.5, 3)
    empty = candles.iloc[1]  # no trade in 22:21: flat at the previous close
    assert (empty["open"], empty["close"], empty["volume"]) == (99, 99, 0)
    assert candles.iloc[2]["close"] == 101


def test_trade_file_errors_name_the_row(tmp_path):
    path = tmp_path / "XBTUSD.csv"
    path.write_text("1700000000,100,1\n1699999990,101,1\n")
    with pytest.raises(DataError, match=r"row 2: unsorted: trade at"):
        load_candles(path, timeframe=HOUR)
    path.write_text("1700000000,100,1\n1700000001,-5,1\n")
    with pytest.raises(DataError, match=r"row 2: non-positive price -5.0"):
        load_candles(path, timeframe=HOUR)


def test_gzip_files_read_like_plain_ones(tmp_path):
    path = tmp_path / "XBTUSD_60.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(GOOD) + "\n")
    assert len(load_candles(path)) == 6


def test_directory_lookup_uses_kraken_file_names(tmp_path):
    rules = catalog().resolve("DOGE/USD")
    (tmp_path / "XDGUSD_60.csv").write_text("\n".join(GOOD) + "\n")
    assert find_pair_file(tmp_path, rules, HOUR).name == "XDGUSD_60.csv"
    data = load_universe([rules, catalog().resolve("SOL/USD")], HOUR, tmp_path)
    assert list(data.candles) == ["DOGE/USD"] and data.missing == ["SOL/USD"]
