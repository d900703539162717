"""Session logging: to a file under ``live.logs`` and to stderr, with secrets redacted as a last line of defence.

The credentials already mask themselves in ``repr``/``str``; the filter also replaces the key and the secret if
they ever reach a log record some other way (a library echoing a request, an exception with headers).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [str(s) for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


def configure_session_logging(directory: Path, mode: str, secrets: list[str], quiet: bool = False,
                              stamp: str | None = None) -> Path:
    """Log INFO and above to ``directory/<mode>-<UTC time>.log`` and to the terminal (rich, on stderr; warnings
    only when ``quiet``); returns the file's path."""
    from rich.console import Console
    from rich.logging import RichHandler

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{mode}-{stamp or time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.log"
    redact = RedactSecrets(secrets)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(FORMAT))
    terminal = RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=False,
                           log_time_format="[%X]")
    terminal.setFormatter(logging.Formatter("%(message)s"))
    terminal.setLevel(logging.WARNING if quiet else logging.INFO)
    for handler in (file_handler, terminal):
        handler.addFilter(redact)
        root.addHandler(handler)
    return path
