"""The record of a session's candles: written safely, read like a Kraken export, joined to the local history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kraken_global.assembly.cerebro import load_data
from kraken_global.config import BacktestConfig
from kraken_global.feeds import load_candles, parse_timeframe
from kraken_global.feeds.recorded import extend_history
from kraken_global.live.recorder import CandleRecorder, format_rows
from kraken_global.sessions.session import history_bars, local_history
from kraken_global.universe import build_universe
from tests.conftest import candles

HOUR = pd.Timedelta(hours=1)


def walk(bars: int, start: str, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    closes = 30_000 * np.cumprod(1 + rng.normal(0, 0.01, bars))
    return candles(closes, highs=closes * 1.003, lows=closes * 0.997, volume=rng.uniform(1, 50, bars), start=start)


def assert_same(back: pd.DataFrame, frame: pd.DataFrame) -> None:
    assert list(back.index) == list(frame.index)
    np.testing.assert_array_equal(back[frame.columns].to_numpy(), frame.to_numpy())


def recorder(tmp_path) -> CandleRecorder:
    return CandleRecorder(tmp_path / "candles", build_universe(["BTC/USD"]), HOUR, max_gap_bars=6)


def test_recorded_candles_read_back_exactly_and_each_candle_is_written_once(tmp_path):
    rec = recorder(tmp_path)
    frame = walk(300, "2024-03-01")
    assert rec.record("BTC/USD", frame.iloc[:200]) == 200
    assert rec.record("BTC/USD", frame.iloc[150:]) == 100  # overlapping batch (a restart's backfill)
    assert recorder(tmp_path).record("BTC/USD", frame) == 0  # a new recorder finds where the file ends
    path = rec.path("BTC/USD")
    assert path.name == "XBTUSD_60.csv"  # Kraken's OHLCVT export name: loaders find it like an export
    assert_same(load_candles(path), frame)  # floats survive exactly


def test_a_line_torn_by_a_crash_is_cut_off_and_the_record_goes_on(tmp_path):
    rec = recorder(tmp_path)
    frame = walk(50, "2024-03-01")
    rec.record("BTC/USD", frame.iloc[:40])
    path = rec.path("BTC/USD")
    with open(path, "a") as handle:
        handle.write(format_rows(frame.iloc[40:41])[:17])  # the process died in the middle of a line
    assert recorder(tmp_path).record("BTC/USD", frame) == 10
    assert_same(load_candles(path), frame)


def test_a_record_that_cannot_continue_moves_to_the_archive(tmp_path):
    rec = recorder(tmp_path)
    rec.record("BTC/USD", walk(100, "2024-03-01"))
    later = walk(50, "2024-05-01", seed=1)  # sessions stopped for two months: more than Kraken's 720 candles
    assert rec.record("BTC/USD", later) == 50
    assert_same(load_candles(rec.path("BTC/USD")), later)
    archived = list((tmp_path / "candles" / "archive").iterdir())
    assert [p.name for p in archived] == ["XBTUSD_60.until-202403050300.csv"]
    assert len(load_candles(archived[0])) == 100


def test_a_record_ahead_of_the_session_is_left_as_it_is_and_the_log_says_why_its_candles_are_not_recorded(
        tmp_path, caplog):
    """An emulator replaying March after a session recorded June: the March candles cannot join June's record.
    The record is kept (it is history another session may need) and the log says so, once per pair."""
    rec = recorder(tmp_path)
    june = walk(100, "2024-06-01")
    rec.record("BTC/USD", june)
    kept = rec.path("BTC/USD").read_bytes()
    march = recorder(tmp_path)
    with caplog.at_level("WARNING", logger="kraken_global.live.recorder"):
        assert march.record("BTC/USD", walk(50, "2024-03-01")) == 0
        assert march.record("BTC/USD", walk(5, "2024-03-03 02:00")) == 0
    assert rec.path("BTC/USD").read_bytes() == kept
    said = [r.getMessage() for r in caplog.records if "NOT recorded" in r.getMessage()]
    assert len(said) == 1 and "2024-06-05 03:00:00" in said[0] and "live.record_candles" in said[0]
    assert march.not_recorded == {"BTC/USD": 55}


def test_two_sessions_recording_into_one_folder_write_each_candle_once(tmp_path):
    """A paper and a live session with the default live.record_candles poll the same candles at once."""
    frame = walk(60, "2024-03-01")
    paper, live = recorder(tmp_path), recorder(tmp_path)
    for start in range(0, 60, 10):  # each polling round: both sessions receive the same new candles
        paper.record("BTC/USD", frame.iloc[max(0, start - 3):start + 10])
        live.record("BTC/USD", frame.iloc[start:start + 10])
    assert_same(load_candles(paper.path("BTC/USD")), frame)


def test_a_record_whose_last_line_is_not_a_candle_moves_aside_and_a_new_one_starts(tmp_path):
    rec = recorder(tmp_path)
    rec.path("BTC/USD").parent.mkdir(parents=True, exist_ok=True)
    rec.path("BTC/USD").write_text("notes,by,hand\n")
    frame = walk(20, "2024-03-01")
    assert rec.record("BTC/USD", frame) == 20
    assert_same(load_candles(rec.path("BTC/USD")), frame)
    (archived,) = (tmp_path / "candles" / "archive").iterdir()
    assert archived.read_text() == "notes,by,hand\n"


def test_local_history_is_continued_by_the_record_across_a_small_gap_only():
    local = walk(100, "2024-03-01")
    record = walk(100, "2024-03-05 06:00", seed=2)  # starts 3 bars after local's last candle (03:00)
    joined, how = extend_history(local, record, HOUR, max_gap_bars=6)
    assert how == "joined" and len(joined) == 100 + 2 + 100
    gap = joined.loc["2024-03-05 04:00":"2024-03-05 05:00"]
    assert (gap["close"] == local["close"].iloc[-1]).all() and (gap["volume"] == 0).all()
    assert joined.index.to_series().diff().dropna().eq(HOUR).all()
    assert extend_history(local, walk(100, "2024-04-01"), HOUR, 6) == (local, "local")  # too far: not joined
    assert extend_history(None, record, HOUR, 6)[1] == "recorded"


def write_ohlcvt(directory, name: str, frame: pd.DataFrame) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(format_rows(frame))


def test_backtests_join_the_record_only_when_asked_and_say_so(tmp_path):
    write_ohlcvt(tmp_path / "data", "XBTUSD_60.csv", walk(2000, "2024-01-01"))
    CandleRecorder(tmp_path / "candles", build_universe(["BTC/USD"]), HOUR).record(
        "BTC/USD", walk(300, "2024-03-24 08:00", seed=3))  # continues the local file (ends 2024-03-24 07:00)
    config = BacktestConfig().with_overrides({"universe.pairs": ["BTC/USD"], "data.directory": str(tmp_path / "data")})
    assert len(load_data(config).candles["BTC/USD"]) == 2000
    data = load_data(config.with_overrides({"data.recorded": str(tmp_path / "candles")}))
    assert len(data.candles["BTC/USD"]) == 2300
    assert data.files["BTC/USD"] == "XBTUSD_60.csv + recorded XBTUSD_60.csv"


@pytest.mark.parametrize("local_start", ["2024-01-01", "2023-01-01"])
def test_a_session_warms_up_on_the_record_when_local_files_are_old_or_joined(tmp_path, local_start):
    config = BacktestConfig().with_overrides({
        "universe.pairs": ["BTC/USD"], "data.directory": str(tmp_path / "data"),
        "live.record_candles": str(tmp_path / "candles"), "strategy.name": "baseline",
        "strategy.params": {"fast": 24, "slow": 100}})
    local = walk(2000, local_start)
    write_ohlcvt(tmp_path / "data", "XBTUSD_60.csv", local)
    record = walk(800, "2024-03-24 08:00", seed=4)
    CandleRecorder(tmp_path / "candles", build_universe(["BTC/USD"]), HOUR).record("BTC/USD", record)
    now = record.index[-1] + 2 * HOUR  # the exchange's clock: the last recorded candle closed an hour ago
    history = local_history(config, now)["BTC/USD"]
    assert history.index[-1] == record.index[-1]
    assert len(history) == history_bars(config)
    assert history.index.to_series().diff().dropna().eq(parse_timeframe("1h")).all()
