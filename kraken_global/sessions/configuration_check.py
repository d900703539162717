"""Live trades only an approved trading configuration, or one started with an explicit, logged override.

The configuration (strategy, regimes, pairs, costs, risk: :func:`~kraken_global.config.fingerprint.
configuration_setup`) decides more than the model, so ``live`` refuses one the registry has not approved
(``gates --trading-config``, then ``promote --trading-config``), before anything connects. A configuration
approved and then edited by one parameter has another fingerprint and is refused the same way. ``paper`` runs
anything and says whether its configuration is approved.

The override (``live --unapproved-config yes-trade-unapproved``) exists for a trader who knowingly runs an ungated
configuration (a tiny budget, an experiment): it is a warning in the session log, an ``unapproved_config`` alert
and a ``config_override`` entry in the registry's keyed chain, so nobody can say later that it was approved.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from kraken_global.config import BacktestConfig
from kraken_global.config.fingerprint import configuration_fingerprint
from kraken_global.errors import ConfigError
from kraken_global.events import event_extra
from kraken_global.registry.configurations import ConfigurationApprovals
from kraken_global.registry.errors import RegistryError

log = logging.getLogger(__name__)
OVERRIDE_WORD = "yes-trade-unapproved"


@dataclass(frozen=True)
class ConfigurationCheck:
    """The trading configuration a session runs: its fingerprint, its approval, and whether it was overridden."""

    fingerprint: str
    status: dict[str, Any]
    overridden: bool = False

    def line(self) -> str:
        short = self.fingerprint[:12]
        if self.status.get("approved"):
            flags = f" ({'; '.join(self.status['flags'])})" if self.status.get("flags") else ""
            return f"trading configuration {short} approved in namespace {self.status['namespace']}{flags}"
        word = "gated, not approved" if self.status.get("gated") else "never gated"
        return f"trading configuration {short} NOT approved ({word})" + (": started by override"
                                                                          if self.overridden else "")


def check_trading_configuration(config: BacktestConfig, mode: str, override: str | None,
                                registry) -> ConfigurationCheck:
    """Refuse (ConfigError, one line) a live session on an unapproved configuration without the override word."""
    fingerprint = configuration_fingerprint(config)
    if override is not None and override != OVERRIDE_WORD:
        raise ConfigError(f"--unapproved-config must be exactly {OVERRIDE_WORD} (got {override!r}); nothing started")
    if override is not None and mode != "live":
        raise ConfigError("--unapproved-config is for live sessions; paper runs any configuration")
    if mode != "live" and not registry.audit.path.exists():
        return ConfigurationCheck(fingerprint, {"approved": False, "gated": False, "flags": [],
                                                "namespace": registry.paths.namespace})
    try:
        status = ConfigurationApprovals(registry).status(fingerprint)
    except RegistryError as exc:
        if mode == "live":
            raise
        status = {"approved": False, "gated": False, "flags": [f"approval unknown: {exc}"],
                  "namespace": registry.paths.namespace}
    if status["approved"] or mode != "live":
        return ConfigurationCheck(fingerprint, status)
    if override == OVERRIDE_WORD:
        return ConfigurationCheck(fingerprint, status, overridden=True)
    state = "failed or was not promoted" if status["gated"] else "was never gated"
    raise ConfigError(f"live refuses trading configuration {fingerprint[:12]}: it {state} in namespace "
                      f"{status['namespace']}. Gate it: kraken-global gates --trading-config --config FILE --set "
                      f"KEY=V1,V2,... then kraken-global promote --trading-config --config FILE --confirm yes-promote "
                      f"(or start with --unapproved-config {OVERRIDE_WORD}, logged and audited)")


def record_override(check: ConfigurationCheck, registry, session: str | None, mode: str) -> None:
    """Log, alert and audit a session started on an unapproved configuration by override."""
    if not check.overridden:
        return
    ConfigurationApprovals(registry).record_override(check.fingerprint, session or "-", mode)
    log.warning("%s session on an UNAPPROVED trading configuration %s, started by --unapproved-config (recorded in "
                "the registry's audit log)", mode, check.fingerprint,
                extra=event_extra("unapproved_config", fingerprint=check.fingerprint, session=session, mode=mode))
