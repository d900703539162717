"""The candidates a registry namespace keeps, and their gates reports, each checked against its audit entry.

``candidates/<id>/model.skops`` and ``manifest.json`` are written by ``train`` (:meth:`CandidateShelf.add_candidate`),
which enters the candidate in the chain with both files' SHA256; ``validations/<id>.json`` by the gates
(:meth:`CandidateShelf.record_validation`), entered with the report's SHA256, the model's and the policy's, and the
verdict. Reading either back checks it against its entry (:meth:`CandidateShelf.audited_manifest`,
:meth:`CandidateShelf.audited_report`): a folder placed by hand, an edited manifest or report is refused.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kraken_global.registry.approvals import last_entry as _last
from kraken_global.registry.errors import IntegrityError, RegistryError, UnknownCandidateError
from kraken_global.registry.paths import atomic_write, check_id, fsync_dir, read_regular
from kraken_global.registry.paths import file_json as _json
from kraken_global.registry.serialization import MAX_MODEL_BYTES, load_model, save_model, sha256

if TYPE_CHECKING:
    from kraken_global.registry.audit import AuditLog
    from kraken_global.registry.paths import ArtifactRoot

MANIFEST_FIELDS = ("id", "sha256", "created", "feature_schema", "library_versions", "training_window",
                   "data_hash", "config_hash", "metrics")


class CandidateShelf:
    """Candidates and gates reports; mixed into :class:`~kraken_global.registry.store.RegistryStore`, which provides
    the namespace's paths, audit log, lock and :meth:`record`."""

    paths: ArtifactRoot  # with audit, locked() and record(): provided by RegistryStore
    audit: AuditLog

    # -- candidates --------------------------------------------------------------------------------------

    def add_candidate(self, model: Any, manifest: dict[str, Any]) -> str:
        """Store a trained model and its manifest as a new candidate; returns its id. The candidate is entered in
        the chain before its folder appears, so a crash in between leaves only a hidden staging folder, never a
        candidate the chain does not know (which would read as one placed by hand)."""
        created = datetime.now(UTC)
        staging = self.paths.path("candidates", f".staging-{os.getpid()}-{created.strftime('%H%M%S%f')}")
        staging.mkdir(parents=True)
        digest = save_model(model, staging / "model.skops")
        candidate_id = f"{created.strftime('%Y%m%dT%H%M%S%fZ')}-{digest[:8]}"
        manifest = {**manifest, "id": candidate_id, "sha256": digest, "created": created.isoformat()}
        missing = [f for f in MANIFEST_FIELDS if f not in manifest]
        if missing:
            raise RegistryError(f"manifest lacks {', '.join(missing)}")
        data = _json(manifest)
        atomic_write(staging / "manifest.json", data)
        self.record("candidate", {"id": candidate_id, "sha256": digest, "manifest_sha256": sha256(data)})
        os.replace(staging, self.paths.candidate_dir(candidate_id))
        fsync_dir(self.paths.path("candidates"))
        return candidate_id

    def candidates(self) -> list[str]:
        folder = self.paths.path("candidates")
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))

    def manifest(self, candidate_id: str) -> dict[str, Any]:
        path = self.paths.candidate_dir(candidate_id) / "manifest.json"
        if not path.exists() and not path.is_symlink():
            raise UnknownCandidateError(f"no candidate {candidate_id!r}; known: "
                                        f"{', '.join(self.candidates()) or 'none'}")
        path = self.paths.candidate_file(candidate_id, "manifest.json")
        try:
            manifest = json.loads(read_regular(path, "manifest"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IntegrityError(f"manifest {path} is not valid JSON: {exc}") from None
        missing = [f for f in MANIFEST_FIELDS if f not in manifest]
        if missing:
            raise IntegrityError(f"manifest {path} lacks required field(s): {', '.join(missing)}")
        if manifest["id"] != candidate_id:
            raise IntegrityError(f"manifest {path} names candidate {manifest['id']!r}, not {candidate_id!r}")
        return manifest

    def audited_manifest(self, candidate_id: str, entries: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The manifest, refused unless its bytes are the ones ``train`` entered in the audit chain."""
        manifest = self.manifest(candidate_id)  # an unknown id is a usage error; a damaged file an integrity one
        entries = self.audit.verify_entries() if entries is None else entries
        entered = _last(entries, "candidate", candidate_id)
        if entered is None:
            raise IntegrityError(f"candidate {candidate_id} was never entered in the audit log: candidates come only "
                                 "from `kraken-global train`; this one was placed by hand and is neither gated, "
                                 "promoted nor loaded")
        recorded = entered["details"].get("manifest_sha256")
        if recorded is None:
            raise IntegrityError(f"candidate {candidate_id} was entered before manifests were audited: its training "
                                 "window and operating point cannot be vouched for; train a new candidate")
        data = read_regular(self.paths.candidate_file(candidate_id, "manifest.json"), "manifest")
        if sha256(data) != recorded or manifest["sha256"] != entered["details"]["sha256"]:
            raise IntegrityError(f"the manifest of candidate {candidate_id} differs from the one entered at training "
                                 f"(audit line {entered['seq']}): its training window, embargo, features, operating "
                                 "point or data fingerprint were edited; restore it, or train again")
        return manifest

    def file_sha256(self, candidate_id: str) -> str:
        self.manifest(candidate_id)  # an unknown id is a usage error, not a failed check
        return sha256(read_regular(self.paths.candidate_file(candidate_id, "model.skops"), "model file",
                                   max_bytes=MAX_MODEL_BYTES))

    def load_candidate(self, candidate_id: str, expected_sha256: str | None = None,
                       entries: list[dict[str, Any]] | None = None) -> tuple[Any, dict[str, Any]]:
        """The model and its audited manifest: the model's bytes hash to the manifest's SHA256 (and to
        ``expected_sha256`` when given), it loads with trusted types only, and takes the manifest's inputs."""
        manifest = self.audited_manifest(candidate_id, entries)
        if expected_sha256 is not None and manifest["sha256"] != expected_sha256:
            raise IntegrityError(f"candidate {candidate_id} manifest records SHA256 {manifest['sha256']}, "
                                 f"but {expected_sha256} was approved")
        schema = manifest.get("feature_schema")
        model = load_model(self.paths.candidate_file(candidate_id, "model.skops"), manifest["sha256"],
                           len(schema) if isinstance(schema, list) else None)
        return model, manifest

    # -- validations ---------------------------------------------------------------------------------------

    def record_validation(self, candidate_id: str, report: dict[str, Any]) -> None:
        """Store a gates report and audit it: the entry holds the report file's SHA256, the model's SHA256 the
        gates ran on (``report["sha256"]``), the policy's hash (``report["policy_sha256"]``) and the verdict."""
        check_id(candidate_id)
        data = _json(report)
        with self.locked():
            atomic_write(self.paths.validation_file(candidate_id), data)
            self.record("validation", {"id": candidate_id, "sha256": report.get("sha256"),
                                       "passed": bool(report.get("passed")),
                                       "policy_sha256": report.get("policy_sha256"), "report_sha256": sha256(data)})

    def validation(self, candidate_id: str) -> dict[str, Any] | None:
        path = self.paths.validation_file(candidate_id)
        if not path.exists() and not path.is_symlink():
            return None
        return read_registry_json(self.paths.path("validations", f"{candidate_id}.json"), "gates report", ("passed",))

    def audited_report(self, candidate_id: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
        """The candidate's gates report, checked against its last audited validation; raises on any mismatch."""
        recorded = _last(entries, "validation", candidate_id)
        path = self.paths.validation_file(candidate_id)
        if recorded is None:
            raise RegistryError(f"candidate {candidate_id} has no audited gates run: run `kraken-global gates "
                                f"{candidate_id}` first")
        if not path.exists() and not path.is_symlink():
            raise IntegrityError(f"the gates report {path} of {candidate_id} was deleted: run the gates again")
        data = read_regular(self.paths.path("validations", f"{candidate_id}.json"), "gates report")
        if sha256(data) != recorded["details"].get("report_sha256"):
            raise IntegrityError(f"the gates report {path} does not match the one recorded in the audit log "
                                 f"(line {recorded['seq']}): it was edited, replaced or swapped; run the gates again")
        return json.loads(data)


def read_registry_json(path: Path, what: str, required: tuple[str, ...]) -> dict[str, Any]:
    """A registry JSON file, or an IntegrityError naming it when it is unreadable or has the wrong shape."""
    try:
        data = json.loads(read_regular(path, what).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntegrityError(f"{what} {path} is damaged ({exc}): restore it from a backup") from None
    if not isinstance(data, dict) or any(key not in data for key in required):
        raise IntegrityError(f"{what} {path} is not a {what} (it needs {', '.join(required)}): restore it from a "
                             "backup") from None
    return data
