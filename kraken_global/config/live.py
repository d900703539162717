"""Paper and live sessions: where Kraken is, where state and logs go, how orders are placed safely, risk limits."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from kraken_global.config.base import FiniteFloat, Flag, ListenPort, Port, Strict, UserPath, WholeNumber
from kraken_global.config.capital import CapitalConfig


class RiskConfig(Strict):
    """Live risk limits (see :mod:`kraken_global.live.risk`)."""

    max_order_notional: FiniteFloat = Field(default=5_000.0, gt=0)
    max_position_notional: FiniteFloat = Field(default=10_000.0, gt=0)
    max_daily_loss_pct: FiniteFloat = Field(default=5.0, gt=0, le=100)

    def limits(self):
        from kraken_global.live.risk import RiskLimits

        return RiskLimits(self.max_order_notional, self.max_position_notional, self.max_daily_loss_pct)


class DashboardConfig(Strict):
    """The session's web page (:mod:`kraken_global.sessions.dashboard`); off unless a port is given. Its control
    token is never a config value (a config is copied into every results folder): ``--dashboard-token`` or
    ``KG_DASHBOARD_TOKEN``."""

    port: ListenPort | None = None  # None: off; 0: any free port (printed in the log); privileged ports refused
    host: str = Field(default="127.0.0.1", pattern=r"^[A-Za-z0-9.:_-]{1,253}$")  # beyond 127.0.0.1: token only


class LiveConfig(Strict):
    """Paper and live sessions: where Kraken is, where state and logs go, how often to poll."""

    api_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")  # None: Kraken itself
    credentials: UserPath | None = None  # None: KRAKEN_API_KEY / KRAKEN_API_SECRET
    state: UserPath = Path("state/trading.sqlite")
    logs: UserPath = Path("logs")
    poll_seconds: FiniteFloat = Field(default=10.0, gt=0, le=3600)
    sync_seconds: FiniteFloat = Field(default=5.0, gt=0, le=3600)
    timeout_ms: WholeNumber = Field(default=10_000, ge=100, le=120_000)
    max_attempts: WholeNumber = Field(default=5, ge=1, le=20)
    # a start whose lookups Kraken keeps refusing (rate limit, unavailable) tries again for this long before exit 2
    start_wait_seconds: FiniteFloat = Field(default=120.0, ge=0, le=3600)
    rate_limit: Flag = True  # ccxt's throttle and Kraken's decay-counter model (rate_tier); off only for the emulator
    rate_tier: Literal["starter", "intermediate", "pro"] = "starter"  # the account's verification tier
    dead_mans_switch_seconds: WholeNumber | None = Field(default=60, ge=10, le=86_400)  # None: no dead man's switch
    dms_refresh_seconds: FiniteFloat = Field(default=20.0, gt=0)
    dedicated_account: Flag = False  # the account holds only the bot's orders: its dead man's switch may cancel all
    max_clock_skew_seconds: FiniteFloat | None = Field(default=60.0, gt=0, le=3600)  # None: trade whatever the skew
    clock_check_seconds: FiniteFloat = Field(default=300.0, gt=0, le=86_400)  # how often Kraken's clock is measured
    # how often a running session re-reads the registry: a rolled-back model or configuration withdraws its entries
    approval_check_seconds: FiniteFloat = Field(default=60.0, gt=0, le=3600)
    max_bars: WholeNumber | None = Field(default=None, ge=1)  # end the session after this many live bars
    max_idle_seconds: FiniteFloat | None = Field(default=None, gt=0)  # end it when no bar came for this long
    retrain: Flag = True  # train a candidate and run its gates in each downtime (never promotes)
    record_candles: UserPath | None = Path("kg-data/candles")  # every closed candle a session sees; None: no record
    # deadline-safe placement: each AddOrder carries Kraken's now + order_deadline_seconds (Kraken: 2..60 s); an
    # unknown outcome is looked up until Kraken's Time is past that deadline plus deadline_margin_seconds (absence is
    # proven only then) or unknown_wait_seconds more have passed (it stays unknown); it is never resent
    order_deadline_seconds: FiniteFloat = Field(default=15.0, ge=3, le=55)
    deadline_margin_seconds: FiniteFloat = Field(default=5.0, ge=0.5, le=60)
    unknown_wait_seconds: FiniteFloat = Field(default=10.0, ge=0, le=600)
    # one process per API key: its lock and nonce floor (None: $KRAKEN_GLOBAL_LOCK_DIR, else
    # $XDG_STATE_HOME/kraken-global/keys, else ~/.local/state/kraken-global/keys)
    key_lock_dir: UserPath | None = None
    results: UserPath = Path("results")  # each session's folder is <results>/<mode>-<UTC start time> unless --out
    on_stop: Literal["cancel", "leave"] = "cancel"  # live: our open orders when the session stops
    status_port: Port | None = None  # read-only JSON status on status_host (privileged ports refused)
    # 127.0.0.1: this host only; 0.0.0.0 inside a container, whose port the run scripts publish on the host's
    # 127.0.0.1 only (anyone who reaches the address reads positions and P&L)
    status_host: str = "127.0.0.1"
    risk: RiskConfig = RiskConfig()
    capital: CapitalConfig = CapitalConfig()
    dashboard: DashboardConfig = DashboardConfig()

    @field_validator("status_host")
    @classmethod
    def _an_address(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address to listen on: 127.0.0.1 (this host only) or, in a "
                             "container whose port is published on the host's 127.0.0.1, 0.0.0.0") from None

    @model_validator(mode="after")
    def _refresh_before_expiry(self) -> LiveConfig:
        if self.dead_mans_switch_seconds is not None and self.dms_refresh_seconds >= self.dead_mans_switch_seconds:
            raise ValueError("dms_refresh_seconds must be shorter than dead_mans_switch_seconds, or the switch "
                             "cancels every order between two refreshes")
        return self
