"""``alerts``: where a session's important moments are pushed (webhooks, a local command) and how often.

The dispatcher is :mod:`kraken_global.alerts`. A webhook's URL often *is* a secret (Slack's and Telegram's carry
their token in it) and a config is copied into every results folder, so give it by the name of an environment
variable (``url_env``) rather than inline (``url``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from kraken_global.config.base import FiniteFloat, Strict, WholeNumber

EVENTS = ("session_start", "session_stop", "kill_switch", "dms_refresh_failed", "order_unknown", "order_refused",
          "falling_behind", "exchange_unreachable", "model_approved", "model_rolled_back", "daily_summary",
          "ramp_step")
Event = Literal["session_start", "session_stop", "kill_switch", "dms_refresh_failed", "order_unknown",
                "order_refused", "falling_behind", "exchange_unreachable", "model_approved", "model_rolled_back",
                "daily_summary", "ramp_step"]


class WebhookConfig(Strict):
    """An HTTP(S) POST per alert: ``json`` (the alert as it is), ``slack`` ({"text"}) or ``telegram``
    ({"chat_id", "text"} to a bot's sendMessage URL)."""

    url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    url_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")  # the variable holding the URL
    format: Literal["json", "slack", "telegram"] = "json"
    chat_id: str | None = None  # telegram only
    events: tuple[Event, ...] | None = None  # None: every event

    @model_validator(mode="after")
    def _one_url(self) -> WebhookConfig:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url or url_env (the name of an environment variable holding it)")
        if self.format == "telegram" and not self.chat_id:
            raise ValueError("a telegram webhook needs chat_id")
        return self


class CommandConfig(Strict):
    """A local program run per alert (no shell): the alert as JSON on its stdin, ``KG_EVENT`` and ``KG_MESSAGE`` in
    its environment."""

    argv: tuple[str, ...] = Field(min_length=1)
    events: tuple[Event, ...] | None = None


class AlertsConfig(Strict):
    """Sinks, and the limits that keep an alert storm from flooding them or slowing the trading loop."""

    webhooks: tuple[WebhookConfig, ...] = ()
    commands: tuple[CommandConfig, ...] = ()
    # per event: later ones within the interval are counted, not sent
    min_interval_seconds: FiniteFloat = Field(default=60.0, ge=0, le=86_400)
    retries: WholeNumber = Field(default=3, ge=0, le=10)  # more attempts per sink after a failure, with back-off
    timeout_seconds: FiniteFloat = Field(default=5.0, gt=0, le=120)
    # alerts waiting to be sent; beyond it new ones are dropped (counted)
    queue_size: WholeNumber = Field(default=100, ge=1, le=10_000)

    @property
    def active(self) -> bool:
        return bool(self.webhooks or self.commands)
