"""``kraken-global paper|live`` and ``kraken-global status``: a session run as a bot an operator can watch and stop.

The session's folder is ``<live.results>/<mode>-<UTC start time>`` (or ``--out``): never a backtest's folder, never
another session's. It holds ``status.json`` from the first second (``kraken-global status`` reads it), the result
files when the session ends, the log's path and ``audit.jsonl`` (what operators and the capital ramp did). SIGINT and
SIGTERM end the session cleanly (exit 0, every file written); a second one leaves at once (exit 130, the SQLite state
consistent, the result files not written). Around the session: its alerts (``alerts``, with ``session_start`` and
``session_stop``), the read-only status endpoint and the dashboard (``--dashboard PORT``, its controls only with a
token).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path
from typing import Any

from kraken_global.errors import ConfigError
from kraken_global.events import event_extra
from kraken_global.sessions.status import StatusBoard, format_status, latest_session, read_status

log = logging.getLogger("kraken_global.session")
EXIT_OK, EXIT_STOPPED_AT_ONCE = 0, 130
TOKEN_VARIABLE = "KG_DASHBOARD_TOKEN"


def session_folder(args: argparse.Namespace, results: Path, stamp: str) -> Path:
    """``--out``, else a new ``<results>/<mode>-<stamp>`` (``-2``, ``-3``, ... when a session of the same second
    has it)."""
    out = args.out
    if out is None:
        out = results / f"{args.mode}-{stamp}"
        number = 1
        while out.exists():
            number += 1
            out = results / f"{args.mode}-{stamp}-{number}"
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is an existing file: name a folder")
    return out


def run_session(args: argparse.Namespace, config) -> int:
    from kraken_global.alerts.setup import install_alerts, remove_alerts
    from kraken_global.live.errors import TemporaryError
    from kraken_global.live.logs import configure_session_logging
    from kraken_global.registry.approvals import approval_line
    from kraken_global.sessions.audit_trail import AuditTrail
    from kraken_global.sessions.controls import SessionControls
    from kraken_global.sessions.dashboard.server import check_binding, check_token
    from kraken_global.sessions.session import SessionRunner, write_session
    from kraken_global.sessions.stop import StopNow, StopRequest, stop_on_signals

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = session_folder(args, config.live.results, stamp)
    stop = StopRequest()
    token = check_token(getattr(args, "dashboard_token", None) or os.environ.get(TOKEN_VARIABLE))
    dashboard_port = args.dashboard if getattr(args, "dashboard", None) is not None else config.live.dashboard.port
    if dashboard_port is not None:  # refused before anything starts
        check_binding(getattr(args, "dashboard_host", None) or config.live.dashboard.host, token)
    trail = AuditTrail(out)
    controls = SessionControls(stop, trail) if token and dashboard_port is not None else None
    runner = SessionRunner(config, args.mode, stop=stop, controls=controls, trail=trail,
                           unapproved_config=getattr(args, "unapproved_config", None))
    secrets = [runner.credentials.key, runner.credentials.secret] if runner.credentials else []
    log_file = configure_session_logging(config.live.logs, args.mode, [*secrets, token], quiet=args.quiet,
                                         stamp=stamp)
    alerts = install_alerts(config.alerts, [*secrets, token or ""], session=out.name)
    exchange = config.live.api_url or "https://api.kraken.com"
    board = StatusBoard(out, mode=args.mode, exchange=exchange, model=runner.approved.get("id"), results=str(out),
                        log=str(log_file), feed="STARTING", link="connecting", poll_seconds=config.live.poll_seconds,
                        model_registry=approval_line(runner.approval) if runner.approval else None,
                        configuration=runner.configuration.line())
    board.update()
    runner.board = board
    servers = []
    ending = "failed"
    try:
        try:
            servers.append(_status_server(board, config.live.status_port, config.live.status_host))
            if dashboard_port is not None:
                servers.append(_dashboard(args, config, runner, board, controls, out, dashboard_port, token))
        except ConfigError as exc:  # a busy port: the session never started
            board.update(state="failed", ended=str(exc))
            raise
        log.info("%s session started against %s; results and status.json in %s; stop with Ctrl-C or SIGTERM (the "
                 "bar is finished, every result file written)", args.mode, exchange, out,
                 extra=event_extra("session_start", mode=args.mode, exchange=exchange, session=out.name,
                                   model=runner.approved.get("id")))
        with stop_on_signals(stop):
            try:
                result = runner.run()
                write_session(result, out, plot=config.run.plot)
            except TemporaryError as exc:
                board.update(state="failed", ended=f"exchange unreachable: {exc}", link="down")
                log.error("cannot reach the exchange at %s: %s", exchange, exc,
                          extra=event_extra("exchange_unreachable", exchange=exchange, when="start",
                                            reason=str(exc)))
                raise ConfigError(f"cannot reach the exchange at {exchange}: {exc}. Is it running and reachable? "
                                  f"(the emulator: .venv/bin/kraken-global emulator; else check live.api_url and the "
                                  f"network)") from None
            except StopNow:
                ending = "stopped at once"
                board.update(state="stopped", ended="second stop signal: left at once; result files not (all) "
                                                    "written")
                print(f"stopped at once; the trading state is consistent; result files in {out} are not complete",
                      flush=True)
                return EXIT_STOPPED_AT_ONCE
            except Exception as exc:
                board.update(state="failed", ended=f"{type(exc).__name__}: {exc}")
                raise
            ending = "stopped" if result.stopped else "finished"
            board.update(state=ending, ended=_stop_reason(stop) if result.stopped else "session bounds reached",
                         unsettled_orders=result.unsettled)
    finally:
        for server in servers:
            if server is not None:
                server.shutdown()
        unsettled = board.snapshot().get("unsettled_orders") or []
        log.log(logging.WARNING if unsettled else logging.INFO, "%s session %s", args.mode, ending,
                extra=event_extra("session_stop", mode=args.mode, session=out.name, state=ending,
                                  unsettled=len(unsettled)))
        remove_alerts(alerts)
    print_session_summary(args.mode, result, out, log_file, runner.model_line())
    if getattr(args, "shadow", None):
        from kraken_global.replay.shadow import run_shadow

        summary = run_shadow(out, args.shadow)
        print(f"shadow of {args.shadow}: {summary['differing_orders']} orders differ from the session's model; "
              f"next: .venv/bin/kraken-global shadow report --candidate {args.shadow}", flush=True)
    return EXIT_OK


def session_summary(mode: str, result, out: Path, log_file: Path, model: str) -> str:
    """The session's result in a few lines: its length counted by bars, the model, the returns (annualized only
    from 30 days on), the ledger's reconciliation, where the files are."""
    from kraken_global.reports.breakdown_tables import reconciliation_line

    perf, trading = result.metrics["performance"], result.metrics["trading"]
    days = perf.get("period_days") or 0.0
    lines = [f"{mode} session {'stopped' if result.stopped else 'ended'}: return {perf['total_return_pct']:.2f}% over "
             f"{perf.get('bars', 0)} live bars ({days:.1f} days), {len(result.fills)} fills, "
             f"{trading['rejected_orders']} refused orders", f"  {model}"]
    if trading.get("entries_blocked_by_model"):
        lines.append(f"  {trading['entries_blocked_by_model']} entries blocked by the model (each in the log)")
    if perf.get("annualized_withheld"):
        lines.append(f"  no annualized figures: {perf['annualized_withheld']}")
    else:
        lines.append(f"  annualized return {perf['annualized_return_pct']:.2f}%, Sharpe {perf['sharpe']:.2f}, "
                     f"max drawdown {perf['max_drawdown_pct']:.2f}%")
    registry = (result.metrics.get("model") or {}).get("registry")
    if registry:
        from kraken_global.registry.approvals import approval_line

        lines.append(f"  model {result.metrics['model']['id']}: {approval_line(registry)}")
    lines.append(f"  {reconciliation_line(trading)}")
    if result.unsettled:
        lines.append(f"  {len(result.unsettled)} order(s) with an outcome Kraken's records have not settled: "
                     f"{', '.join(result.unsettled)}; the next start settles them before trading")
    lines += [f"  results in {out}/, log in {log_file}", f"next: .venv/bin/kraken-global status {out}"]
    return "\n".join(lines)


def _stop_reason(stop) -> str:
    return "stop signal" if stop.reason in ("SIGINT", "SIGTERM", "") else stop.reason


def _dashboard(args: argparse.Namespace, config, runner, board: StatusBoard, controls, out: Path, port: int,
               token: str | None):
    """Serve the dashboard; its address goes to the log and to ``status.json`` (never the token)."""
    from kraken_global.registry.errors import RegistryError
    from kraken_global.sessions.dashboard.live import LiveSource
    from kraken_global.sessions.dashboard.server import serve_dashboard
    from kraken_global.sessions.dashboard.views import model_facts

    host = getattr(args, "dashboard_host", None) or config.live.dashboard.host
    report = None
    if runner.approved.get("id"):
        try:
            report = runner.registry.validation(runner.approved["id"])
        except RegistryError:
            report = None
    live = config.live
    switch = (f"CancelAllOrdersAfter({live.dead_mans_switch_seconds} s), refreshed every {live.dms_refresh_seconds:g} s"
              if args.mode == "live" else "not used (paper)")
    source = LiveSource(board, runner.journal, out, controls, model_facts(runner.approved, report), switch)
    server = serve_dashboard(source, port, host, token)
    url = f"http://{host}:{server.server_address[1]}/"
    board.update(dashboard=url)
    log.info("dashboard on %s (controls %s)", url,
             "on: the token is needed for each action" if controls is not None else
             f"off: start with --dashboard-token or {TOKEN_VARIABLE} to pause, resume, stop or flatten from it")
    return server


def print_session_summary(mode: str, result, out: Path, log_file: Path, model: str) -> None:
    """The summary, then the round trips by strategy and by pair (and best and worst) when the session traded."""
    from rich.console import Console

    from kraken_global.reports.breakdown_tables import breakdown_tables

    console = Console(soft_wrap=True)
    text = session_summary(mode, result, out, log_file, model)
    head, _, hint = text.rpartition("\n")
    console.print(head, markup=False, highlight=False)
    if result.metrics["trading"]["round_trips"] or result.metrics["trading"]["open_round_trips"]:
        for table in breakdown_tables(result.metrics, periods=False):
            console.print(table)
    console.print(hint, markup=False, highlight=False)


def _status_server(board: StatusBoard, port: int | None, host: str):
    if not port:
        return None
    from kraken_global.sessions.status_http import serve_status

    return serve_status(board, port, host)


def show_status(session: Path | None, results: Path) -> dict[str, Any]:
    folder = session if session is not None else latest_session(results)
    status = read_status(folder)
    print(format_status(status, folder))
    return status
