"""Build the alert dispatcher from the config's ``alerts`` section and attach it to the root logger."""

from __future__ import annotations

import logging
import os

from kraken_global.alerts.dispatcher import AlertDispatcher
from kraken_global.alerts.scrub import Scrubber
from kraken_global.alerts.sinks import CommandSink, WebhookSink
from kraken_global.errors import ConfigError


def install_alerts(config, secrets: list[str] | tuple[str, ...] = (), session: str | None = None
                   ) -> AlertDispatcher | None:
    """The dispatcher of ``config`` (an :class:`~kraken_global.config.alerts.AlertsConfig`) on the root logger, or
    None when no sink is configured. ``secrets`` are scrubbed from every alert, and so are the webhook URLs.
    Close it with :func:`remove_alerts` (which sends what is queued)."""
    if not config.active:
        return None
    routes, urls = [], []
    for hook in config.webhooks:
        url = hook.url or os.environ.get(hook.url_env or "")
        if not url:
            raise ConfigError(f"alerts: the environment variable {hook.url_env} (a webhook's url_env) is not set")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"alerts: {hook.url_env} must hold an http(s) URL")
        urls.append(url)
        routes.append((WebhookSink(url, hook.format, hook.chat_id, config.timeout_seconds),
                       frozenset(hook.events) if hook.events is not None else None))
    for command in config.commands:
        routes.append((CommandSink(command.argv, config.timeout_seconds),
                       frozenset(command.events) if command.events is not None else None))
    dispatcher = AlertDispatcher(routes, Scrubber([*secrets, *urls]), config.min_interval_seconds, config.retries,
                                 config.queue_size, session)
    root = logging.getLogger()
    if root.getEffectiveLevel() > logging.INFO:
        if not root.handlers:  # keep warnings on the terminal, as Python does for a process without handlers
            terminal = logging.StreamHandler()
            terminal.setLevel(logging.WARNING)
            root.addHandler(terminal)
        root.setLevel(logging.INFO)  # alerts of INFO events (session start, daily summary) must reach the handler
    root.addHandler(dispatcher)
    return dispatcher


def remove_alerts(dispatcher: AlertDispatcher | None, timeout: float = 15.0) -> None:
    if dispatcher is None:
        return
    logging.getLogger().removeHandler(dispatcher)
    dispatcher.close(timeout)
