"""Run every gate on a candidate under the registry's policy, and record the report: ``kraken-global gates``.

Gates (thresholds from the namespace's :class:`~kraken_global.gating.policy.GatePolicy`, or stricter ones the
config's ``gates`` section asks for; definitions in the README):

1. integrity: the model file is a regular file whose SHA256 equals its manifest's, and it loads with only the
   trusted types and structurally sound trees;
   (a candidate never entered in the audit chain by ``train``, or whose manifest differs from the one entered,
   fails here);
2. schema: the manifest has every required field, its feature schema is exactly the code's, and it fixes the
   operating point the model trades at;
3. out-of-sample, each metric its own gate (:mod:`~kraken_global.gating.performance`): Sharpe, max drawdown, tail
   loss and turnover of the regime system with the candidate on windows after its training data (spanning at least
   the policy's ``min_oos_days``); the Sharpe without the best day when the policy asks; the candidate beating the
   system without a model and the approved model on the same windows; the Deflated Sharpe Ratio over the
   registry's trials.

The report records the policy and its hash, and the trading setup the backtests used (costs, caps, pairs, the
data's fingerprint; :mod:`~kraken_global.gating.trading_setup`), refused before any backtest when it is looser
than the policy's floor; the registry audits the report's own SHA256 with the verdict.
"""

from __future__ import annotations

from typing import Any

from kraken_global.config import BacktestConfig
from kraken_global.gating.candidates import registry_for
from kraken_global.gating.performance import performance_gates
from kraken_global.gating.policy import effective_thresholds
from kraken_global.gating.trading_setup import check_setup
from kraken_global.ml.features import FEATURE_SCHEMA
from kraken_global.ml.operating_point import OPERATING_KEYS
from kraken_global.registry import ModelRegistry, RegistryError
from kraken_global.registry.errors import IntegrityError, UntrustedModelError
from kraken_global.registry.paths import read_regular
from kraken_global.registry.serialization import MAX_MODEL_BYTES, sha256


def _gate(name: str, passed: bool, detail: str, **values) -> dict[str, Any]:
    return {"name": name, "passed": bool(passed), "detail": detail, **values}


def run_gates(config: BacktestConfig, candidate_id: str, registry: ModelRegistry | None = None,
              client=None) -> dict[str, Any]:
    """Evaluate every gate under the registry's policy, store the report (bound to the file's SHA256 and the
    policy's hash, audited with its own SHA256) and return it. Raises :class:`PolicyViolation` before any
    backtest when the config asks for looser gates or the out-of-sample period is too short. ``client``: a
    Dask client for the out-of-sample windows."""
    registry = registry or registry_for(config)
    policy = registry.policy()
    thresholds = effective_thresholds(policy, config.gates.model_dump())  # looser than the policy: refused
    check_setup(policy, config)  # costs and caps below the policy's floor: refused (the data once it is read)
    gates: list[dict[str, Any]] = []
    sha = None
    model = manifest = None
    if not registry.paths.candidate_dir(candidate_id).is_dir():
        registry.manifest(candidate_id)  # raises UnknownCandidateError
    try:
        sha = sha256(read_regular(registry.paths.candidate_file(candidate_id, "model.skops"), "model file",
                                  max_bytes=MAX_MODEL_BYTES))
        model, manifest = registry.load_candidate(candidate_id)
        gates.append(_gate("integrity", True, "SHA256 and manifest match the audit log's entry; only trusted types; "
                                              "it predicts", sha256=sha))
    except (IntegrityError, UntrustedModelError, FileNotFoundError) as exc:
        gates.append(_gate("integrity", False, str(exc), sha256=sha))
    if manifest is not None:
        gates.append(_schema_gate(manifest))
    else:
        try:
            registry.manifest(candidate_id)
            gates.append(_gate("schema", False, "not checked: the model did not pass integrity"))
        except (IntegrityError, RegistryError) as exc:
            gates.append(_gate("schema", False, str(exc)))
    report: dict[str, Any] = {"candidate": candidate_id, "sha256": sha, "policy_sha256": policy.sha256(),
                              "policy": policy.model_dump(mode="json"), "thresholds": thresholds}
    if all(g["passed"] for g in gates):
        performance, sections = performance_gates(config, registry, model, manifest, sha, thresholds, policy, client)
        gates += performance
        report.update(sections)
    else:
        gates.append(_gate("out_of_sample", False, "not run: integrity or schema failed"))
    report["gates"] = gates
    report["passed"] = all(g["passed"] for g in gates)
    if sha is not None:
        registry.record_validation(candidate_id, report)
    return report


def _schema_gate(manifest: dict[str, Any]) -> dict[str, Any]:
    """The feature schema must be the code's, and the manifest must fix the operating point the model trades at."""
    if manifest.get("feature_schema") != FEATURE_SCHEMA:
        return _gate("schema", False, f"feature schema {manifest.get('feature_schema')} differs from the code's "
                                      f"{FEATURE_SCHEMA}")
    point = manifest.get("operating_point")
    if not isinstance(point, dict) or any(key not in point for key in OPERATING_KEYS):
        return _gate("schema", False, f"the manifest fixes no operating point ({', '.join(OPERATING_KEYS)}): the "
                                      "model was trained before operating points were recorded; train it again")
    return _gate("schema", True, "feature schema matches the strategies' features; operating point "
                                 + ", ".join(f"{k} {point[k]}" for k in OPERATING_KEYS))
