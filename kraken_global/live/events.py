"""Moments an operator must hear about, logged so that alert sinks can pick them out of the session's log.

Each is an ordinary :mod:`logging` record with two extra attributes: ``kg_event``, one of :data:`EVENTS`, and
``kg_fields``, a small dict of plain values (pair, client order id, reason, ...; never a secret). Sinks (mail, chat,
a pager) are log handlers that look at ``record.kg_event``; the session only emits.
"""

from __future__ import annotations

import logging
from typing import Any

EVENTS = ("kill_switch", "dms_refresh_failed", "order_unknown", "order_refused", "exchange_unreachable",
          "session_start", "session_stop")
_PLAIN = (str, int, float, bool, type(None))


def emit(logger: logging.Logger, level: int, event: str, message: str, *args: Any, **fields: Any) -> None:
    """Log ``message % args`` at ``level`` as event ``event`` with ``fields``."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}; known: {', '.join(EVENTS)}")
    plain = {name: value if isinstance(value, _PLAIN) else str(value) for name, value in fields.items()}
    logger.log(level, message, *args, extra={"kg_event": event, "kg_fields": plain})
