"""The emulator's own controls (``/_emulator/clock``, ``/_emulator/faults``, the CLI options): values that make no
sense are refused with one line saying what was wrong, never half-applied.

Limits: the market clock only moves forward (at most :data:`MAX_ADVANCE_DAYS` at once); at most
:data:`MAX_FAULTS` faults are queued per request; speeds are positive and finite; balances are not negative.
"""

from __future__ import annotations

import json
import math
import reprlib
from datetime import timedelta
from typing import Any

from kraken_global.emulator.faults import KINDS, MAX_FAULT_SECONDS, MAX_FAULTS

MAX_ADVANCE_DAYS = 3650
MAX_SPEED = 10_000_000.0


class ControlError(ValueError):
    """A control request or option with a value that makes no sense; the message is one line."""


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError, RecursionError):  # also an integer of 4300+ digits, deep nesting
        raise ControlError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ControlError("the body must be a JSON object")
    return body


def finite_number(value: Any, name: str, minimum: float = 0.0, maximum: float = math.inf,
                  allow_minimum: bool = True) -> float:
    """``value`` as a finite float in range, else :class:`ControlError` naming ``name``."""
    if isinstance(value, bool):
        raise ControlError(f"{name} must be a number, got {value!r}")
    if not isinstance(value, int | float):  # JSON numbers only: "60" is text
        raise ControlError(f"{name} must be a number, got {reprlib.repr(value)}")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        number = math.inf
    too_low = number < minimum or (number == minimum and not allow_minimum)
    if not math.isfinite(number) or too_low or number > maximum:
        low = f">= {minimum:g}" if allow_minimum else f"> {minimum:g}"
        raise ControlError(f"{name} must be finite, {low} and <= {maximum:g}, got {reprlib.repr(value)}")
    return number


def clock_advance(raw: bytes) -> timedelta:
    """``{"advance_seconds": S}``: the clock moves forward only (time never runs backwards)."""
    seconds = finite_number(_body(raw).get("advance_seconds", 0), "advance_seconds", 0.0,
                            MAX_ADVANCE_DAYS * 86400.0)
    return timedelta(seconds=seconds)


def fault_request(raw: bytes) -> tuple[str, str, int, float]:
    """``{"endpoint": "AddOrder", "kind": "timeout", "count": 1, "seconds": 0}`` checked: a known kind,
    1..MAX_FAULTS, and for the timed kinds (accepted late, query lag) seconds in (0, 600]."""
    body = _body(raw)
    endpoint, kind, count = body.get("endpoint"), body.get("kind"), body.get("count", 1)
    seconds = finite_number(body.get("seconds", 0.0), "seconds", 0.0, MAX_FAULT_SECONDS)
    if not isinstance(endpoint, str) or not endpoint:
        raise ControlError("endpoint must name a Kraken method (e.g. AddOrder) or be '*'")
    if kind not in KINDS:
        raise ControlError(f"unknown fault kind {reprlib.repr(kind)}; known: {', '.join(KINDS)}")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_FAULTS:
        raise ControlError(f"count must be a whole number from 1 to {MAX_FAULTS}, got {reprlib.repr(count)}")
    return endpoint, kind, count, seconds
