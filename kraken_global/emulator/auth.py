"""Kraken's private-call authentication, checked as Kraken does.

``API-Sign = base64(HMAC-SHA512(base64decode(secret), uri_path + SHA256(nonce + raw_body)))``, and the nonce must
grow strictly per key (``EAPI:Invalid nonce`` otherwise).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac


def sign(uri_path: str, nonce: str, body: bytes, secret: str) -> str:
    digest = hashlib.sha256(nonce.encode() + body).digest()
    mac = hmac.new(base64.b64decode(secret), uri_path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def signature_ok(uri_path: str, nonce: str, body: bytes, secret: str, given: str) -> bool:
    try:
        expected = sign(uri_path, nonce, body, secret)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(expected, given or "")


class NonceBook:
    """The last nonce seen per key."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}

    def accept(self, key: str, nonce: str) -> bool:
        try:
            value = int(nonce)
        except (TypeError, ValueError):
            return False
        if value <= self.last.get(key, -1):
            return False
        self.last[key] = value
        return True
