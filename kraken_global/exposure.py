"""The per-pair exposure limit: no buy takes one pair above ``max_pair_share`` of the portfolio's value.

Slots size orders by the portfolio's value; on a run with one pair (or one pair with data) that puts the whole
portfolio into it. The limit is a portfolio rule, so it lives in the brokers: the paper broker (backtests and
paper sessions) and the live broker both clip a buy with :func:`allowed_buy_size` before it is checked, so the
same order is sized the same way in backtest, paper and live. Sells are never limited (they reduce exposure), and
neither are stablecoin pairs (USDT/USD...): parking capital there is how a spot-only sleeve holds cash, not a bet.

The brokers' own default is no limit (a bare broker behaves like backtrader's); the config's ``broker.
max_pair_share`` (default :data:`DEFAULT_MAX_PAIR_SHARE`) is what every run passes them.
"""

from __future__ import annotations

DEFAULT_MAX_PAIR_SHARE = 0.5
STABLECOINS = frozenset({"USDT", "USDC", "DAI", "PYUSD", "USDG", "EURT"})


def is_limited(base_currency: str) -> bool:
    """Whether the per-pair limit applies to a pair with this base currency (stablecoins are cash)."""
    return base_currency.upper() not in STABLECOINS


def allowed_buy_size(size: float, price: float, held: float, pending: float, portfolio_value: float,
                     max_share: float | None) -> float:
    """The part of a buy of ``size`` units at ``price`` that keeps the pair within ``max_share`` of
    ``portfolio_value``. ``held``: units held; ``pending``: units of open buys. ``None`` means no limit."""
    if max_share is None or price <= 0 or size <= 0:
        return size
    room = max_share * portfolio_value - (held + pending) * price
    return max(0.0, min(size, room / price))
