"""How Kraken writes an order, a trade and an account's fees in its replies: key sets and JSON types as real replies
have them, which differ from the OpenAPI schema in places.

Real replies (ccxt's recorded Kraken replies, the documentation's examples) send ``opentm``, ``closetm``,
``starttm``, ``expiretm`` and ``userref`` as strings (``userref`` ``"0"`` when unset), carry ``reason: null`` on
orders that have no reason (QueryOrders, ClosedOrders; OpenOrders leaves it out), list ``trades`` only when there
are some and they were asked for, and name TradeVolume's tier fields ``minfee``, ``maxfee``, ``nextfee``,
``nextvolume``, ``tiervolume``. ``tests/test_emulator_replies.py`` holds the emulator to hand-recorded real replies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kraken_global.universe import PairRules

if TYPE_CHECKING:
    from kraken_global.emulator.exchange import Order

CLOSED = ("closed", "canceled", "expired")


def timestamp_text(seconds: float) -> str:
    """Unix seconds as Kraken writes order times: a decimal string."""
    return f"{seconds:.6f}"


def order_reply(order: Order, rules: PairRules, with_trades: bool = False, with_reason: bool = True) -> dict[str, Any]:
    """One order as QueryOrders / ClosedOrders (``with_reason``) or OpenOrders (without) return it."""
    decimals = rules.pair_decimals
    price_text = f"{order.price:.{decimals}f}" if order.price is not None else "0"
    kind = "market" if order.ordertype == "market" else f"limit {price_text}"
    description = f"{order.side} {order.volume:.8f} {rules.altname} @ {kind}"
    out: dict[str, Any] = {
        "refid": None, "userref": str(order.userref if order.userref is not None else 0), "status": order.status,
        "opentm": timestamp_text(order.opentm), "starttm": "0", "expiretm": "0",
        "descr": {"pair": rules.altname, "type": order.side, "ordertype": order.ordertype, "price": price_text,
                  "price2": "0", "leverage": "none", "order": description, "close": ""},
        "vol": f"{order.volume:.8f}", "vol_exec": f"{order.vol_exec:.8f}", "cost": f"{order.cost:.5f}",
        "fee": f"{order.fee:.5f}",
        "price": f"{(order.cost / order.vol_exec) if order.vol_exec else 0:.{decimals}f}",
        "stopprice": "0.00000", "limitprice": "0.00000", "misc": "", "oflags": order.oflags or "fciq",
    }
    if order.cl_ord_id is not None:
        out["cl_ord_id"] = order.cl_ord_id
    if with_trades and order.trades:
        out["trades"] = list(order.trades)
    if with_reason or order.status in CLOSED:
        out["reason"] = order.reason
    if order.status in CLOSED:
        out["closetm"] = timestamp_text(order.closetm)
    return out


def trade_record(order: Order, rules: PairRules, volume: float, price: float, fee: float, liquidity: str,
                 when: float, number: int) -> dict[str, Any]:
    """One TradesHistory entry of a spot trade."""
    cost = volume * price
    return {"ordertxid": order.txid, "postxid": "", "pair": order.pair_id, "time": round(when, 4),
            "type": order.side, "ordertype": order.ordertype, "price": f"{price:.{rules.pair_decimals}f}",
            "cost": f"{cost:.5f}", "fee": f"{fee:.5f}", "vol": f"{volume:.8f}", "margin": "0.00000", "leverage": "0",
            "misc": "", "trade_id": number, "maker": liquidity == "maker"}


def fee_tier_reply(rate: float, next_rate: float | None, volume_from: float, next_volume: float | None,
                   lowest: float, highest: float) -> dict[str, Any]:
    """One pair's entry of TradeVolume's ``fees`` or ``fees_maker`` (percent strings, as Kraken writes them)."""
    return {"fee": f"{rate * 100:.4f}", "minfee": f"{lowest * 100:.4f}", "maxfee": f"{highest * 100:.4f}",
            "nextfee": None if next_rate is None else f"{next_rate * 100:.4f}",
            "nextvolume": None if next_volume is None else f"{next_volume:.4f}",
            "tiervolume": f"{volume_from:.4f}"}
