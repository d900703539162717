"""Who placed an order and why: the words every fill, log line and round trip uses.

A strategy decides an order; the broker fills it later (a market order at the next bar's open, a live order when
the exchange answers). So the reason is attached where the order is decided: the strategy passes ``reason=`` and
``regime=`` to ``buy``/``sell``, backtrader puts them in ``order.info``, and both brokers copy them onto every fill
(:func:`order_labels`) and into their log lines. ``trades.csv``, a session's ``fills.csv``, the live log and the
round-trip ledger therefore all say the same thing in the same words.
"""

from __future__ import annotations

ENTRY_SIGNAL = "entry signal"  # the rule opened (or added a tranche to) a position
STOP = "stop"  # a protective exit: trailing stop, stop loss, a broken floor
TARGET = "target"  # the rule's profit target was reached (e.g. back at the mean)
SIGNAL_EXIT = "signal exit"  # the rule's exit condition (a cross, a channel, a filter, a time limit)
REGIME_CHANGE = "regime change"  # the sleeve's share of the portfolio changed with the regime
SLOT_LOST = "slot lost"  # the regime took the sleeve's slot away: it winds down
KILL_SWITCH = "kill switch"  # the live risk guard sold everything after the daily loss limit
REBALANCE = "rebalance"  # back to the target after prices or the budget moved
SESSION_STOP = "stop of the session"  # a position a paper or live session still held when it stopped (not sold)
RUN_END = "end of the run"  # a position a backtest still held at its last bar (marked, not sold)
UNSPECIFIED = "unspecified"  # an order whose strategy gave no reason (a user's own strategy)

REASONS = (ENTRY_SIGNAL, STOP, TARGET, SIGNAL_EXIT, REGIME_CHANGE, SLOT_LOST, KILL_SWITCH, REBALANCE, SESSION_STOP)

NO_REGIME = "none"  # the regime column of a strategy run alone (there is no regime system)
PORTFOLIO = "portfolio"  # the owner of an order no strategy placed (the kill switch)


def order_labels(order) -> tuple[str, str, str]:
    """``(strategy, regime, reason)`` of a backtrader order: its owner's class and what the strategy attached."""
    strategy = type(order.owner).__name__ if order.owner is not None else PORTFOLIO
    info = order.info
    return strategy, info.get("regime") or NO_REGIME, info.get("reason") or UNSPECIFIED


def describe(strategy: str, regime: str, reason: str) -> str:
    """The words a log line uses: ``TrendFollower, entry signal, regime RISK_ON``."""
    return f"{strategy}, {reason}" + (f", regime {regime}" if regime != NO_REGIME else "")
