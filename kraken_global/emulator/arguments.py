"""Kraken's rules for request arguments: what AddOrder and the query methods accept, with Kraken's error strings.

Pure functions over the form fields (strings), so every malformed value becomes Kraken's error envelope
(``EGeneral:Invalid arguments:<field>``, ``EOrder:Invalid price``, ``EOrder:Tick size check failed``) rather than
an exception inside the server.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from kraken_global.emulator.errors import KrakenError
from kraken_global.universe import PairRules

OFLAGS = frozenset({"post", "fcib", "fciq", "nompp", "viqc"})
INT32 = (-(2**31), 2**31 - 1)
_LONG_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SHORT_UUID = re.compile(r"^[0-9a-fA-F]{32}$")
_FREE_TEXT = re.compile(r"^[\x20-\x7e]{1,18}$")


def invalid(field: str) -> KrakenError:
    return KrakenError(f"EGeneral:Invalid arguments:{field}")


def required(params: dict[str, str], field: str) -> str:
    value = params.get(field)
    if value is None or value == "":
        raise invalid(field)
    return value


def decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _positive_decimal(text: str, field: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise invalid(field) from None
    if not value.is_finite() or value <= 0:
        raise invalid(field)
    return value


def parse_volume(text: str, rules: PairRules) -> Decimal:
    """A positive volume with at most ``lot_decimals`` decimals (Kraken refuses finer lots)."""
    value = _positive_decimal(text, "volume")
    if decimal_places(value) > rules.lot_decimals:
        raise invalid("volume")
    return value


def parse_price(text: str, rules: PairRules) -> Decimal:
    """A positive limit price on the pair's decimals and a whole number of ticks."""
    value = _positive_decimal(text, "price")
    if decimal_places(value) > rules.pair_decimals:
        raise KrakenError(f"EOrder:Invalid price:{rules.altname} price can only be specified up to "
                          f"{rules.pair_decimals} decimals.")
    if (value / Decimal(str(rules.tick_size))) % 1 != 0:
        raise KrakenError("EOrder:Tick size check failed")
    return value


def parse_userref(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = int(text.strip())
    except ValueError:
        raise invalid("userref") from None
    if not INT32[0] <= value <= INT32[1]:
        raise invalid("userref")
    return value


def check_cl_ord_id(text: str | None) -> str | None:
    """A long UUID, a short (dashless) UUID, or printable ASCII text of at most 18 characters."""
    if text is None:
        return None
    if _LONG_UUID.match(text) or _SHORT_UUID.match(text) or _FREE_TEXT.match(text):
        return text
    raise invalid("cl_ord_id")


def parse_oflags(text: str | None) -> str:
    flags = [f for f in (text or "").split(",") if f]
    if set(flags) - OFLAGS or ("fcib" in flags and "fciq" in flags):
        raise invalid("oflags")
    return ",".join(flags)


def parse_int(text: str | None, field: str, default: int | None = None) -> int | None:
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise invalid(field) from None
