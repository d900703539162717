"""Moments an operator must hear about, as ordinary log records that alert sinks can pick out.

Each is a :mod:`logging` record with two extra attributes: ``kg_event``, one of :data:`EVENTS`, and ``kg_fields``, a
small dict of plain values (pair, client order id, reason, ...; never a secret). Any part of the code raises one by
logging, without importing the alert code: the sinks (:mod:`kraken_global.alerts`, a ``logging.Handler``) look at
``record.kg_event``; the code that meets the moment only emits. Standard library only: the lowest rooms use it.
"""

from __future__ import annotations

import logging
from typing import Any, Literal, get_args

Event = Literal["session_start", "session_stop", "kill_switch", "dms_refresh_failed", "order_unknown",
                "order_refused", "falling_behind", "exchange_unreachable", "model_approved", "model_rolled_back",
                "daily_summary", "ramp_step", "unapproved_config", "approval_withdrawn", "approval_restored"]
EVENTS: tuple[str, ...] = get_args(Event)
EVENT_ATTRIBUTE, FIELDS_ATTRIBUTE = "kg_event", "kg_fields"
_PLAIN = (str, int, float, bool, type(None))


def event_extra(event: str, **fields: Any) -> dict[str, Any]:
    """The ``extra`` of a log call that raises event ``event`` with ``fields`` (values that are not plain become
    their text, so a sink never meets an object it cannot serialize)."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}; known: {', '.join(EVENTS)}")
    plain = {name: value if isinstance(value, _PLAIN) else str(value) for name, value in fields.items()}
    return {EVENT_ATTRIBUTE: event, FIELDS_ATTRIBUTE: plain}


def emit(logger: logging.Logger, level: int, event: str, message: str, *args: Any, **fields: Any) -> None:
    """Log ``message % args`` at ``level`` as event ``event`` with ``fields``."""
    logger.log(level, message, *args, extra=event_extra(event, **fields))
