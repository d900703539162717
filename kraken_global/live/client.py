"""ccxt's Kraken client with what live trading needs on every private call.

- **One private call at a time.** Kraken wants every nonce larger than the last one it saw; with the dead man's
  switch refreshed from its own thread, two calls in flight could reach Kraken out of nonce order and be refused
  (``EAPI:Invalid nonce``). The nonce is made and the request sent under one lock.
- **Paced by Kraken's own rate model** (:class:`~kraken_global.live.rate_limit.RatePacer`) when one is given: the
  wait happens before the lock is taken, so a paced call never blocks another thread's call.

Every ccxt method goes through :meth:`fetch2`, which is the one place to hook.
"""

from __future__ import annotations

import threading
from typing import Any

import ccxt

from kraken_global.live.errors import RATE_LIMIT_REASONS
from kraken_global.live.rate_limit import RatePacer


class KrakenClient(ccxt.kraken):
    def __init__(self, config: dict[str, Any], pacer: RatePacer | None = None) -> None:
        super().__init__(config)
        self.pacer = pacer
        self.private_lock = threading.RLock()

    def fetch2(self, path, api="public", method="GET", params={}, config={}):  # noqa: B006 (ccxt's signature)
        if "private" not in (api if isinstance(api, list | tuple) else [api]):  # ccxt passes ['private']
            return super().fetch2(path, api, method, params, config)
        if self.pacer is not None:
            self.pacer.acquire(path)
        with self.private_lock:
            try:
                return super().fetch2(path, api, method, params, config)
            except ccxt.BaseError as exc:
                if self.pacer is not None and any(reason in str(exc) for reason in RATE_LIMIT_REASONS):
                    self.pacer.refused(path)
                raise
