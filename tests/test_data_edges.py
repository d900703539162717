"""Data edges a real download meets: a gap inside the warm-up (said as the warm-up's, with the first --from that
works) and a re-import whose rows differ from the stored ones (an error naming both, or a reported repair)."""

from __future__ import annotations

import pandas as pd
import pytest

from kraken_global.assembly.warmup import first_start_after, warmup_bars
from kraken_global.cli import main
from kraken_global.config import BacktestConfig
from kraken_global.errors import DataError
from kraken_global.feeds import bundled_data_dir, load_candles
from kraken_global.runners.backtest import run_backtest

HOUR = pd.Timedelta(hours=1)


def write_ohlcvt(frame: pd.DataFrame, path) -> None:
    rows = frame.assign(time=frame.index.as_unit("s").asi8, trades=1)[["time", "open", "high", "low", "close",
                                                                        "volume", "trades"]]
    rows.to_csv(path, header=False, index=False)


def test_a_gap_in_the_warm_up_is_said_to_be_the_warm_ups_with_the_first_from_that_works(tmp_path):
    btc = load_candles(bundled_data_dir() / "Kraken_BTCUSD_1h.csv.gz").loc["2018-01-01":"2018-06-30"]
    hole = (btc.index >= "2018-03-25 00:00") & (btc.index < "2018-03-25 12:00")  # 12 bars: above max_fill 6
    write_ohlcvt(btc[~hole], tmp_path / "XBTUSD_60.csv")
    config = BacktestConfig().with_overrides({"data.directory": str(tmp_path), "universe.pairs": ["BTC/USD"],
                                              "strategy.name": "baseline", "data.start": "2018-04-01",
                                              "strategy.params": {"fast": 48, "slow": 240}})
    with pytest.raises(DataError) as info:
        run_backtest(config, with_baseline=False)
    first = first_start_after(pd.Timestamp("2018-03-25 12:00"), warmup_bars(config), HOUR)
    message = str(info.value)
    assert "gap of 12 missing bars before 2018-03-25 12:00:00" in message and "lies in the warm-up" in message
    assert f"The first --from (data.start) whose warm-up starts after it is {first.date()}" in message
    assert first == pd.Timestamp("2018-04-06")  # 242 bars of warm-up and the day the loader adds
    done = run_backtest(config.with_overrides({"data.start": str(first.date())}), with_baseline=False)
    assert done.metrics["run"]["first_bar"] == str(first)
    with pytest.raises(DataError, match="lies in the warm-up"):  # a day earlier still meets it
        run_backtest(config.with_overrides({"data.start": str((first - pd.Timedelta(days=1)).date())}),
                     with_baseline=False)
    later = config.with_overrides({"data.start": "2018-03-01", "data.end": "2018-03-31"})
    with pytest.raises(DataError) as inside:  # in the evaluated period: the plain error, no warm-up advice
        run_backtest(later, with_baseline=False)
    assert "warm-up" not in str(inside.value)


def test_a_re_import_that_differs_is_refused_naming_both_values_or_replaces_with_keep_last(tmp_path, capsys):
    btc = load_candles(bundled_data_dir() / "Kraken_BTCUSD_1h.csv.gz").loc["2019-01-01":"2019-01-03"]
    source = tmp_path / "in" / "XBTUSD_60.csv"
    source.parent.mkdir()
    write_ohlcvt(btc, source)
    folder = tmp_path / "data"
    assert main(["data", "import", str(source), "--data-dir", str(folder)]) == 0
    stored = (folder / "XBTUSD_60.csv").read_text()
    assert main(["data", "import", str(source), "--data-dir", str(folder)]) == 0  # the same rows: nothing changes
    assert (folder / "XBTUSD_60.csv").read_text() == stored
    changed = btc.copy()
    changed.loc["2019-01-02 05:00", ["high", "close"]] = [4000.0, 3999.0]
    write_ohlcvt(changed, source)
    capsys.readouterr()
    assert main(["data", "import", str(source), "--data-dir", str(folder)]) == 2
    error = capsys.readouterr().err
    row = btc.loc["2019-01-02 05:00"]
    assert "1 row(s) differ from the ones stored" in error and "the first at 2019-01-02 05:00:00" in error
    assert f"stored open {row['open']:g}, high {row['high']:g}" in error and "new open" in error and \
        "high 4000, low" in error and "--duplicates keep-last" in error
    assert (folder / "XBTUSD_60.csv").read_text() == stored  # nothing stored is lost
    assert main(["data", "import", str(source), "--data-dir", str(folder), "--duplicates", "keep-last"]) == 0
    assert "1 stored rows replaced" in capsys.readouterr().out
    assert load_candles(folder / "XBTUSD_60.csv").loc["2019-01-02 05:00", "close"] == 3999.0
