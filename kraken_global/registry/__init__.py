"""The model registry: candidates -> validated -> approved, with an append-only, hash-chained audit log.

Everything lives under one artifact root per system namespace (``<root>/<namespace>/``, default namespace
``kraken_global``); :class:`~kraken_global.registry.paths.ArtifactRoot` refuses any path outside it.
"""

from kraken_global.registry.audit import AuditLog
from kraken_global.registry.errors import (
    ConfirmationRequired,
    IntegrityError,
    PathEscapeError,
    RegistryError,
    UntrustedModelError,
)
from kraken_global.registry.model_registry import ModelRegistry
from kraken_global.registry.paths import ArtifactRoot

__all__ = [
    "ArtifactRoot", "AuditLog", "ConfirmationRequired", "IntegrityError", "ModelRegistry", "PathEscapeError",
    "RegistryError", "UntrustedModelError",
]
