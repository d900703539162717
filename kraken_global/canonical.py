"""Canonical JSON and its SHA256: the one way the project names a piece of data by its content (a policy, a
trading configuration, a trial, a data set), so two equal things always get the same hash."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(data: Any) -> str:
    """``data`` as JSON with sorted keys and no spaces (values JSON cannot hold written as text)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def canonical_sha256(data: Any) -> str:
    """SHA256 of :func:`canonical_json`."""
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()
