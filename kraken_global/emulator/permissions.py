"""API-key permissions as Kraken grants them, and which each private method needs (from Kraken's spec).

A key is created with any subset of :data:`PERMISSIONS` (default: all). A call the key may not make is answered
``EGeneral:Permission denied``, as Kraken does, so a live session started with a read-only key fails early and
clearly instead of at its first order.
"""

from __future__ import annotations

from collections.abc import Iterable

QUERY_FUNDS = "query-funds"
QUERY_OPEN = "query-open"
QUERY_CLOSED = "query-closed"
CREATE = "create-orders"
CANCEL = "cancel-orders"
#: Kraken's permission names, short: Funds - Query; Orders and trades - Query open orders & trades, Query closed
#: orders & trades, Create & modify orders, Cancel & close orders.
PERMISSIONS = (QUERY_FUNDS, QUERY_OPEN, QUERY_CLOSED, CREATE, CANCEL)

#: Any one of the listed permissions allows the method (Kraken's "or").
NEEDS: dict[str, frozenset[str]] = {
    "Balance": frozenset({QUERY_FUNDS}), "BalanceEx": frozenset({QUERY_FUNDS}),
    "TradeVolume": frozenset({QUERY_FUNDS}), "TradeBalance": frozenset({QUERY_OPEN}),
    "OpenOrders": frozenset({QUERY_OPEN}), "ClosedOrders": frozenset({QUERY_CLOSED}),
    "QueryOrders": frozenset({QUERY_OPEN, QUERY_CLOSED}), "TradesHistory": frozenset({QUERY_CLOSED}),
    "QueryTrades": frozenset({QUERY_CLOSED}), "AddOrder": frozenset({CREATE}),
    "CancelOrder": frozenset({CREATE, CANCEL}), "CancelAll": frozenset({CREATE, CANCEL}),
    "CancelAllOrdersAfter": frozenset({CREATE, CANCEL}),
}


def parse_permissions(values: Iterable[str] | None) -> frozenset[str]:
    """The permission set of a key; ``None`` means all. Unknown names raise ``ValueError`` naming the known ones."""
    if values is None:
        return frozenset(PERMISSIONS)
    chosen = frozenset(v.strip() for v in values if v.strip())
    unknown = sorted(chosen - set(PERMISSIONS))
    if unknown:
        raise ValueError(f"unknown API-key permission {', '.join(unknown)}; known: {', '.join(PERMISSIONS)}")
    return chosen


def allowed(method: str, granted: frozenset[str]) -> bool:
    needs = NEEDS.get(method)
    return needs is None or bool(needs & granted)
