"""Gates that decide whether a candidate model may be promoted, and the policy they run under.

``policy``: the registry-owned :class:`GatePolicy` (thresholds, out-of-sample length, windows, and room for the
champion/challenger rules); ``oos``: the out-of-sample backtests; ``gates``: every gate, its report, and binding
the report to the registry. ``runners`` and the command line use this package; ``ml`` stays features, training
and models.
"""

from kraken_global.gating.policy import POLICY_WORD, GatePolicy, PolicyViolation, effective_thresholds

__all__ = ["POLICY_WORD", "GatePolicy", "PolicyViolation", "effective_thresholds"]
