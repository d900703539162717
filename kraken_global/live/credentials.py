"""API credentials from the environment or from a file only its owner can read; never printed.

``KRAKEN_API_KEY`` and ``KRAKEN_API_SECRET``, or a JSON file ``{"key": ..., "secret": ...}`` with mode 0600 (a file
that group or others can read is refused). :class:`Credentials` masks itself in ``repr``/``str`` so it cannot leak
into logs, reports or exception messages by accident.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from pathlib import Path

from kraken_global.errors import ConfigError
from kraken_global.files import read_json_limited

ENV_KEY = "KRAKEN_API_KEY"
ENV_SECRET = "KRAKEN_API_SECRET"
DOCKER_SECRETS = Path("/run/secrets")
MAX_CREDENTIALS_BYTES = 10_000  # a key and a secret are about 150 bytes


@dataclass(frozen=True)
class Credentials:
    key: str = field(repr=False)
    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not isinstance(self.secret, str):
            raise ConfigError("the API key and secret must be text (JSON strings)")
        if not self.key or not self.secret:
            raise ConfigError("the API key and secret must both be set")
        if not all("!" <= c <= "~" for c in self.key):  # it travels in an HTTP header: printable ASCII only
            raise ConfigError("the API key has a character Kraken keys never have (a space, a control or a "
                              "non-ASCII character): copy it again from Kraken's API settings")
        try:
            base64.b64decode(self.secret, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError("the API secret is not valid base64 (Kraken secrets are)") from None

    def __repr__(self) -> str:
        return f"Credentials(key={self.key[:4]}..., secret=***)"

    __str__ = __repr__


def load_credentials(path: Path | None = None, environ: dict[str, str] | None = None) -> Credentials:
    env = os.environ if environ is None else environ
    if path is None:
        key, secret = env.get(ENV_KEY), env.get(ENV_SECRET)
        if not key or not secret:
            raise ConfigError(f"no credentials: set {ENV_KEY} and {ENV_SECRET}, or give a credentials file")
        return Credentials(key, secret)
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError:
        where = "" if path.is_absolute() else f" (relative to {Path.cwd()}: give an absolute path)"
        raise ConfigError(f"credentials file {path} not found{where}") from None
    if mode & 0o077:
        fix = "chmod 600 it"
        if DOCKER_SECRETS in path.parents:
            fix = ("Docker (swarm) mounts a secret 0444 unless its `mode` is 0400 with the container's `uid`: set "
                   "them, or bind-mount the 0600 file read-only as scripts/run-live.sh does")
        raise ConfigError(f"credentials file {path} can be read by others (mode {oct(mode & 0o777)}): {fix}")
    if not path.is_file():
        raise ConfigError(f"credentials {path} is not a file: give the JSON file with 'key' and 'secret'")
    stored = read_json_limited(path, "credentials file", MAX_CREDENTIALS_BYTES)
    if not isinstance(stored, dict) or "key" not in stored or "secret" not in stored:
        raise ConfigError(f"credentials file {path} must hold JSON with 'key' and 'secret'")
    return Credentials(stored["key"], stored["secret"])
