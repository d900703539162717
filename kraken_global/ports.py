"""The TCP ports this project listens on (the emulator, a session's status endpoint): one rule for every option.

Ports below 1024 are privileged: only root may open them, and a trading bot run as root to open one is a bot
with far more power than it needs. So they are refused everywhere, in configs and on the command line alike;
0 asks the system for any free port where an option allows it. Standard library only: the command line's
argument types use it before anything heavy is imported.
"""

from __future__ import annotations

FIRST_UNPRIVILEGED_PORT = 1024
LAST_PORT = 65_535
ANY_FREE_PORT = 0


def port_problem(number: object, any_free: bool = False) -> str | None:
    """Why ``number`` cannot be a port to listen on (None: it can). ``any_free``: 0 (the system picks) is allowed."""
    if isinstance(number, bool) or not isinstance(number, int):
        return f"{number!r} is not a port number"
    if any_free and number == ANY_FREE_PORT:
        return None
    if not FIRST_UNPRIVILEGED_PORT <= number <= LAST_PORT:
        free = " (or 0: any free port)" if any_free else ""
        if 0 < number < FIRST_UNPRIVILEGED_PORT:
            return (f"port {number} is privileged (below {FIRST_UNPRIVILEGED_PORT}: only root may open it): use "
                    f"{FIRST_UNPRIVILEGED_PORT}..{LAST_PORT}{free}")
        return f"{number} is not a port: use {FIRST_UNPRIVILEGED_PORT}..{LAST_PORT}{free}"
    return None
