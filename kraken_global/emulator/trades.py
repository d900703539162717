"""The public ``Trades`` endpoint: a trade tape made from the replayed candles, paged as Kraken pages it.

Kraken's ``Trades?pair&since&count`` answers at most ``count`` (<= 1000) trades after ``since`` and a ``last``
cursor (the last trade's time in nanoseconds, as a string) to pass as the next ``since``. ``since`` may be unix
seconds or that nanosecond cursor; like Kraken, a number of more than 12 digits is read as nanoseconds. Without
``since`` the latest ``count`` trades are returned.

Each candle with volume becomes four trades - open, high, low, close, a quarter of the volume each - at
fixed offsets inside the candle, so the candles a client builds from the tape are exactly the replayed ones. A
candle without volume has no trades (Kraken's tape is silent in a quiet hour). Only trades up to the clock's
time exist.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from kraken_global.emulator.errors import KrakenError
from kraken_global.emulator.market import Market

TRADES_LIMIT = 1000
PER_CANDLE = 4
_OFFSETS = np.array([0.001, 0.25, 0.5, 0.999])  # share of the candle's length: open, high, low, close
_SIDES = ("b", "s", "s", "b")


def parse_since(since: str | None) -> int | None:
    """``since`` as nanoseconds: unix seconds (may have a fraction) or Kraken's nanosecond cursor."""
    if since in (None, ""):
        return None
    try:
        text = str(since)
        if "." not in text and len(text.lstrip("-")) > 12:
            return int(text)
        return round(float(text) * 1e9)
    except ValueError:
        raise KrakenError("EGeneral:Invalid arguments:since") from None


class TradeTape:
    """The trades of every replayed candle, generated on demand for the window a request asks for."""

    def __init__(self, market: Market) -> None:
        self.market = market

    def _frame(self, pair_id: str) -> pd.DataFrame:
        return self.market.candles[pair_id]

    def page(self, pair_id: str, now: datetime, since: str | None, count: int | str | None) -> dict:
        """The ``Trades`` result for ``pair_id`` at time ``now``."""
        try:
            limit = TRADES_LIMIT if count in (None, "") else int(count)
        except ValueError:
            raise KrakenError("EGeneral:Invalid arguments:count") from None
        if not 1 <= limit <= TRADES_LIMIT:
            raise KrakenError("EGeneral:Invalid arguments:count")
        after = parse_since(since)
        frame = self._frame(pair_id)
        starts = frame.index.as_unit("ns").asi8
        now_ns = pd.Timestamp(now).value
        now_candle = int(np.searchsorted(starts, now_ns, side="right"))
        chunk = limit // PER_CANDLE + 2
        if after is None:  # the latest trades
            first_candle = max(0, now_candle - chunk)
        else:
            first_candle = max(0, int(np.searchsorted(starts, after, side="right")) - 1)
        parts, found, candle = [], 0, first_candle
        while candle < now_candle and found < limit:  # quiet candles have no trades: read on until the page is full
            rows = self._trades(frame, starts, candle, min(candle + chunk, now_candle))
            keep = rows["time_ns"] <= now_ns
            if after is not None:
                keep &= rows["time_ns"] > after
            parts.append({k: v[keep] for k, v in rows.items()})
            found += int(keep.sum())
            candle += chunk
            if after is None:
                break
        rows = {k: np.concatenate([p[k] for p in parts]) if parts else np.array([]) for k in
                ("price", "volume", "time_ns", "side", "id")}
        rows = {k: (v[-limit:] if after is None else v[:limit]) for k, v in rows.items()}
        decimals = self.market.rules[pair_id].pair_decimals
        trades = [[format(p, f".{decimals}f"), f"{v:.8f}", float(t) / 1e9, str(s), "l", "", int(i)]
                  for p, v, t, s, i in zip(rows["price"], rows["volume"], rows["time_ns"], rows["side"], rows["id"],
                                           strict=True)]
        last = int(rows["time_ns"][-1]) if len(rows["time_ns"]) else (after if after is not None else now_ns)
        return {pair_id: trades, "last": str(last)}

    @staticmethod
    def _trades(frame: pd.DataFrame, starts: np.ndarray, first: int, last: int) -> dict[str, np.ndarray]:
        part = frame.iloc[first:last]
        traded = part["volume"].to_numpy() > 0
        begin = starts[first:last][traded]
        length = np.diff(starts, append=starts[-1] + (starts[-1] - starts[-2] if len(starts) > 1 else 3_600 * 10**9))
        length = length[first:last][traded]
        prices = part[["open", "high", "low", "close"]].to_numpy()[traded]
        volume = np.repeat(part["volume"].to_numpy()[traded] / PER_CANDLE, PER_CANDLE)
        times = (begin[:, None] + (length[:, None] * _OFFSETS[None, :]).astype("int64")).ravel()
        candle_ids = np.arange(first, last)[traded]
        ids = (candle_ids[:, None] * PER_CANDLE + np.arange(PER_CANDLE)[None, :]).ravel() + 1
        sides = np.tile(np.array(_SIDES), len(begin))
        return {"price": prices.ravel(), "volume": volume, "time_ns": times, "side": sides, "id": ids}
