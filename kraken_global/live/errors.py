"""ccxt's errors translated where they enter, grouped by what the operator must do.

- :class:`TemporaryError`: the venue is busy, rate-limited, unreachable or slow; waiting and retrying helps.
  :class:`RateLimited` is the kind Kraken answers before acting on the request (nothing was done).
- :class:`OrderNotPlaced`: an order certainly is not on the exchange; :class:`OrderRejected` when the venue refused
  it (funds, minimums, precision, the market's status): retrying the same order will not help. Its ``reason`` is
  Kraken's error string.
- :class:`PlacementUnknown`: an AddOrder whose outcome is not known (timeout, lost reply, 5xx, anything Kraken does
  not document as a refusal) and could not be settled yet by looking the order up. It stays unknown, never becomes
  "not placed" on a failed lookup.
- :class:`CredentialsError`: key, signature, nonce or permissions; a person must fix the configuration.
- :class:`TradingRefused`: conditions under which the session must not trade; a person must fix them.
- :class:`UnknownOrderError`: the venue does not know the order.
"""

from __future__ import annotations

import ccxt

from kraken_global.errors import KrakenGlobalError


class LiveError(KrakenGlobalError):
    pass


class TemporaryError(LiveError):
    pass


class RateLimited(TemporaryError):
    """Kraken refused the call for its rate limit before acting on it."""


class OrderNotPlaced(LiveError):
    """The order is certainly not on the exchange (``reason`` says why)."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason
        super().__init__(message or f"order not placed: {reason}")


class OrderRejected(OrderNotPlaced):
    def __init__(self, reason: str) -> None:
        super().__init__(reason, f"order rejected by the exchange: {reason}")


class PlacementUnknown(TemporaryError):
    """An AddOrder's outcome is unknown and could not be settled yet; the order may be on the exchange."""

    def __init__(self, client_order_id: str, cause: str) -> None:
        self.client_order_id = client_order_id
        super().__init__(f"order {client_order_id}: outcome unknown ({cause}); it may be on the exchange: looked up "
                         "again until Kraken's records settle it")


class CredentialsError(LiveError):
    pass


class TradingRefused(LiveError):
    """The session will not trade in these conditions (a skewed clock, another party's orders under an
    account-wide dead man's switch); the message says what to change."""


class UnknownOrderError(LiveError):
    pass


# Kraken's own strings decide first: ccxt maps some of them (e.g. an invalid signature) to a generic error.
CREDENTIAL_REASONS = ("EAPI:Invalid key", "EAPI:Invalid signature", "EAPI:Invalid nonce",
                      "EGeneral:Permission denied")
# The pair's market status refuses new orders of that kind (AssetPairs' ``status``): a definite refusal.
MARKET_STATUS_REASONS = ("EService:Market in cancel_only mode", "EService:Market in post_only mode",
                         "EService:Market in limit_only mode")
# Kraken's documented refusals of an order: the request was read and refused, so nothing was placed. Only these
# make an intent final; any other failure of AddOrder leaves its outcome unknown.
REJECTION_REASONS = (*MARKET_STATUS_REASONS,
    "EOrder:Insufficient funds", "EOrder:Order minimum not met", "EOrder:Cost minimum not met",
    "EOrder:Tick size check failed", "EOrder:Post only order", "EOrder:Invalid price", "EOrder:Invalid order",
    "EOrder:Orders limit exceeded", "EOrder:Positions limit exceeded", "EOrder:Scheduled orders limit exceeded",
    "EOrder:Unknown position", "EOrder:Cannot open position", "EOrder:Cannot open opposing position",
    "EOrder:Margin allowance exceeded", "EOrder:Margin level too low", "EOrder:Margin position size exceeded",
    "EOrder:Insufficient margin", "EOrder:Trading agreement required", "EOrder:Reduce only",
    "EOrder:Trigger price too far", "EGeneral:Invalid arguments", "EQuery:Unknown asset pair",
    "EAPI:Feature disabled", "EGeneral:Permission denied",
)
NONCE_ADVICE = ("the exchange refused the nonce (EAPI:Invalid nonce): another process (or program) is using this "
                "API key, or a nonce window/clock problem. Run one session per key and give every other program its "
                "own key; if nothing else uses it, raise the key's nonce window in Kraken's API settings")
# Refused for the rate limit before Kraken acted on the call: nothing was done, so even an AddOrder may be resent.
RATE_LIMIT_REASONS = ("EAPI:Rate limit exceeded", "EOrder:Rate limit exceeded", "EGeneral:Temporary lockout",
                      "EGeneral:Too many requests")
TEMPORARY_REASONS = ("EService:", "EGeneral:Internal error")


def _kraken_reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("EOrder:", "EGeneral:", "EAPI:", "EService:", "EQuery:"):
        if marker in text:
            return marker + text.split(marker, 1)[1].split('"', 1)[0]
    return type(exc).__name__


def translate(exc: Exception) -> LiveError:
    """The project's error for a ccxt exception (the caller raises it ``from`` the original)."""
    reason = _kraken_reason(exc)
    if reason.startswith("EAPI:Invalid nonce") or (isinstance(exc, ccxt.InvalidNonce) and "EAPI:" not in reason):
        return CredentialsError(NONCE_ADVICE)
    if reason.startswith(CREDENTIAL_REASONS):
        return CredentialsError(f"the exchange refused the credentials: {reason}")
    if reason.startswith(MARKET_STATUS_REASONS):
        return OrderRejected(reason)
    if reason.startswith(RATE_LIMIT_REASONS):
        return RateLimited(f"rate limited by the exchange: {reason}")
    if reason.startswith(TEMPORARY_REASONS):
        return TemporaryError(f"temporary exchange problem: {reason}")
    if reason.startswith("EOrder:Unknown order") or isinstance(exc, ccxt.OrderNotFound):
        return UnknownOrderError(reason)
    if isinstance(exc, ccxt.InvalidNonce | ccxt.AuthenticationError | ccxt.PermissionDenied):
        return CredentialsError(f"the exchange refused the credentials: {reason}")
    if isinstance(exc, ccxt.NetworkError | ccxt.ExchangeNotAvailable | ccxt.DDoSProtection | ccxt.RateLimitExceeded):
        return TemporaryError(f"temporary exchange problem: {reason}")
    if reason.startswith(REJECTION_REASONS) or isinstance(exc, ccxt.InsufficientFunds | ccxt.InvalidOrder |
                                                          ccxt.BadRequest):
        return OrderRejected(reason)
    return LiveError(f"exchange error: {reason}")


def is_definite_rejection(exc: Exception) -> bool:
    """True when a failed AddOrder certainly placed nothing: a documented Kraken refusal, or ccxt refusing the
    order before sending it (no Kraken error string at all, e.g. an amount that rounds to zero)."""
    reason = _kraken_reason(exc)
    if reason.startswith(REJECTION_REASONS):
        return True
    local = isinstance(exc, ccxt.InvalidOrder | ccxt.ArgumentsRequired | ccxt.BadSymbol)
    return local and not reason.startswith(("EOrder:", "EGeneral:", "EAPI:", "EService:", "EQuery:"))
