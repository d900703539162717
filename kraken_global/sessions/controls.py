"""What an operator may do to a running session from its dashboard: pause new entries, resume, stop, flatten.

The dashboard's HTTP threads never touch the broker: :class:`SessionControls` only records what was asked
(thread-safe), writes it to the session log and its audit trail, and the session's own thread acts on it:

- **pause** / **resume**: the session's broker refuses every buy while paused (exits and reductions go on);
- **stop**: the same clean stop as Ctrl-C (:class:`~kraken_global.sessions.stop.StopRequest`);
- **flatten**: pauses entries, then at the broker's next loop cancels the bot's open orders and sells the
  positions the bot holds, through the broker's own kill-switch path (:meth:`flatten`).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from kraken_global.sessions.audit_trail import AuditTrail
from kraken_global.sessions.stop import StopRequest

log = logging.getLogger("kraken_global.session")
ACTIONS = ("pause", "resume", "stop", "flatten")
DONE = {"pause": "new entries paused (exits go on)", "resume": "new entries resumed",
        "stop": "stopping cleanly after the current bar", "flatten": "entries paused; the bot's positions are "
                                                                     "being sold and its open orders cancelled"}


class SessionControls:
    """The operator's requests to one session; ``trail``: where each is audited (None: the log only)."""

    def __init__(self, stop: StopRequest, trail: AuditTrail | None = None) -> None:
        self.stop = stop
        self.trail = trail
        self._paused = threading.Event()
        self._flatten = threading.Event()
        self.flattened = 0
        self.failed: str | None = None  # the last flatten that the exchange did not let through

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def request(self, action: str, actor: str) -> str:
        """Record and apply ``action`` asked by ``actor`` (the client's address); returns what was done."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
        if action in ("pause", "flatten"):
            self._paused.set()
        if action == "resume":
            self._paused.clear()
        if action == "flatten":
            self._flatten.set()
        if action == "stop":
            self.stop.request("stop from the dashboard")
        log.warning("dashboard control: %s by %s: %s", action, actor, DONE[action])
        if self.trail is not None:
            self.trail.append(action, actor, result=DONE[action])
        return DONE[action]

    def take_flatten(self) -> bool:
        """True once per flatten request (the broker's loop calls it)."""
        if self._flatten.is_set():
            self._flatten.clear()
            return True
        return False

    def state(self) -> dict[str, Any]:
        return {"paused": self.paused, "stopping": self.stop.requested, "flattened": self.flattened,
                "failed": self.failed}
