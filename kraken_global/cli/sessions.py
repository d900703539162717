"""The commands of a running bot: ``paper``, ``live``, ``status`` and the local ``emulator`` they can trade on."""

from __future__ import annotations

import argparse
from pathlib import Path

from kraken_global.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    KG,
    check_folder,
    command,
    listen_port,
    parse_date,
    port,
    positive_seconds,
    print_json,
    speed,
    split_pairs,
)
from kraken_global.errors import ConfigError


def add_session_commands(commands) -> None:
    _session_commands(commands)
    status = command(commands, "status", "show a paper or live session's status (running or finished)",
                     f"{KG} status results/paper-20250114T093012Z",
                     description="Reads SESSION_DIR/status.json, which the session rewrites at each bar: positions, "
                                 "open orders, P&L,\nround trips by strategy and pair, last bar and how late it was "
                                 "handled, model and the exchange link.\nA session's folder is named by the UTC wall "
                                 "time it started: <mode>-YYYYmmddTHHMMSSZ. --check answers whether\nthe session is "
                                 "healthy (exit 0) or not (exit 1, one line: ended, exchange down, or status not\n"
                                 "written for too long): the container's HEALTHCHECK runs it.")
    status.add_argument("session", nargs="?", type=Path, metavar="SESSION_DIR",
                        help="the session's results folder (default: the latest under --results; with --check, "
                             "the latest running one)")
    status.add_argument("--results", type=Path, default=Path("results"), help="where sessions are looked for")
    status.add_argument("--json", action="store_true", help="print the status file as JSON")
    status.add_argument("--check", action="store_true",
                        help="exit 0 if the session runs, reaches the exchange and wrote its status recently; "
                             "else exit 1 with the reason")
    status.add_argument("--max-age", type=positive_seconds, metavar="SECONDS",
                        help="with --check: the oldest status still healthy (default: 120 s or 3 poll intervals, "
                             "whichever is longer)")
    status.set_defaults(handler=cmd_status)
    emulator = command(commands, "emulator", "run the local Kraken REST emulator on 127.0.0.1",
                       f"{KG} emulator --port 8799 --speed 3600")
    emulator.add_argument("--port", type=listen_port, default=8799, help="TCP port on 127.0.0.1 (0: any free one)")
    emulator.add_argument("--host", default="127.0.0.1", metavar="ADDRESS",
                          help="address to listen on; 0.0.0.0 only in a container that sessions in other "
                               "containers reach by its name on a Docker network")
    emulator.add_argument("--speed", type=speed, default=60.0, help="market seconds per wall second (0: paused)")
    emulator.add_argument("--start", type=parse_date, default="2019-06-01", help="replay start day (UTC)")
    emulator.add_argument("--usd", type=float, default=10_000.0, help="starting USD balance")
    emulator.add_argument("--credentials", type=Path, default=Path("emulator-credentials.json"),
                          help="file (mode 0600) with the API key and secret to use; created when missing")
    from kraken_global.emulator.options import add_emulator_options

    add_emulator_options(emulator)
    emulator.set_defaults(handler=cmd_emulator)


def _session_commands(commands) -> None:
    """``paper`` and ``live``: the same options but ``--model`` (paper) and ``--credentials``/``--state`` (live)."""
    stop = ("Runs until --max-bars or a stop: Ctrl-C or SIGTERM finishes the current bar, writes every result "
            "file and\nexits 0 (a second signal leaves at once). Results go to results/<mode>-<UTC time>/ "
            "(live.results) unless\n--out; watch with `kraken-global status`.")
    for mode, text, example in (
            ("paper", "paper-trade: live Kraken candles, the simulated Kraken broker",
             f"{KG} paper --api-url http://127.0.0.1:8799 --no-rate-limit --poll-seconds 1 --max-bars 200 "
             "--dashboard 8800"),
            ("live", "trade for real: live candles, orders on Kraken (approved model required)",
             f"{KG} live --api-url http://127.0.0.1:8799 --credentials emulator-credentials.json "
             "--no-rate-limit --poll-seconds 1")):
        session = command(commands, mode, text, example, description=stop)
        session.add_argument("--config", type=Path, help="YAML config (default: built-in defaults)")
        session.add_argument("--api-url", help="Kraken REST base URL (default: live.api_url, else Kraken itself); "
                                               "e.g. http://127.0.0.1:8799 for the emulator")
        session.add_argument("--pairs", nargs="+", metavar="PAIR",
                             help="pairs to trade (default: universe.pairs, those the exchange lists)")
        session.add_argument("--out", type=Path, help="results folder (default: <live.results>/<mode>-<UTC time>)")
        session.add_argument("--max-bars", type=int, help="end after this many live bars (default: run until stopped)")
        session.add_argument("--no-retrain", action="store_true", help="no retraining in the downtime")
        session.add_argument("--no-rate-limit", action="store_true", help="no client throttle (the emulator only)")
        session.add_argument("--poll-seconds", type=float, help="seconds between candle polls (default: "
                                                                "live.poll_seconds)")
        session.add_argument("--quiet", action="store_true", help="terminal: warnings and the summary only (the "
                                                                  "log file keeps everything)")
        session.add_argument("--status-port", type=port, help="serve status.json read-only on 127.0.0.1:PORT "
                                                               "(default: live.status_port, off)")
        session.add_argument("--status-host", metavar="ADDRESS",
                             help="address the status port listens on (default: live.status_host, 127.0.0.1); "
                                  "0.0.0.0 only inside a container whose port is published on the host's 127.0.0.1")
        session.add_argument("--dashboard", type=listen_port, metavar="PORT",
                             help="serve the session's web page on 127.0.0.1:PORT (0: any free port, in the log and "
                                  "status.json) (default: live.dashboard.port, off)")
        session.add_argument("--dashboard-host", metavar="HOST",
                             help="address the page listens on (default: live.dashboard.host, 127.0.0.1; another "
                                  "only with a token)")
        session.add_argument("--dashboard-token", metavar="TOKEN",
                             help="turn the page's controls on (pause, resume, stop, flatten), each action needing "
                                  "this token; prefer the KG_DASHBOARD_TOKEN variable (an argument shows in ps) "
                                  "(default: off)")
        session.add_argument("--shadow", metavar="CANDIDATE",
                             help="replay this candidate beside the session's model on its live bars when the "
                                  "session ends (recorded in the registry's shadow area, never sent) (default: none)")
        if mode == "live":
            session.add_argument("--credentials", type=Path,
                                 help="JSON file (mode 0600) with key and secret (default: KRAKEN_API_KEY/SECRET)")
            session.add_argument("--state", type=Path, help="SQLite trading state (default: live.state)")
            session.add_argument("--unapproved-config", metavar="yes-trade-unapproved",
                                 help="trade a trading configuration the registry has not approved (gates "
                                      "--trading-config, promote --trading-config); logged, alerted and audited "
                                      "(default: refuse an unapproved configuration)")
        else:
            session.add_argument("--model", choices=["none", "approved"],
                                 help="filter entries with the approved model (default: ml.use_model, none)")
        session.set_defaults(handler=cmd_session, mode=mode)


def cmd_emulator(args: argparse.Namespace) -> int:
    import time

    from kraken_global.emulator.options import emulator_options, load_or_create_credentials
    from kraken_global.emulator.server import EmulatorServer, bundled_market, new_credentials

    market = bundled_market()
    options = emulator_options(args, market)
    key, secret = load_or_create_credentials(args.credentials, new_credentials)
    server = EmulatorServer(key, secret, options.start, options.speed, {"ZUSD": options.usd}, options.port,
                            market=market, permissions=options.permissions, asset_pairs=options.asset_pairs,
                            fees=options.fees, fills=options.fills, clock_skew=options.clock_skew,
                            host=options.host)
    stop_on_interrupt_or_term()
    try:
        with server:
            where = server.base_url if options.host == "127.0.0.1" else f"{options.host}:{server.port}"
            print(f"Kraken emulator on {where} (market time {server.clock.now()}, x{options.speed}); "
                  f"credentials in {args.credentials}; Ctrl-C stops it", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        return EXIT_OK


def stop_on_interrupt_or_term() -> None:
    """Ctrl-C and SIGTERM (``docker stop``) stop the emulator cleanly. Installed explicitly: a shell that starts a
    program in the background without job control hands it SIGINT ignored, and Python then leaves it ignored, so
    Ctrl-C (or a test's SIGINT) would never reach it."""
    import signal

    def interrupt(signum, frame) -> None:
        raise KeyboardInterrupt

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, interrupt)


def cmd_session(args: argparse.Namespace) -> int:
    from kraken_global.config import load_config
    from kraken_global.sessions.operate import run_session

    config = load_config(args.config)
    overrides = {
        "live.api_url": args.api_url,
        "universe.pairs": split_pairs(args.pairs) if args.pairs else None,
        "live.max_bars": args.max_bars,
        "live.retrain": False if args.no_retrain else None,
        "live.rate_limit": False if args.no_rate_limit else None,
        "live.poll_seconds": args.poll_seconds,
        "live.status_host": args.status_host,
        "live.credentials": str(args.credentials) if getattr(args, "credentials", None) else None,
        "live.state": str(args.state) if getattr(args, "state", None) else None,
        "ml.use_model": getattr(args, "model", None),
        "live.status_port": args.status_port,
    }
    config = config.with_overrides({k: v for k, v in overrides.items() if v is not None})
    check_folder(args.out or config.live.results, "--out" if args.out else "live.results")
    if args.mode == "live":  # what a user typed is checked before the model loads and anything connects
        from kraken_global.live.credentials import load_credentials
        from kraken_global.live.state import check_state_file

        check_state_file(config.live.state)
        load_credentials(config.live.credentials)
    if args.shadow:  # the candidate must exist and load before the session starts, not when it ends
        from kraken_global.registry import ModelRegistry

        ModelRegistry(config.ml.artifacts, config.ml.namespace).load_candidate(args.shadow)
    return run_session(args, config)


def cmd_status(args: argparse.Namespace) -> int:
    from kraken_global.sessions.operate import show_status
    from kraken_global.sessions.status import latest_session, read_status

    if args.check:
        from kraken_global.sessions.health import check_session

        health = check_session(args.session, args.results, args.max_age)
        print(health.reason, flush=True)
        return EXIT_OK if health.healthy else EXIT_FAILED
    if args.max_age is not None:
        raise ConfigError("--max-age goes with --check")
    if args.json:
        folder = args.session if args.session is not None else latest_session(args.results)
        print_json(read_status(folder))
        return EXIT_OK
    show_status(args.session, args.results)
    return EXIT_OK
