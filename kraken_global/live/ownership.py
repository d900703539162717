"""What of a shared Kraken account is the bot's: its orders, its coins, its cash.

A trader may keep other coins on the account the bot trades and place orders there by hand. The bot touches only
what it did:

- **its orders**: a client order id with the bot's prefix that its trading state recorded (every order is recorded
  before it is sent). Only these are cancelled at start, on stop and by the kill switch; any other open order is
  left alone (but see the dead man's switch: Kraken's is account-wide).
- **its coins**: per pair, the units its own fills built (the state records only our orders' trades), never more
  than the account holds. Strategies and the kill switch sell only these, never coins that were there before.
- **its cash**: the account's quote currency, capped by a budget (``live.capital.budget_usd``) plus what the bot's
  own fills netted since (sells brought in, buys spent, fees); without a budget, all of it.
"""

from __future__ import annotations

from typing import Any

from kraken_global.live.store import is_own_client_id


def client_id_of(order: dict[str, Any]) -> str | None:
    """The ``cl_ord_id`` of a ccxt order (ccxt's ``clientOrderId`` carries ``userref``, not ``cl_ord_id``)."""
    info = order.get("info") or {}
    return info.get("cl_ord_id") or order.get("clientOrderId")


def split_open_orders(orders: list[dict[str, Any]], recorded: set[str]) -> tuple[list[dict], list[dict]]:
    """(the bot's, everyone else's) among ``orders``; the bot's carry its prefix and are in its ``recorded`` ids."""
    ours, foreign = [], []
    for order in orders:
        client_id = client_id_of(order)
        (ours if is_own_client_id(client_id) and client_id in recorded else foreign).append(order)
    return ours, foreign


def own_units(built: float, held: float) -> float:
    """The bot's units of a pair: what its fills built, at most what the account holds, never below 0."""
    return max(0.0, min(built, held))


def bot_cash(available: float, budget: float | None, cash_flow: float, committed: float = 0.0) -> float:
    """Quote currency the bot may use: ``available`` on the account, capped by ``budget`` + ``cash_flow`` (what the
    bot's fills netted) - ``committed`` (held for its open buys) when a budget is set."""
    if budget is None:
        return available
    return max(0.0, min(available, budget + cash_flow - committed))


def foreign_orders_refusal(count: int, dead_mans_switch_seconds: int | None, dedicated: bool) -> str | None:
    """Why a session must not start with ``count`` open orders of another party on the account, or None: Kraken's
    dead man's switch is account-wide, so when it fires it cancels them too."""
    if not count or not dead_mans_switch_seconds or dedicated:
        return None
    return (f"the account has {count} open order(s) this bot did not place, and Kraken's dead man's switch "
            f"(live.dead_mans_switch_seconds {dead_mans_switch_seconds}) cancels every order of the account when it "
            "fires: trade on an account (or subaccount) of its own, set live.dead_mans_switch_seconds: null, or set "
            "live.dedicated_account: true if those orders may be cancelled")
