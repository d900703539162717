"""Download Kraken history into the data folder: trades paged into candles, the latest bars from OHLC.

Kraken's ``OHLC`` endpoint serves only the latest 720 candles, so older history comes from the public ``Trades``
endpoint, paged by its ``since``/``last`` nanosecond cursor (1000 trades a call) and turned into candles as the
pages arrive (:class:`~kraken_global.feeds.trade_stream.CandleBuilder`). Once the next candle needed is inside
OHLC's window, the remaining closed candles come from one ``OHLC`` call. Public endpoints only: no API key.

Resuming: after each page the completed candles are appended to ``<ALTNAME>_<minutes>.csv`` (Kraken's OHLCVT
layout) and then the cursor, the candle still open and the last written candle are saved atomically in
``<ALTNAME>_<minutes>.cursor.json`` beside it. An interrupted download (a fault, Ctrl-C, a killed process) resumes
from the saved cursor; rows appended after the last saved state are cut off first, so no trade is counted twice
and none is lost. A file without a cursor (an import, an older download) is topped up from its last bar.

Rate limit: ccxt's limiter spaces the calls (Kraken's public limit is about one call a second); temporary errors
(rate limit, unavailable, network) are retried with back-off, other errors stop the download with the reason.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ccxt
import numpy as np
import pandas as pd

from kraken_global.errors import DataError
from kraken_global.feeds.recorded import record_file
from kraken_global.feeds.trade_stream import CandleBuilder, _Open
from kraken_global.files import read_json_limited
from kraken_global.universe import PairRules

TRADES_PER_CALL = 1000
OHLC_INTERVALS = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)


@dataclass(frozen=True)
class DownloadSettings:
    """Where to download from and how politely. ``api_url``: None for Kraken itself, or the emulator's URL."""

    api_url: str | None = None
    rate_limit_ms: float | None = None  # None: ccxt's Kraken limit
    max_attempts: int = 5
    backoff_seconds: float = 1.0
    timeout_ms: int = 30_000


def public_client(settings: DownloadSettings) -> ccxt.kraken:
    """A ccxt Kraken client for public endpoints (no key), with the rate limiter on."""
    options: dict[str, Any] = {"enableRateLimit": True, "timeout": settings.timeout_ms}
    if settings.rate_limit_ms is not None:
        options["rateLimit"] = settings.rate_limit_ms
    client = ccxt.kraken(options)
    if settings.api_url:
        client.urls["api"] = {"public": settings.api_url, "private": settings.api_url}
    return client


def exchange_now(client, settings: DownloadSettings) -> pd.Timestamp:
    """The exchange's clock (public ``Time``; the emulator's market time is not the machine's)."""
    try:
        return pd.Timestamp(int(client.publicGetTime()["result"]["unixtime"]), unit="s")
    except (ccxt.BaseError, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"cannot reach {settings.api_url or 'Kraken'}: {exc}") from exc


def cursor_file(data_file: Path) -> Path:
    return data_file.with_name(data_file.name.replace(".csv", ".cursor.json"))


@dataclass
class PairReport:
    """What one pair's download did."""

    symbol: str
    file: Path
    candles_written: int
    trade_pages: int
    first_bar: pd.Timestamp | None
    last_bar: pd.Timestamp | None
    resumed: bool


class PairDownload:
    """One pair at one timeframe; :meth:`run` downloads up to the exchange's present."""

    def __init__(self, client, rules: PairRules, timeframe: pd.Timedelta, folder: Path,
                 settings: DownloadSettings, since: pd.Timestamp | None = None,
                 on_progress: Callable[[str, pd.Timestamp], None] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client, self.rules, self.timeframe, self.settings = client, rules, pd.Timedelta(timeframe), settings
        self.path = record_file(folder, rules.altname, self.timeframe)
        self.state_path = cursor_file(self.path)
        self.since = since
        self.on_progress = on_progress
        self.sleep = sleep
        self.step = int(self.timeframe.value)
        self.pages = 0
        self.written = 0

    # -- state ------------------------------------------------------------------------------------------------

    def _load_state(self) -> dict | None:
        if not self.state_path.exists():
            return None
        state = read_json_limited(self.state_path, "download cursor", 100_000, DataError)
        problem = _cursor_problem(state, self.rules.symbol, self.step)
        if problem:
            raise DataError(f"the download cursor is damaged or belongs to another pair or timeframe ({problem}): "
                            "delete it to download again from the last bar of the data file", str(self.state_path))
        return state

    def _save_state(self, cursor: int, builder: CandleBuilder, written_through: int | None) -> None:
        p = builder.pending
        size = self.path.stat().st_size if self.path.is_file() else 0
        state = {"pair": self.rules.symbol, "timeframe_ns": self.step, "cursor": str(cursor),
                 "written_through": written_through,
                 "open": None if p is None else [p.bucket, p.open, p.high, p.low, p.close, p.volume, p.trades],
                 # the data file as this state leaves it: a resume cuts back to exactly these bytes
                 "file_bytes": size, "last_line": self._line_ending_at(size)}
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.state_path)

    def _line_ending_at(self, offset: int) -> str:
        """The last line of the data file's first ``offset`` bytes ("" for none)."""
        if offset == 0:
            return ""
        with open(self.path, "rb") as handle:
            handle.seek(max(0, offset - 4096))
            chunk = handle.read(offset - max(0, offset - 4096))
        return chunk.rstrip(b"\n").rsplit(b"\n", 1)[-1].decode("utf-8", "replace")

    def _last_bar(self) -> int | None:
        """Start (ns) of the last candle in the data file, or None."""
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return None
        with open(self.path, "rb") as handle:
            handle.seek(max(0, self.path.stat().st_size - 4096))
            lines = [line for line in handle.read().splitlines() if line.strip()]
        try:
            return int(float(lines[-1].split(b",")[0])) * 10**9 if lines else None
        except (ValueError, OverflowError):
            raise DataError(f"its last line {lines[-1][:60]!r} is not a candle row: the download appends after the "
                            "last candle; fix or remove that line", str(self.path)) from None

    def _cut_after(self, state: dict) -> None:
        """Drop the rows appended after ``state`` was saved (the process stopped between the two writes), and
        only those: the file is cut back to the bytes the state recorded. A file that no longer starts with those
        bytes, or whose later rows are older than the download had reached, was changed by something else since
        (an import, an edit): it is left as it is and the download refused, so that no row anyone else wrote is
        cut (rows an import added after the cursor would be cut, and downloaded again)."""
        size = self.path.stat().st_size if self.path.is_file() else 0
        saved = state.get("file_bytes")
        if saved is None:  # a cursor written before file_bytes existed: the rows after written_through are ours
            written_through, last = state["written_through"], self._last_bar()
            if last is None or (written_through is not None and last <= written_through):
                return
            if written_through is None:
                raise self._changed("it holds rows the interrupted download did not write")
            frame = pd.read_csv(self.path, header=None, dtype=str)
            frame[frame[0].astype(float).astype("int64") * 10**9 <= written_through].to_csv(
                self.path, header=False, index=False)
            return
        if size == saved:
            return
        if size < saved or self._line_ending_at(saved) != state.get("last_line"):
            raise self._changed("it is not the file the interrupted download left")
        if self._first_time_after(saved) < self._resume_from(state):
            raise self._changed("rows after the saved cursor are older than the download had reached")
        with open(self.path, "r+b") as handle:
            handle.truncate(saved)
            os.fsync(handle.fileno())

    def _resume_from(self, state: dict) -> int:
        """The earliest candle start (ns) this download could append after ``state`` was saved."""
        if state["written_through"] is not None:
            return state["written_through"] + self.step
        if state["open"] is not None:
            return int(state["open"][0]) * self.step
        return int(state["cursor"]) // self.step * self.step

    def _first_time_after(self, offset: int) -> int:
        """The earliest candle start (ns) in the rows after ``offset`` bytes."""
        with open(self.path, "rb") as handle:
            handle.seek(offset)
            rows = [line.split(b",", 1)[0] for line in handle.read().splitlines() if line.strip()]
        try:
            return min(int(float(t)) for t in rows) * 10**9
        except ValueError:  # not rows this download writes
            return -1

    def _changed(self, why: str) -> DataError:
        return DataError(f"the data file changed since the interrupted download ({why}: an import or an edit?); it "
                         f"is left as it is. Delete the cursor {self.state_path} to top up from the file's last bar",
                         str(self.path))

    # -- writing ----------------------------------------------------------------------------------------------

    def _append(self, candles: pd.DataFrame) -> None:
        if candles.empty:
            return
        seconds = candles.index.as_unit("ns").asi8 // 10**9
        lines = [f"{t},{r.open!r},{r.high!r},{r.low!r},{r.close!r},{r.volume!r},{int(r.trades)}\n"
                 for t, r in zip(seconds, candles.itertuples(index=False), strict=True)]
        with open(self.path, "a") as handle:
            handle.writelines(lines)
            handle.flush()
            os.fsync(handle.fileno())
        self.written += len(candles)

    # -- exchange calls -----------------------------------------------------------------------------------------

    def _call(self, method: str, params: dict) -> dict:
        from kraken_global.live.errors import TemporaryError, translate

        for attempt in range(self.settings.max_attempts):
            try:
                return getattr(self.client, method)(params)["result"]
            except ccxt.BaseError as exc:
                error = translate(exc)
                if not isinstance(error, TemporaryError) or attempt == self.settings.max_attempts - 1:
                    raise DataError(f"download of {self.rules.symbol} stopped: {error} (run the same command "
                                    "again to resume where it stopped)") from exc
                self.sleep(self.settings.backoff_seconds * 2 ** attempt)
        raise AssertionError("unreachable")

    def _ohlc(self) -> pd.DataFrame | None:
        """The closed candles OHLC serves for this timeframe (the forming one left out), or None."""
        minutes = int(self.timeframe / pd.Timedelta(minutes=1))
        if minutes not in OHLC_INTERVALS or self.timeframe != pd.Timedelta(minutes=minutes):
            return None
        rows = self._call("publicGetOHLC", {"pair": self.rules.pair_id, "interval": minutes})
        rows = rows.get(self.rules.pair_id) or next((v for k, v in rows.items() if k != "last"), [])
        if len(rows) < 2:
            return None
        closed = np.array([[float(x) for x in (r[0], r[1], r[2], r[3], r[4], r[6], r[7])] for r in rows[:-1]])
        index = pd.DatetimeIndex((closed[:, 0].astype("int64") * 10**9).astype("datetime64[ns]"), name="datetime")
        frame = pd.DataFrame(closed[:, 1:], index=index, columns=["open", "high", "low", "close", "volume", "trades"])
        return frame[frame["volume"] > 0]  # Kraken's export writes no row for an interval without trades

    # -- the download -------------------------------------------------------------------------------------------

    def run(self) -> PairReport:
        state = self._load_state()
        builder = CandleBuilder(self.timeframe)
        resumed = state is not None
        if state is not None:
            written_through = state["written_through"]
            self._cut_after(state)
            cursor = int(state["cursor"])
            if state["open"] is not None:
                b, o, h, lo, c, v, n = state["open"]
                builder.pending = _Open(int(b), o, h, lo, c, v, int(n))
        else:
            written_through = self._last_bar()
            if written_through is not None:
                cursor = written_through + self.step - 1
            elif self.since is not None:
                cursor = pd.Timestamp(self.since).value - 1
            else:
                raise DataError(f"no data for {self.rules.symbol} in the folder yet: give the first day with --from",
                                str(self.path))
        first_written = None
        ohlc = self._ohlc()
        ohlc_start = int(ohlc.index[0].value) if ohlc is not None and len(ohlc) else None
        while True:
            next_needed = builder.pending.bucket * self.step if builder.pending is not None else cursor + 1
            if ohlc_start is not None and next_needed >= ohlc_start:
                break
            page = self._call("publicGetTrades", {"pair": self.rules.pair_id, "since": str(cursor)})
            trades = page.get(self.rules.pair_id) or next((v for k, v in page.items() if k != "last"), [])
            self.pages += 1
            if not trades:
                break
            times = np.array([round(float(t[2]) * 1e9) for t in trades], dtype="int64")
            prices = np.array([float(t[0]) for t in trades])
            volumes = np.array([float(t[1]) for t in trades])
            done = builder.add(times, prices, volumes)
            if written_through is not None:
                done = done[done.index.as_unit("ns").asi8 > written_through]
            self._append(done)
            if len(done):
                written_through = int(done.index[-1].value)
                first_written = first_written if first_written is not None else done.index[0]
            cursor = int(page.get("last", times[-1]))
            self._save_state(cursor, builder, written_through)
            if self.on_progress is not None:
                self.on_progress(self.rules.symbol, pd.Timestamp(times[-1]))
            if len(trades) < TRADES_PER_CALL:
                break
        if ohlc is not None and len(ohlc):
            next_needed = builder.pending.bucket * self.step if builder.pending is not None else cursor + 1
            if next_needed >= ohlc_start:  # the latest candles: OHLC has them whole, the open bucket included
                rows = ohlc[ohlc.index.as_unit("ns").asi8 >= (next_needed // self.step) * self.step]
                if written_through is not None:
                    rows = rows[rows.index.as_unit("ns").asi8 > written_through]
                self._append(rows)
                if len(rows):
                    written_through = int(rows.index[-1].value)
                    first_written = first_written if first_written is not None else rows.index[0]
                    builder.pending = None
                    cursor = written_through + self.step - 1
                self._save_state(cursor, builder, written_through)
                if self.on_progress is not None and len(rows):
                    self.on_progress(self.rules.symbol, rows.index[-1])
        last = pd.Timestamp(written_through) if written_through is not None else None
        return PairReport(self.rules.symbol, self.path, self.written, self.pages, first_written, last, resumed)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _cursor_problem(state: Any, symbol: str, step: int) -> str | None:
    """What in a saved cursor this download could not have written (None: nothing)."""
    if not isinstance(state, dict):
        return "not a JSON object"
    if state.get("pair") != symbol or state.get("timeframe_ns") != step:
        return f"pair {state.get('pair')!r}, timeframe_ns {state.get('timeframe_ns')!r}"
    if not (isinstance(state.get("cursor"), str) and state["cursor"].isdigit()):
        return f"cursor {state.get('cursor')!r}"
    if state.get("written_through") is not None and not _whole(state["written_through"]):
        return f"written_through {state['written_through']!r}"
    opened = state.get("open")
    if opened is not None and not (isinstance(opened, list) and len(opened) == 7
                                   and all(isinstance(v, int | float) and not isinstance(v, bool) for v in opened)):
        return f"open {opened!r}"
    if "file_bytes" in state and not (_whole(state["file_bytes"]) and state["file_bytes"] >= 0
                                      and isinstance(state.get("last_line"), str)):
        return f"file_bytes {state.get('file_bytes')!r}"
    return None


def download(pairs: list[PairRules], timeframe: pd.Timedelta, folder: Path, settings: DownloadSettings,
             since: pd.Timestamp | None = None, on_progress=None, client=None) -> list[PairReport]:
    """Download (or top up) every pair of ``pairs`` into ``folder``; see the module docstring."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    client = client or public_client(settings)
    return [PairDownload(client, rules, timeframe, folder, settings, since, on_progress).run() for rules in pairs]
