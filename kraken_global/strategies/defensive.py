"""DefensiveHedge: cut exposure and park capital in USD or a USD stablecoin (Kraken spot cannot short).

Rules (periods in bars; defaults for 1h candles):

- Risky pairs: hold ``core_fraction`` of the sleeve, split equally, only in pairs whose close is above their
  SMA over ``trend_period``; nothing in the others.
- The rest of the sleeve: in the stablecoin pair (the first feed whose base is USDT, USDC or DAI, or the one
  named by ``stable_symbol``) when there is one, otherwise in USD cash.
"""

from __future__ import annotations

from kraken_global.indicators import RollingMean
from kraken_global.strategies.sleeve import SleeveStrategy

STABLECOINS = ("USDT", "USDC", "DAI")


class DefensiveHedge(SleeveStrategy):
    params = (("core_fraction", 0.2), ("trend_period", 1200), ("stable_symbol", ""))

    @classmethod
    def warmup_bars(cls, **params) -> int:
        return int(params.get("trend_period", cls.params.trend_period))

    def __init__(self) -> None:
        super().__init__()
        self.stable = next((d for d in self.datas if self._is_stable(d._name)), None)
        self.risky = [d for d in self.datas if d is not self.stable]
        self.trend = {d: RollingMean(d.close, period=self.p.trend_period) for d in self.risky}

    def _is_stable(self, name: str) -> bool:
        if self.p.stable_symbol:
            return name == self.p.stable_symbol
        return name.split("/")[0] in STABLECOINS

    def targets(self) -> dict:
        share = self.p.core_fraction * self.equal_share(self.risky)
        out = {}
        for d in self.risky:
            if self.ready(d, self.p.trend_period):
                out[d] = share if d.close[0] > self.now(self.trend[d], d) else 0.0
            elif self.units[d] > 0:
                out[d] = 0.0
        if self.stable is not None and len(self.stable):
            out[self.stable] = max(0.0, 1.0 - sum(out.values()) - self.p.rebalance_band)
        return out
