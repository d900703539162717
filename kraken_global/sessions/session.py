"""Paper and live sessions: the backtest's cerebro with live feeds, and the paper or the live broker.

``paper``: live candles from Kraken (or the emulator) through :class:`KrakenLiveFeed`, the same
:class:`KrakenPaperBroker` as backtests, the same strategies and analyzers. ``live``: the same feeds and strategies
with :class:`KrakenLiveBroker`; it refuses to start without valid credentials and an approved model whose hash
verifies. Both:

- replay local history (continued by the candle record of earlier sessions) plus Kraken's last 720 candles first
  (status DELAYED: indicators and regimes warm up, no orders), then trade on each closed candle;
- record every closed candle received in ``live.record_candles`` (:class:`CandleRecorder`);
- compute the regime plan bar by bar (:class:`LivePlanKeeper`), and the approved model's probability when one is
  used;
- start a retraining job at each downtime when ``live.retrain`` is on (a candidate and its gates; never a
  promotion);
- keep ``status.json`` in the results folder current (:class:`SessionMonitor`, :class:`StatusBoard`) and log a
  heartbeat per live bar; feed the dashboard's journal; apply the operator's controls and the capital ramp's cap
  in the broker (:mod:`.brokers`); give paper the live daily-loss kill switch;
- end cleanly on a :class:`StopRequest` (the first SIGINT/SIGTERM) as after ``max_bars``: the current bar is
  finished, then ``metrics.json`` (with the round-trip ledger and its breakdowns), ``fills.csv`` (who and why on
  every fill), ``plan.csv``, ``equity.csv`` (value, drawdown, buy-and-hold and regime per live bar),
  ``session.json`` (reconciliation, feed statuses, entries the model blocked) and ``report.png`` are written to the
  results folder.
- record what ``kraken-global parity`` needs to replay the session through the backtest: ``orders.csv`` (every
  order with the bar it was decided on), ``config.yaml`` and session.json's ``replay`` block (exchange time at
  start, seed, model, candle record, per pair the replayed candles' fingerprint and the first live bar);
- read the fees the account pays from Kraken's ``TradeVolume`` at start (live, and paper with credentials) and
  trade with them (:mod:`~kraken_global.live.account_fees`; in ``metrics.json`` under ``fees``);
- say in the summary, ``session.json`` and ``status.json`` which orders ended with an outcome Kraken's records
  had not settled (``unsettled_orders``): the next start settles them before trading.

The exchange's "now" for the history is the market's: the start of the candle Kraken's ``OHLC`` is still forming
(the same as Kraken's ``Time`` rounded down to the candle, and the replayed market's time on the emulator, whose
``Time`` is Kraken's own clock).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import backtrader as bt
import pandas as pd

from kraken_global.analyzers.orders import OrderLog, orders_frame
from kraken_global.assembly.cerebro import add_standard_analyzers, check_model_applies, load_data, paper_broker
from kraken_global.assembly.regime_system import add_regime_strategies, plan_lines
from kraken_global.assembly.results import collect_metrics, fills_frame, honest_periods
from kraken_global.assembly.warmup import warmup_needs
from kraken_global.clocks import SYSTEM, Clock
from kraken_global.config import BacktestConfig, dump_config
from kraken_global.errors import ConfigError, DataError
from kraken_global.feeds import parse_timeframe
from kraken_global.feeds.sources import load_record
from kraken_global.live.account_fees import AccountFees, read_account_fees
from kraken_global.live.credentials import ENV_KEY, ENV_SECRET, Credentials, load_credentials
from kraken_global.live.errors import LiveError
from kraken_global.live.exchange_rules import exchange_universe
from kraken_global.live.feed import KrakenLiveFeed
from kraken_global.live.keyguard import KeyGuard
from kraken_global.live.poller import CandlePoller
from kraken_global.live.recorder import CandleRecorder
from kraken_global.live.state import TradingState
from kraken_global.live.store import KrakenStore, StoreSettings
from kraken_global.ml.operating_point import OPERATING_KEYS, bind_operating_point
from kraken_global.ml.retraining import DowntimeRetrainer, RetrainJob, load_trading_approval
from kraken_global.order_reasons import SESSION_STOP
from kraken_global.registry import ModelRegistry
from kraken_global.registry.approvals import approval_line
from kraken_global.registry.sessions import audit_session, end_audited_session
from kraken_global.selection import RegimeSelector
from kraken_global.sessions.approval_watch import ApprovalWatch
from kraken_global.sessions.audit_trail import AuditTrail
from kraken_global.sessions.brokers import SessionLiveBroker, SessionPaperBroker
from kraken_global.sessions.configuration_check import check_trading_configuration, record_override
from kraken_global.sessions.controls import SessionControls
from kraken_global.sessions.journal import SessionJournal
from kraken_global.sessions.live_plan import FEATURE_WINDOW, LivePlanKeeper
from kraken_global.sessions.monitor import SessionMonitor
from kraken_global.sessions.ramp import CapitalRamp, capital_cap
from kraken_global.sessions.status import StatusBoard
from kraken_global.sessions.stop import StopRequest
from kraken_global.strategies import STRATEGIES

log = logging.getLogger(__name__)
Mode = Literal["paper", "live"]
KRAKEN_OHLC_CANDLES = 720


@dataclass
class SessionResult:
    mode: str
    metrics: dict[str, Any]
    fills: pd.DataFrame
    plan: pd.DataFrame
    reconciliation: list[str] = field(default_factory=list)
    statuses: dict[str, list[str]] = field(default_factory=dict)
    retraining: list[dict[str, Any]] = field(default_factory=list)
    orders: pd.DataFrame = field(default_factory=pd.DataFrame)
    config: BacktestConfig | None = None
    replay: dict[str, Any] = field(default_factory=dict)
    equity: pd.Series | None = None
    stopped: bool = False
    journal: pd.DataFrame | None = None  # per live bar: value, drawdown_pct, benchmark_value, regime
    blocked_entries: list[dict[str, Any]] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)


def store_settings(config: BacktestConfig) -> StoreSettings:
    live = config.live
    return StoreSettings(api_url=live.api_url, timeout_ms=live.timeout_ms, max_attempts=live.max_attempts,
                         enable_rate_limit=live.rate_limit, rate_tier=live.rate_tier if live.rate_limit else None,
                         deadline_seconds=live.order_deadline_seconds,
                         deadline_margin_seconds=live.deadline_margin_seconds,
                         unknown_wait_seconds=live.unknown_wait_seconds,
                         max_clock_skew_seconds=live.max_clock_skew_seconds,
                         clock_check_seconds=live.clock_check_seconds)


def open_store(config: BacktestConfig, credentials: Credentials | None, clock: Clock = SYSTEM) -> KrakenStore:
    guard = KeyGuard(credentials.key, config.live.key_lock_dir) if credentials is not None else None
    return KrakenStore(credentials, store_settings(config), clock, guard).start()


def optional_credentials(config: BacktestConfig) -> Credentials | None:
    """A paper session's credentials, when the config or the environment has some (only to read TradeVolume)."""
    if config.live.credentials is not None or (os.environ.get(ENV_KEY) and os.environ.get(ENV_SECRET)):
        return load_credentials(config.live.credentials)
    return None


def paper_fees(config: BacktestConfig, credentials: Credentials | None, symbol: str) -> AccountFees:
    """The account's fees for a paper session, read with the key's lock held for that one call (the key may be a
    live session's: then the configured preset is used)."""
    if credentials is None:
        return read_account_fees(None, symbol, config.broker.fees.schedule())
    try:
        store = open_store(config, credentials)
    except LiveError as exc:
        log.warning("paper: cannot read the account's fees (%s)", exc)
        return read_account_fees(None, symbol, config.broker.fees.schedule())
    try:
        return read_account_fees(store, symbol, config.broker.fees.schedule())
    finally:
        store.stop()


def history_bars(config: BacktestConfig) -> int:
    """Bars to replay before trading: the longest warm-up (regime detector, strategies, model features) + 20%."""
    return int(max(*warmup_needs(config).values(), FEATURE_WINDOW) * 1.2)


def with_record(config: BacktestConfig) -> BacktestConfig:
    """``config`` reading the session's own candle record (``live.record_candles``) after the local history."""
    if config.data.recorded is not None or config.live.record_candles is None:
        return config
    return config.with_overrides({"data.recorded": str(config.live.record_candles)})


def local_history(config: BacktestConfig, before: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The last :func:`history_bars` local candles (bundled by default, continued by the session record) that
    closed before ``before`` (the exchange's now): more would only slow the start down."""
    bar = parse_timeframe(config.data.timeframe)
    config = with_record(config.with_overrides({"data.start": None, "data.end": None}))
    try:
        candles = load_data(config).candles
    except DataError as exc:
        log.warning("no local history (%s): the session warms up on Kraken's candles alone", exc)
        return {}
    keep = history_bars(config)
    # Kraken's OHLC reaches back 720 candles; older history must meet it, or the regime windows would span a gap
    reach = before - (KRAKEN_OHLC_CANDLES - config.data.gaps.max_fill) * bar
    universe = config.universe.build()
    history = {}
    for symbol, frame in candles.items():
        frame = frame[frame.index + bar <= before].iloc[-keep:]
        if len(frame) and frame.index[-1] < reach and config.data.recorded is not None:
            # the local files are too old to be joined to the record; the record alone may still meet Kraken
            record, _ = load_record(config.data.recorded, universe.resolve(symbol), bar, config.data.quality())
            if record is not None and len(record):
                frame = record[record.index + bar <= before].iloc[-keep:]
        if len(frame) and frame.index[-1] < reach:
            log.warning("local history of %s ends at %s, too long before the exchange's %s to meet Kraken's last %d "
                        "candles: not used (update data.directory)", symbol, frame.index[-1], before,
                        KRAKEN_OHLC_CANDLES)
            frame = frame.iloc[:0]
        history[symbol] = frame
    return history


def _exchange_now(store: KrakenStore, symbol: str, timeframe: str) -> pd.Timestamp:
    """The market's now: the start of the candle Kraken is still forming (see the module docstring)."""
    return pd.Timestamp(store.fetch_ohlcv(symbol, timeframe)[-1][0], unit="ms")


class SessionRunner:
    """Builds and runs one paper or live session; see the module docstring."""

    def __init__(self, config: BacktestConfig, mode: Mode, credentials: Credentials | None = None,
                 registry: ModelRegistry | None = None, stop: StopRequest | None = None,
                 board: StatusBoard | None = None, controls: SessionControls | None = None,
                 trail: AuditTrail | None = None, clock: Clock = SYSTEM,
                 unapproved_config: str | None = None) -> None:
        """``stop``: ends the session cleanly when requested; ``board``: the status file to keep current;
        ``controls``: the operator's (dashboard's) pause and flatten; ``trail``: the session's audit trail;
        ``clock``: the local clock (tests pass a stepped one); ``unapproved_config``: the override word that lets
        live trade a configuration the registry has not approved (logged and audited)."""
        self.config = config
        self.stop = stop or StopRequest()
        self.board = board
        self.controls = controls
        self.trail = trail
        self.journal = SessionJournal()
        self.mode = mode
        self.registry = registry or ModelRegistry(config.ml.artifacts, config.ml.namespace)
        self.model = None
        self.approved: dict[str, Any] = {}
        self.approval: dict[str, Any] | None = None  # namespace, policy and flags of the approval traded
        if mode == "live" or config.ml.use_model == "approved":
            check_model_applies(config)  # live always trades with the approved model: a strategy must use it
            approved = load_trading_approval(self.registry)  # refuses on a missing or bad model
            self.model, manifest, self.approval = approved.model, approved.manifest, approved.record
            # what was loaded, from the same read of the chain (state.json read again could already name a model
            # promoted since, and the watch would guard that one while the session trades this one)
            self.approved = {"id": self.approval["approval"]["id"], "sha256": self.approval["approval"]["sha256"]}
            self.config = bind_operating_point(config, manifest)  # trade at the point the model was gated at
        if mode == "live" and credentials is None:
            credentials = load_credentials(config.live.credentials)
        elif credentials is None:
            credentials = optional_credentials(config)
        self.credentials = credentials
        # live: an approved trading configuration, or the explicit override; refused before anything connects
        self.configuration = check_trading_configuration(self.config, mode, unapproved_config, self.registry)
        self.clock = clock
        self.fees: AccountFees | None = None
        self.state: TradingState | None = None
        self.retrain_job: RetrainJob | None = None
        self.started_at: pd.Timestamp | None = None
        self.ramp: CapitalRamp | None = None
        self.broker = None  # the session's broker, once built
        if config.live.capital.ramp.enabled:  # its state is read now: a damaged file refuses before any trading
            self.ramp = CapitalRamp(config.live.capital, mode, config.broker.slippage_bps, trail)
        self.recorder = None  # signs the session's live bars in the registry (what shadow days count)
        # what was approved at start is re-checked while the session runs: a rollback withdraws its entries
        watched_configuration = (self.configuration.fingerprint if self.configuration.status.get("approved")
                                 and mode == "live" else None)
        self.approval_watch = ApprovalWatch(self.registry, self.approved or None,
                                            watched_configuration, config.live.approval_check_seconds, trail)

    def build(self, store: KrakenStore) -> bt.Cerebro:
        config = self.config
        cerebro = bt.Cerebro(stdstats=False, quicknotify=True)
        universe = exchange_universe(store, config.universe.build())  # today's rules, not the bundled snapshot
        listed = set(store.client.markets or {})
        symbols = [s for s in config.universe.build().symbols if s in listed]
        for missing in sorted(set(config.universe.build().symbols) - listed):
            log.warning("%s is not listed by the exchange: not traded in this session", missing)
        if not symbols:
            raise ConfigError("none of the configured pairs is listed by the exchange")
        if self.mode == "live":
            self.fees = read_account_fees(store, symbols[0], config.broker.fees.schedule())
            config.live.state.parent.mkdir(parents=True, exist_ok=True)
            self.state = TradingState(config.live.state)
            live = config.live
            cerebro.broker = SessionLiveBroker(
                store=store, state=self.state, universe=universe, risk=live.risk.limits(),
                schedule=config.schedule.schedule(), sync_seconds=live.sync_seconds,
                dead_mans_switch_seconds=live.dead_mans_switch_seconds, dms_refresh_seconds=live.dms_refresh_seconds,
                max_pair_share=config.broker.max_pair_share, dedicated_account=live.dedicated_account,
                capital_budget=live.capital.budget_usd, fees=(self.fees.maker, self.fees.taker),
                start_wait_seconds=live.start_wait_seconds, stop=self.stop)
        else:
            self.fees = paper_fees(config, self.credentials, symbols[0])
            cerebro.broker = paper_broker(config, universe, SessionPaperBroker, self.fees.schedule(),
                                          risk=config.live.risk.limits())
        self.broker = cerebro.broker
        cerebro.broker.controls = self.controls
        cerebro.broker.approval_watch = self.approval_watch
        cerebro.broker.capital_cap = capital_cap(config.live.capital, self.ramp, self.mode)
        now = self.started_at = _exchange_now(store, symbols[0], config.data.timeframe)
        history = local_history(config, now)
        if config.strategy.name == "regime" and config.regimes.reference not in symbols:
            raise ConfigError(f"regimes.reference {config.regimes.reference} is not traded in this session")
        recorder = None
        if config.live.record_candles is not None:
            recorder = CandleRecorder(config.live.record_candles, config.universe.build(),
                                      parse_timeframe(config.data.timeframe), config.data.gaps.max_fill)
        poller = CandlePoller(store, symbols, config.data.timeframe, config.live.poll_seconds,
                              on_closed=recorder.record if recorder is not None else None,
                              on_polled=self.board.beat if self.board is not None else None)
        regime = config.strategy.name == "regime"
        for index, symbol in enumerate(symbols):
            lines = [*(plan_lines() if regime and symbol == config.regimes.reference else ()),
                     *(("p_up",) if regime and self.model is not None else ())]
            feed_class = KrakenLiveFeed.with_lines(*lines) if lines else KrakenLiveFeed
            cerebro.adddata(feed_class(store=store, poller=poller, symbol=symbol, interval=config.data.timeframe,
                                       history=history.get(symbol), max_live_bars=config.live.max_bars,
                                       max_idle_seconds=config.live.max_idle_seconds, stop=self.stop,
                                       leader=index == 0), name=symbol)
        if regime:
            cerebro.addstrategy(LivePlanKeeper, reference=config.regimes.reference,
                                timeframe=parse_timeframe(config.data.timeframe),
                                thresholds=config.regimes.thresholds.model(),
                                selector=RegimeSelector(config.regimes.selection_map(), config.regimes.after_panic),
                                model=self.model)
            add_regime_strategies(cerebro, config, with_model=self.model is not None)
        else:
            cerebro.addstrategy(STRATEGIES[config.strategy.name], **config.strategy.params)
        if config.live.retrain:
            self.retrain_job = RetrainJob(with_record(config), self.registry, background=True,
                                          skip_while_running=True)
            cerebro.addstrategy(DowntimeRetrainer, job=self.retrain_job)
        cerebro.addstrategy(SessionMonitor, board=self.board, journal=self.journal, ramp=self.ramp,
                            controls=self.controls, approval=self.approval_watch, benchmark=config.universe.benchmark,
                            on_live_bar=self.recorder.live_bar if self.recorder is not None else None,
                            session_start=now.to_pydatetime())
        # the figures cover the session only: from the first bar that closes after it started (bars are stamped at
        # their close, and the candle that closed at ``now`` is history the session never traded)
        add_standard_analyzers(cerebro, config, evaluation_start=(now + pd.Timedelta(microseconds=1)).to_pydatetime())
        cerebro.addanalyzer(OrderLog, _name="orders")
        return cerebro

    def run(self) -> SessionResult:
        store = open_store(self.config, self.credentials if self.mode == "live" else None, self.clock)
        exchange = self.config.live.api_url or "Kraken"
        self.recorder = audit_session(self.registry, self.mode, self.config.live.api_url,
                                      self.board.path.parent.name if self.board is not None else None)
        try:
            record_override(self.configuration, self.registry, self.recorder.session if self.recorder else None,
                            self.mode)
            cerebro = self.build(store)
            self.approval_watch.start()
            log.info("%s session starting against %s; %s%s; %s", self.mode, exchange, self.model_line(),
                     f"; {approval_line(self.approval)}" if self.approval else "", self.configuration.line())
            strategies = cerebro.run()
            if self.mode == "live":
                cerebro.broker.on_session_stop(self.config.live.on_stop)
        finally:
            self.approval_watch.stop()
            if self.state is not None:
                self.state.close()
            store.stop()
            end_audited_session(self.recorder)
        if self.retrain_job is not None:
            if self.retrain_job.running():
                log.info("waiting for the retraining to finish (a second stop signal leaves at once)")
            self.retrain_job.wait(timeout=600)
        return self._result(strategies, cerebro)

    def model_line(self) -> str:
        """Which model the session trades with, in words (the start line and the summary say it)."""
        if self.model is None:
            return "no model: entries follow the strategies' rules alone"
        return (f"model {self.approved.get('id')} (sha256 {self.approved.get('sha256')}) filters entries at "
                f"min_probability {self.config.ml.min_probability:g}")

    def _result(self, strategies: list, cerebro: bt.Cerebro) -> SessionResult:
        keeper = next((s for s in strategies if isinstance(s, LivePlanKeeper)), None)
        trading = [s for s in strategies if not isinstance(s, LivePlanKeeper | DowntimeRetrainer | SessionMonitor)]
        broker = cerebro.broker
        monitor = next((s for s in strategies if isinstance(s, SessionMonitor)), None)
        closes = pd.DataFrame.from_dict(monitor.closes, orient="index") if monitor is not None and monitor.closes \
            else None
        metrics = collect_metrics(trading, broker, closes, end_reason=SESSION_STOP)
        honest_periods(metrics, len(trading[0].analyzers.returns.values), parse_timeframe(self.config.data.timeframe))
        metrics["session"] = {"mode": self.mode, "model": self.approved.get("id"),
                              "trading_configuration": {"fingerprint": self.configuration.fingerprint,
                                                        "approved": bool(self.configuration.status.get("approved")),
                                                        "overridden": self.configuration.overridden,
                                                        "namespace": self.configuration.status.get("namespace"),
                                                        "flags": list(self.configuration.status.get("flags", []))},
                              "model_sha256": self.approved.get("sha256"),
                              "late_seconds_max": monitor.max_late_seconds if monitor is not None else None}
        metrics["model"] = {"id": self.approved.get("id"), "sha256": self.approved.get("sha256"),
                            "operating_point": {k: getattr(self.config.ml, k) for k in OPERATING_KEYS},
                            "registry": self.approval} if self.model is not None else None
        metrics["fees"] = self.fees.as_metrics() if self.fees is not None else None
        unsettled = broker.unsettled() if hasattr(broker, "unsettled") else []
        plan = pd.DataFrame(keeper.rows).set_index("datetime") if keeper is not None and keeper.rows \
            else pd.DataFrame()
        statuses = {d._name: list(d.statuses) for d in cerebro.datas}
        reconciliation = list(getattr(broker, "reconciliation", []))
        retraining = list(self.retrain_job.results) if self.retrain_job is not None else []
        equity = pd.Series(monitor.values, dtype="float64") if monitor is not None and monitor.values else None
        log.log(logging.WARNING if unsettled else logging.INFO, "%s session %s%s", self.mode,
                "stopped" if self.stop.stopped else "ended",
                f"; {len(unsettled)} order(s) with an outcome not settled yet: {', '.join(unsettled)}" if unsettled
                else "")
        return SessionResult(self.mode, metrics, fills_frame(broker), plan, reconciliation, statuses, retraining,
                             orders=orders_frame(trading), config=self.config, replay=self._replay(cerebro),
                             equity=equity, stopped=self.stop.stopped, journal=_journal_frame(monitor, equity),
                             blocked_entries=[e for s in trading for e in getattr(s, "blocked_entries", ())],
                             unsettled=unsettled)

    def _replay(self, cerebro: bt.Cerebro) -> dict[str, Any]:
        """What the parity report needs to replay this session through the backtest."""
        record = self.config.live.record_candles
        return {"exchange_time_at_start": str(self.started_at), "seed": self.config.run.seed,
                "session_id": self.recorder.session if self.recorder is not None else None,
                "model": self.approved.get("id"), "model_sha256": self.approved.get("sha256"),
                "record_candles": str(Path(record).resolve()) if record is not None else None,
                "timeframe": self.config.data.timeframe,
                "feeds": {d._name: {"replayed": d.replayed, "live_from": str(d.live_from) if d.live_from else None,
                                    "last_bar": str(d.last_bar) if d.last_bar else None,
                                    "live_bars": d.live_bars} for d in cerebro.datas}}


def _journal_frame(monitor: SessionMonitor | None, equity: pd.Series | None) -> pd.DataFrame | None:
    """``equity.csv`` of a session: the backtest's columns (value, drawdown, buy-and-hold) plus the regime."""
    if monitor is None or equity is None:
        return None
    frame = pd.DataFrame({"value": equity})
    frame["drawdown_pct"] = (1 - frame["value"] / frame["value"].cummax()) * 100
    frame["benchmark_value"] = pd.Series(monitor.benchmark_values, dtype="float64")
    frame["regime"] = pd.Series(monitor.regimes, dtype="object")
    frame.index.name = "datetime"
    return frame


def write_session(result: SessionResult, out: Path, plot: bool = True) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(result.metrics, indent=2, sort_keys=True, default=str) + "\n")
    result.fills.to_csv(out / "fills.csv", index=False)
    result.plan.to_csv(out / "plan.csv")
    result.orders.to_csv(out / "orders.csv", index=False)
    if result.journal is not None:
        result.journal.to_csv(out / "equity.csv")
    if result.config is not None:
        (out / "config.yaml").write_text(dump_config(result.config))
    (out / "session.json").write_text(json.dumps(
        {"mode": result.mode, "reconciliation": result.reconciliation, "feed_statuses": result.statuses,
         "retraining": result.retraining, "replay": result.replay, "stopped_by_signal": result.stopped,
         "entries_blocked_by_model": result.blocked_entries, "unsettled_orders": result.unsettled},
        indent=2, default=str) + "\n")
    if plot and result.equity is not None and len(result.equity) > 1:
        from kraken_global.reports.plots import plot_session

        plot_session(result, out / "report.png")
    return out
