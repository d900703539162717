"""Injected crash points, so tests can kill a promotion at every step (``KRAKEN_GLOBAL_CRASH_AT=<step>``).

In production the variable is unset and :func:`crash_point` does nothing.
"""

from __future__ import annotations

import os

ENV = "KRAKEN_GLOBAL_CRASH_AT"
EXIT_CODE = 77


def crash_point(step: str) -> None:
    if os.environ.get(ENV) == step:
        os._exit(EXIT_CODE)
