"""Registry errors, each saying what the operator must do."""

from __future__ import annotations

from kraken_global.errors import KrakenGlobalError


class RegistryError(KrakenGlobalError):
    """The registry refused an operation; nothing stored was changed."""


class RegistryBusy(RegistryError):
    """Another command holds the registry's lock: nothing was read or changed; trying again later is safe."""


class PathEscapeError(RegistryError):
    """A path points outside the registry's namespace (``..``, another namespace, or a symlink out)."""


class IntegrityError(RegistryError):
    """Stored bytes do not match their recorded SHA256, or the audit log's hash chain is broken."""


class UntrustedModelError(RegistryError):
    """A model file contains types outside the trusted list in the code; it was not loaded."""


class ConfirmationRequired(RegistryError):
    """A state-changing command was run without its exact confirmation word."""


class UnknownCandidateError(RegistryError):
    """No candidate has that id (a usage error: exit code 2 on the command line)."""
