"""``kraken-global data``: download from the emulator over real HTTP (ccxt), resume, import, list."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kraken_global.data.archive import import_files
from kraken_global.data.download import DownloadSettings, PairDownload, cursor_file, download, public_client
from kraken_global.data.inventory import summarize_folder
from kraken_global.emulator import EmulatorServer
from kraken_global.errors import DataError
from kraken_global.feeds import load_candles
from kraken_global.universe import catalog

ROOT = Path(__file__).resolve().parents[1]
HOUR = pd.Timedelta(hours=1)
FAST = DownloadSettings(rate_limit_ms=1, max_attempts=2, backoff_seconds=0.01, timeout_ms=10_000)
START = pd.Timestamp("2019-03-01")


def cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kraken_global.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


@pytest.fixture
def emulator():
    with EmulatorServer() as server:
        yield server


def _expected(server: EmulatorServer, pair: str, upto: pd.Timestamp) -> pd.DataFrame:
    """The emulator's closed candles with trades, from START to the candle before ``upto``."""
    frame = server.market.candles[catalog().resolve(pair).pair_id]
    closed = frame[(frame.index >= START) & (frame.index + HOUR <= upto)]
    return closed[closed["volume"] > 0]


def _stored(folder: Path, altname: str) -> pd.DataFrame:
    raw = pd.read_csv(folder / f"{altname}_60.csv", header=None,
                      names=["time", "open", "high", "low", "close", "volume", "trades"])
    raw.index = pd.to_datetime(raw.pop("time"), unit="s")
    return raw


def test_download_is_interrupted_resumes_and_tops_up_without_gap_or_duplicate(emulator, tmp_path):
    settings = DownloadSettings(**{**FAST.__dict__, "api_url": emulator.base_url})
    pairs = [catalog().resolve("BTC/USD"), catalog().resolve("ETH/USD")]
    pages: list[pd.Timestamp] = []

    def fault_after_two_pages(symbol: str, at: pd.Timestamp) -> None:
        pages.append(at)
        if len(pages) == 2:  # the exchange fails for longer than the retries last
            emulator.faults.add("Trades", "http_500", count=settings.max_attempts)

    with pytest.raises(DataError, match="run the same command again to resume"):
        download(pairs, HOUR, tmp_path, settings, START, fault_after_two_pages)
    state = json.loads(cursor_file(tmp_path / "XBTUSD_60.csv").read_text())
    assert state["written_through"] is not None and not (tmp_path / "ETHUSD_60.csv").exists()
    # the process also died between appending candles and saving the cursor: a stray row must not survive
    with open(tmp_path / "XBTUSD_60.csv", "a") as handle:
        handle.write(f"{int(pd.Timestamp('2019-04-20').timestamp())},1,1,1,1,1,1\n")

    emulator.advance(3 * 86_400)  # the market moves on meanwhile: the second run tops up to the new present
    done = cli("data", "download", "--pairs", "BTC/USD", "ETH/USD", "--from", "2019-03-01", "--data-dir",
               str(tmp_path), "--api-url", emulator.base_url, "--rate-limit-ms", "1", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "resumed" in done.stdout
    now = pd.Timestamp(emulator.clock.now())
    for pair, altname in (("BTC/USD", "XBTUSD"), ("ETH/USD", "ETHUSD")):
        stored, expected = _stored(tmp_path, altname), _expected(emulator, pair, now)
        assert not stored.index.duplicated().any()
        assert list(stored.index) == list(expected.index)  # no gap, no duplicate
        np.testing.assert_allclose(stored[["open", "high", "low", "close"]], expected[["open", "high", "low",
                                                                                        "close"]], rtol=1e-12)
        np.testing.assert_allclose(stored["volume"], expected["volume"], rtol=1e-6)
        from_trades = stored.index < now - 720 * HOUR  # older than OHLC's window: built from the trade pages
        assert (stored.loc[from_trades, "trades"] == 4).all() and from_trades.sum() > 24 * 30
    # the trades of the first month came from the Trades endpoint; the last 720 hours from OHLC
    assert emulator.app.requests.count("Trades") > 4 and "OHLC" in emulator.app.requests

    # nothing new: a third run writes nothing and duplicates nothing
    again = download(pairs, HOUR, tmp_path, settings)
    assert [r.candles_written for r in again] == [0, 0]

    backtest = cli("backtest", "--config", "configs/quick.yaml", "--data-dir", str(tmp_path), "--pairs", "BTC/USD",
                   "ETH/USD", "--from", "2019-03-01", "--to", "2019-06-03", "--out", str(tmp_path / "run"),
                   "--no-plot", "--no-progress")
    assert backtest.returncode == 0, backtest.stderr
    run = json.loads((tmp_path / "run" / "metrics.json").read_text())["run"]
    assert run["pairs_traded"] == ["BTC/USD", "ETH/USD"] and run["data_files"]["BTC/USD"] == "XBTUSD_60.csv"


def test_trades_page_like_krakens(emulator):
    client = public_client(DownloadSettings(api_url=emulator.base_url, rate_limit_ms=1))
    pid = catalog().resolve("BTC/USD").pair_id
    first = client.publicGetTrades({"pair": pid, "since": str(int(START.timestamp()))})["result"]
    assert len(first[pid]) == 1000
    second = client.publicGetTrades({"pair": pid, "since": first["last"], "count": 10})["result"]
    assert len(second[pid]) == 10 and second[pid][0][2] > first[pid][-1][2]  # strictly after the cursor
    assert int(second["last"]) == round(second[pid][-1][2] * 1e9)
    latest = client.publicGetTrades({"pair": pid, "count": 3})["result"][pid]
    assert len(latest) == 3 and latest[-1][2] <= pd.Timestamp(emulator.clock.now()).timestamp()


def test_a_pair_without_data_needs_a_first_day(emulator, tmp_path):
    settings = DownloadSettings(**{**FAST.__dict__, "api_url": emulator.base_url})
    with pytest.raises(DataError, match="--from"):
        PairDownload(public_client(settings), catalog().resolve("BTC/USD"), HOUR, tmp_path, settings).run()


def _trades_csv(start: str, hours: int) -> str:
    times = pd.date_range(start, periods=hours * 6, freq="10min").as_unit("s").asi8 + 7
    prices = 100 + np.arange(len(times)) * 0.5
    return "".join(f"{t},{p},{0.25}\n" for t, p in zip(times, prices, strict=True))


def test_import_reads_an_archive_zip_of_ohlcvt_and_trade_files_and_list_shows_them(tmp_path):
    source = Path("/tmp/shared/data/kraken-ohlcvt/XBTUSD_60.csv")
    lines = source.read_text().splitlines()[-200:] if source.is_file() else None
    if lines is None:  # the shared data is not there: a small OHLCVT file of our own
        lines = [f"{1_576_998_000 + 3600 * i},1,2,0.5,1.5,3,4" for i in range(200)]  # on the hour, as Kraken
    archive = tmp_path / "Kraken_archive.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Kraken_OHLCVT/XBTUSD_60.csv", "\n".join(lines) + "\n")
        zf.writestr("Kraken_Trading_History/ETHUSD.csv", _trades_csv("2020-01-01", 48))
        zf.writestr("Kraken_Trading_History/SOLUSD.csv", _trades_csv("2022-01-01", 5))
    folder = tmp_path / "data"
    done = import_files([archive], folder, HOUR, altnames={"XBTUSD", "ETHUSD"})
    assert sorted(p.name for p in folder.iterdir()) == ["ETHUSD_60.csv", "XBTUSD_60.csv"]
    assert len(load_candles(folder / "XBTUSD_60.csv")) >= 200 - 1
    eth = load_candles(folder / "ETHUSD_60.csv")
    assert len(eth) == 48 and eth["volume"].iloc[0] == pytest.approx(1.5) and eth["open"].iloc[1] == 103.0
    assert {d.file.name for d in done} == {"XBTUSD_60.csv", "ETHUSD_60.csv"}
    listed = {s.file: s for s in summarize_folder(folder)}
    assert listed["ETHUSD_60.csv"].timeframe == "1h" and listed["ETHUSD_60.csv"].rows == 48
    assert listed["ETHUSD_60.csv"].first_bar == "2020-01-01 00:00:00"
    shown = cli("data", "list", "--data-dir", str(folder))
    assert shown.returncode == 0 and "XBTUSD_60.csv" in shown.stdout and "ETHUSD" in shown.stdout
    again = cli("data", "import", str(archive), "--data-dir", str(folder), "--pairs", "ETH/USD")
    assert again.returncode == 0, again.stderr
    assert len(load_candles(folder / "ETHUSD_60.csv")) == 48  # imported twice, stored once


def test_rate_limit_and_unavailable_answers_are_retried(emulator, tmp_path):
    settings = DownloadSettings(**{**FAST.__dict__, "api_url": emulator.base_url, "max_attempts": 3})
    emulator.faults.add("Trades", "rate_limit")
    emulator.faults.add("Trades", "unavailable")
    start = pd.Timestamp(emulator.clock.now()) - pd.Timedelta(days=45)  # two trade pages, then OHLC
    [report] = download([catalog().resolve("XRP/USD")], HOUR, tmp_path, settings, start.normalize())
    assert [f.kind for f in emulator.faults.injected] == ["rate_limit", "unavailable"]
    stored = _stored(tmp_path, "XRPUSD")
    assert report.candles_written == len(stored) and not stored.index.duplicated().any()
    assert stored.index[0] == start.normalize() and report.trade_pages >= 2


@pytest.mark.parametrize("saved", [{"file_bytes": 0, "last_line": ""}, {}], ids=["cursor", "older cursor"])
def test_a_data_file_changed_since_an_interrupted_download_is_never_cut(tmp_path, saved):
    """A download interrupted before its first candle, then an archive imported into the same file: resuming must
    not take the imported rows for its own stray rows and cut them."""
    data = tmp_path / "XBTUSD_60.csv"
    rows = "".join(f"{1_546_300_800 + 3600 * i},1,2,0.5,1.5,3,4\n" for i in range(100))  # what the import wrote
    data.write_text(rows)
    since = str(START.value - 1)  # `data download --from 2019-03-01`, stopped before its first whole candle
    cursor_file(data).write_text(json.dumps({"pair": "BTC/USD", "timeframe_ns": int(HOUR.value), "cursor": since,
                                             "written_through": None, "open": None, **saved}))
    with pytest.raises(DataError, match=r"changed since the interrupted download .* is left as it is"):
        download([catalog().resolve("BTC/USD")], HOUR, tmp_path, FAST)
    assert data.read_text() == rows


@pytest.mark.parametrize("cursor", ["[]", '{"pair": "ETH/USD"}', '{"pair": "BTC/USD", "timeframe_ns": 3600000000000, '
                                    '"cursor": "x", "written_through": null, "open": null}'])
def test_a_damaged_or_foreign_cursor_is_one_clear_error(tmp_path, cursor):
    cursor_file(tmp_path / "XBTUSD_60.csv").write_text(cursor)
    with pytest.raises(DataError, match="damaged or belongs to another pair or timeframe"):
        download([catalog().resolve("BTC/USD")], HOUR, tmp_path, FAST)
