"""Where an alert goes: a webhook (generic JSON, Slack- or Telegram-shaped) or a local command.

A sink's ``send`` raises :class:`SinkError` on a failure; ``retry`` on it says whether another attempt can help
(a timeout, a 5xx, 429) or not (a 4xx: the URL or the payload is wrong, retrying only repeats it).
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from kraken_global.alerts.scrub import MASK


class SinkError(Exception):
    def __init__(self, message: str, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


def alert_text(alert: dict[str, Any]) -> str:
    """One human message: what happened, then the fields, one per line."""
    lines = [f"[kraken-global] {alert['event']}: {alert['message']}"]
    lines += [f"{key}: {value}" for key, value in alert.get("fields", {}).items()]
    if alert.get("suppressed"):
        lines.append(f"({alert['suppressed']} more {alert['event']} alerts were not sent: rate limit)")
    if alert.get("session"):
        lines.append(f"session: {alert['session']}")
    return "\n".join(lines)


def payload(alert: dict[str, Any], kind: str, chat_id: str | None = None) -> dict[str, Any]:
    if kind == "slack":
        return {"text": alert_text(alert)}
    if kind == "telegram":
        return {"chat_id": chat_id, "text": alert_text(alert), "disable_web_page_preview": True}
    return alert


@dataclass
class WebhookSink:
    url: str
    kind: str = "json"
    chat_id: str | None = None
    timeout: float = 5.0

    @property
    def name(self) -> str:
        """For logs: the host only (a webhook's path is often its secret)."""
        return f"webhook {self.url.split('/')[2] if '//' in self.url else MASK}"

    def send(self, alert: dict[str, Any]) -> None:
        body = json.dumps(payload(alert, self.kind, self.chat_id)).encode()
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "User-Agent": "kraken-global-alerts"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read(1024)
        except urllib.error.HTTPError as exc:
            raise SinkError(f"HTTP {exc.code}", retry=exc.code >= 500 or exc.code in (408, 429)) from None
        except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections
            raise SinkError(type(exc).__name__) from None


@dataclass
class CommandSink:
    argv: tuple[str, ...]
    timeout: float = 5.0

    @property
    def name(self) -> str:
        return f"command {os.path.basename(self.argv[0])}"

    def send(self, alert: dict[str, Any]) -> None:
        env = {**os.environ, "KG_EVENT": alert["event"], "KG_MESSAGE": alert_text(alert)}
        try:
            done = subprocess.run(list(self.argv), input=json.dumps(alert), text=True, capture_output=True,
                                  timeout=self.timeout, env=env, check=False)
        except FileNotFoundError:
            raise SinkError(f"{self.argv[0]} not found", retry=False) from None
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SinkError(type(exc).__name__) from None
        if done.returncode != 0:
            raise SinkError(f"exit code {done.returncode}")
