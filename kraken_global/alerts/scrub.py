"""Secrets never leave in an alert: the known ones (API key and secret, dashboard token, webhook URLs) are
replaced wherever they appear, and so is anything shaped like one (``secret=...``, a long random-looking token).

Hex digests (a model's SHA256) are not secrets and are kept: they identify what traded.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
_ASSIGNED = re.compile(r"(?i)\b(api[-_ ]?key|api[-_ ]?secret|secret|token|password|passwd|authorization|api-sign)"
                       r"(\s*[:=]\s*)(\"?)[^\s\",;&]+")
_RANDOM_RUN = re.compile(r"[A-Za-z0-9+/_-]{32,}={0,2}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_URL_WITH_PATH = re.compile(r"(https?://[^\s/]+)/[^\s\"]*")


def _looks_random(run: str) -> bool:
    body = run.rstrip("=")
    if _HEX.fullmatch(body):
        return False  # a digest
    kinds = sum((any(c.islower() for c in body), any(c.isupper() for c in body), any(c.isdigit() for c in body)))
    return kinds >= 3 or any(c in "+/" for c in body) or run.endswith("=")


class Scrubber:
    """Replaces ``secrets`` (exact strings) and secret-shaped text; URLs keep only their host."""

    def __init__(self, secrets: list[str] | tuple[str, ...] = ()) -> None:
        self.secrets = sorted({str(s) for s in secrets if s and len(str(s)) >= 4}, key=len, reverse=True)

    def text(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        text = _URL_WITH_PATH.sub(lambda m: f"{m.group(1)}/{MASK}", text)
        text = _ASSIGNED.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{MASK}", text)
        return _RANDOM_RUN.sub(lambda m: MASK if _looks_random(m.group(0)) else m.group(0), text)

    def value(self, value: Any) -> Any:
        """A plain value as it may be sent: numbers and booleans as they are, everything else scrubbed text."""
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value][:50]
        if isinstance(value, dict):
            return self.fields(value)
        return self.text(str(value))[:500]

    def fields(self, fields: Any) -> dict[str, Any]:
        if not isinstance(fields, dict):
            return {}
        return {self.text(str(k))[:64]: self.value(v) for k, v in list(fields.items())[:30]}
