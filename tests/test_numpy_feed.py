"""The numpy feed gives the same bars as PandasData, under every cerebro mode, with extra lines."""

from __future__ import annotations

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

from kraken_global.feeds import NumpyFeed, bundled_data_dir, load_candles
from kraken_global.feeds.sources import BUNDLED_FILES
from tests.conftest import candles


class Collect(bt.Strategy):
    def __init__(self):
        self.sma = bt.ind.SMA(self.data.close, period=24)
        self.rows = []

    def next(self):
        d = self.data
        extra = tuple(getattr(d.lines, name)[0] for name in ("regime",) if hasattr(d.lines, name))
        self.rows.append((d.datetime.datetime(0), d.open[0], d.high[0], d.low[0], d.close[0], d.volume[0],
                          self.sma[0], *extra))


def collect(feed, **cerebro_kwargs):
    cerebro = bt.Cerebro(stdstats=False, **cerebro_kwargs)
    cerebro.adddata(feed)
    cerebro.addstrategy(Collect)
    return cerebro.run()[0].rows


@pytest.fixture(scope="module")
def month():
    return load_candles(bundled_data_dir() / BUNDLED_FILES["BTC/USD"], start=pd.Timestamp("2019-03-01"),
                        end=pd.Timestamp("2019-04-01"))


def test_same_bars_as_pandasdata_stamped_at_the_close(month):
    ours = collect(NumpyFeed(frame=month))
    shifted = month.copy()
    shifted.index = shifted.index + pd.Timedelta(hours=1)
    theirs = collect(bt.feeds.PandasData(dataname=shifted))
    assert len(ours) == len(theirs) == len(month) - 23
    assert ours == theirs
    assert ours[0][0] == pd.Timestamp("2019-03-02 00:00").to_pydatetime()  # the 23:00 candle closes at midnight


@pytest.mark.parametrize("mode", [
    {"preload": True, "runonce": True}, {"preload": True, "runonce": False},
    {"preload": False, "runonce": False}, {"preload": False, "runonce": False, "exactbars": 1},
])
def test_results_do_not_depend_on_cerebro_mode(month, mode):
    assert collect(NumpyFeed(frame=month), **mode) == collect(NumpyFeed(frame=month))


def test_extra_columns_become_lines():
    frame = candles(np.arange(1.0, 31.0))
    frame["regime"] = np.arange(30) % 4
    Feed = NumpyFeed.with_lines("regime")
    rows = collect(Feed(frame=frame))
    assert [r[-1] for r in rows] == list((np.arange(30) % 4)[23:].astype(float))


def test_missing_extra_column_and_empty_frame_are_clear_errors():
    with pytest.raises(ValueError, match="line 'signal' has no column"):
        NumpyFeed.with_lines("signal")(frame=candles([1.0, 2.0]))
    with pytest.raises(ValueError, match="non-empty frame"):
        NumpyFeed(frame=candles([1.0]).iloc[:0])
