"""Kraken's official OpenAPI specification of spot REST as a validator for replies (the contract tests' helper).

The specification (``tests/kraken_spec/``, MIT, Payward; see its LICENSE) is read as shipped; ``$ref``s between
its files are resolved by ``referencing``. Three adjustments make its OpenAPI 3.0 schemas usable as JSON Schema
and as strict as the tests need:

- ``nullable: true`` becomes a ``null`` alternative of the type (JSON Schema has no ``nullable``);
- objects that list ``properties`` and say nothing of others reject unknown fields, so a misspelt or invented
  field name fails (the spec lists every field Kraken sends);
- a few maps that the spec writes as one named property (``BalanceEx``'s ``asset``, ``QueryOrders``' order) are
  checked entry by entry against the entry's schema;
- where real replies differ from the schema files, the real reply wins (:data:`REAL_REPLIES`): ccxt's recorded
  Kraken replies send order times and ``userref`` as strings and ``reason: null``, OHLC's ``last`` and the
  ``count`` of ClosedOrders and TradesHistory are strings, and TradeVolume's tier fields are named as in the spec's
  own example (``minfee``, ``tiervolume``, ...), not as in its schema (``min_fee``, ``tier_volume``).

Enumerations the spec leaves as free strings (``oflags``, a trade's ``type`` and ``ordertype``) and the error
strings (only ones Kraken documents) are checked here too.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SPEC_DIR = Path(__file__).parent / "kraken_spec"
OPENAPI = SPEC_DIR / "openapi_v3.yaml"

#: Error strings Kraken documents (spec, docs.kraken.com spot errors, support article), optionally followed by
#: ``:detail`` for the ones Kraken details (``EGeneral:Invalid arguments:volume``).
DOCUMENTED_ERRORS = (
    "EAPI:Invalid key", "EAPI:Invalid signature", "EAPI:Invalid nonce", "EAPI:Rate limit exceeded",
    "EAPI:Feature disabled", "EGeneral:Invalid arguments", "EGeneral:Permission denied",
    "EGeneral:Internal error", "EGeneral:Unknown method", "EGeneral:Temporary lockout", "EService:Unavailable",
    "EService:Busy", "EService:Market in cancel_only mode", "EService:Market in post_only mode",
    "EService:Market in limit_only mode", "EOrder:Insufficient funds", "EOrder:Order minimum not met",
    "EOrder:Cost minimum not met", "EOrder:Tick size check failed", "EOrder:Invalid price",
    "EOrder:Rate limit exceeded", "EOrder:Unknown order", "EOrder:Post only order", "EOrder:Orders limit exceeded",
    "EQuery:Unknown asset pair", "EQuery:Unknown asset",
)
OFLAGS = {"post", "fcib", "fciq", "nompp", "viqc"}
ORDER_TYPES = {"market", "limit", "iceberg", "stop-loss", "take-profit", "stop-loss-limit", "take-profit-limit",
               "trailing-stop", "trailing-stop-limit", "settle-position"}
_ERROR = re.compile(r"^[EW][A-Za-z]+:.+$")


_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_TIER = {"type": "object", "additionalProperties": False,
         "properties": {"fee": _STRING, "minfee": _STRING, "maxfee": _STRING, "nextfee": _NULLABLE_STRING,
                        "nextvolume": _NULLABLE_STRING, "tiervolume": _NULLABLE_STRING}}
#: (schema file, path to its ``properties`` object, property, what real replies send instead).
REAL_REPLIES = (
    *((f"schemas/objects/user/orders/{kind}.yaml", (), name, _STRING)
      for kind in ("open", "closed") for name in ("opentm", "starttm", "expiretm", "closetm", "userref")),
    *((f"schemas/objects/user/orders/{kind}.yaml", (), "reason", _NULLABLE_STRING) for kind in ("open", "closed")),
    ("schemas/responses/public/ohlc.yaml", ("result",), "last", _STRING),
    ("schemas/responses/user/orders/closed.yaml", ("result",), "count", _STRING),
    ("schemas/objects/user/trades/history.yaml", (), "count", _STRING),
)
#: Schema files replaced whole by the shape of real replies.
REAL_OBJECTS = {"schemas/objects/user/volume/fees.yaml": _TIER}


def _as_real_replies(relative: str, schema: dict) -> dict:
    if relative in REAL_OBJECTS:
        return REAL_OBJECTS[relative]
    for where, path, name, real in REAL_REPLIES:
        if where == relative:
            node = schema
            for step in path:
                node = node["properties"][step]
            node["properties"][name] = real
    return schema


class ContractError(AssertionError):
    """A reply that breaks Kraken's specification; the message says where and how."""


def _openapi_friendly(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _openapi_friendly(v) for k, v in node.items()}
        if node.pop("nullable", False) and "type" in node:
            node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node \
                and not {"oneOf", "anyOf", "allOf"} & set(node):
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [_openapi_friendly(v) for v in node]
    return node


def _retrieve(uri: str) -> Resource:
    path = Path(uri.removeprefix("file://").split("#")[0])
    relative = path.relative_to(SPEC_DIR).as_posix() if path.is_relative_to(SPEC_DIR) else ""
    schema = _as_real_replies(relative, _openapi_friendly(yaml.safe_load(path.read_text())))
    return Resource.from_contents(schema, default_specification=DRAFT7)


@cache
def _registry() -> Registry:
    return Registry(retrieve=_retrieve)  # type: ignore[call-arg]


def _validator(ref: str) -> Draft7Validator:
    return Draft7Validator({"$ref": ref}, registry=_registry())


@cache
def _schema_ref(method: str) -> str:
    spec = yaml.safe_load(OPENAPI.read_text())
    for verb, prefix in (("get", "public"), ("post", "private")):
        path = f"/{prefix}/{method}"
        if path in spec["paths"] and verb in spec["paths"][path]:
            pointer = f"/paths/{path.replace('/', '~1')}/{verb}/responses/200/content/application~1json/schema"
            return f"{OPENAPI.as_uri()}#{pointer}"
    raise KeyError(f"{method} is not in Kraken's specification")


def _object_ref(relative: str) -> str:
    return (SPEC_DIR / relative).as_uri()


def _check(validator: Draft7Validator, instance: Any, where: str) -> None:
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{where}/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]]
        raise ContractError("reply breaks Kraken's specification:\n" + "\n".join(lines))


def _check_order(order: dict, where: str) -> None:
    closed = order.get("status") in ("closed", "canceled", "expired")
    name = "closed" if closed else "open"
    _check(_validator(_object_ref(f"schemas/objects/user/orders/{name}.yaml")), order, where)
    flags = [f for f in (order.get("oflags") or "").split(",") if f]
    if set(flags) - OFLAGS:
        raise ContractError(f"{where}/oflags: {order['oflags']!r} has flags Kraken does not know")


def _check_trade(trade: dict, where: str) -> None:
    if trade.get("type") not in ("buy", "sell"):
        raise ContractError(f"{where}/type: {trade.get('type')!r} is not buy or sell")
    if trade.get("ordertype") not in ORDER_TYPES:
        raise ContractError(f"{where}/ordertype: {trade.get('ordertype')!r} is not one of Kraken's order types")


def check_error(reply: dict, method: str) -> None:
    if set(reply) != {"error"}:
        raise ContractError(f"{method}: a rejected call has only 'error', got keys {sorted(reply)}")
    for message in reply["error"]:
        if not isinstance(message, str) or not _ERROR.match(message):
            raise ContractError(f"{method}: {message!r} is not a Kraken error string")
        if not any(message == known or message.startswith(known + ":") for known in DOCUMENTED_ERRORS):
            raise ContractError(f"{method}: {message!r} is not an error Kraken documents")


def check_reply(method: str, reply: Any) -> None:
    """Raise :class:`ContractError` unless ``reply`` (the decoded JSON body) is what Kraken's spec allows."""
    if not isinstance(reply, dict) or not isinstance(reply.get("error"), list):
        raise ContractError(f"{method}: not Kraken's envelope {{'error': [...], 'result': ...}}: {reply!r:.200}")
    if reply["error"]:
        check_error(reply, method)
        return
    if set(reply) != {"error", "result"}:
        raise ContractError(f"{method}: a successful reply has 'error' and 'result', got keys {sorted(reply)}")
    result = reply["result"]
    if method == "BalanceEx":
        entry = _validator(_object_ref("schemas/objects/user/account/balanceex.yaml"))
        for asset, balance in result.items():
            _check(entry, balance, f"BalanceEx/result/{asset}")
        return
    if method == "QueryOrders":
        if not isinstance(result, dict):
            raise ContractError("QueryOrders: result must map txid to order")
        for txid, order in result.items():
            _check_order(order, f"QueryOrders/result/{txid}")
        return
    _check(_validator(_schema_ref(method)), reply, method)
    if method in ("OpenOrders", "ClosedOrders"):
        for txid, order in result["open" if method == "OpenOrders" else "closed"].items():
            _check_order(order, f"{method}/result/{txid}")
    if method in ("TradesHistory", "QueryTrades"):
        trades = result["trades"] if method == "TradesHistory" else result
        for tid, trade in trades.items():
            _check_trade(trade, f"{method}/result/{tid}")
