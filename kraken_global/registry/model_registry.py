"""The registry as commands use it: the store with what is built on it (shadow days, verification).

The layers import one way: paths, audit, keys and approvals at the bottom; :mod:`.store` on them; shadow days
(:mod:`.shadow`), verification (:mod:`.verification`), sessions and trials on the store; and this class on top,
which gives a promotion its shadow-day check and ``audit verify`` its file checks.
"""

from __future__ import annotations

from typing import Any

from kraken_global.gating.policy import GatePolicy
from kraken_global.registry.shadow import ShadowArea
from kraken_global.registry.store import RegistryStore
from kraken_global.registry.verification import verify_registry


class ModelRegistry(RegistryStore):
    """One namespace of the registry (see :class:`RegistryStore`), with promotion and verification whole."""

    def promote(self, candidate_id: str, confirm: str | None) -> dict[str, Any]:
        """Approve a candidate whose audited gates report passed, on its exact current hash, under the current
        policy, once it ran the policy's ``min_shadow_days`` in shadow."""
        shadow = ShadowArea(self)

        def enough_shadow_days(entries: list[dict[str, Any]], candidate: str, sha256: str,
                               policy: GatePolicy) -> None:
            shadow.check_for_promotion(entries, candidate, sha256, policy.min_shadow_days)

        return self.approve(candidate_id, confirm, enough_shadow_days)

    def verify(self) -> tuple[int, list[str]]:
        """The audit chain's length (raises if it is broken), and every stored file that no longer matches it."""
        return verify_registry(self)
