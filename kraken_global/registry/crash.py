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


def kill_point(step: str) -> None:
    """Like :func:`crash_point`, but the process dies by SIGKILL (no cleanup, no buffers flushed): how live
    trading tests simulate the machine dying between two steps of placing an order."""
    if os.environ.get(ENV) == step:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
