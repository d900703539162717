"""Reports progress of a run to a callback (the CLI draws a rich progress bar with it)."""

from __future__ import annotations

from collections.abc import Callable

import backtrader as bt


class Progress(bt.Analyzer):
    """Calls ``callback(bars_done)`` every ``every`` bars and once at the end."""

    params = (("callback", None), ("every", 500))
    portfolio_wide = True  # bars of the run, counted once

    def start(self) -> None:
        self.bars = 0
        self._callback: Callable[[int], None] | None = self.p.callback

    def next(self) -> None:
        self.bars += 1
        if self._callback and self.bars % self.p.every == 0:
            self._callback(self.bars)

    def stop(self) -> None:
        if self._callback:
            self._callback(self.bars)
        self.rets["bars"] = self.bars
