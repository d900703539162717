"""Alerts: a session's important moments pushed to a webhook or a local command, never slowing the trading loop.

Any part of the code raises an alert by logging a record with two extra attributes, without importing this
package::

    log.error("kill switch: ...", extra={"kg_event": "kill_switch", "kg_fields": {"equity": 9400.0}})

``kg_event`` is one of :data:`kraken_global.config.alerts.EVENTS`; ``kg_fields`` a small dict of plain values.
:class:`~kraken_global.alerts.dispatcher.AlertDispatcher` is a ``logging.Handler`` that picks those records up:
it scrubs secrets from them (:mod:`.scrub`), rate-limits each event, queues them (bounded: a full queue drops and
counts, it never blocks) and a worker thread delivers them to the sinks (:mod:`.sinks`) with retries.
:func:`~kraken_global.alerts.setup.install_alerts` builds it from the config's ``alerts`` section.
"""

EVENT_ATTRIBUTE, FIELDS_ATTRIBUTE = "kg_event", "kg_fields"


def event_extra(event: str, **fields) -> dict:
    """The ``extra`` of a log call that raises alert ``event`` with ``fields``."""
    return {EVENT_ATTRIBUTE: event, FIELDS_ATTRIBUTE: fields}
