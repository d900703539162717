"""Backtest/paper parity: a paper or live session replayed through the backtest, decision by decision.

A session and a backtest share the strategies and (in paper) the broker, but not how they get there: a session
computes the regime plan bar by bar (:class:`~kraken_global.sessions.live_plan.LivePlanKeeper`) on candles that
arrive one at a time, a backtest computes it vectorized on candles it has in full. :func:`replay_session` rebuilds
the exact candles the session saw (the local history it replayed, checked against the fingerprint the session
recorded, continued by its candle record) and runs the backtest on them with the session's config, seed and model.
The replay's feeds send the session's statuses (DELAYED while replaying its history, LIVE from its first live bar),
so strategies warm up on the same bars and act on the same ones. :mod:`kraken_global.replay.parity_compare`
then compares the two on the bars where the session was live.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kraken_global.analyzers.orders import ORDER_COLUMNS, OrderLog, orders_frame
from kraken_global.assembly.cerebro import build_cerebro, load_data
from kraken_global.assembly.regime_system import build_plan, regime_label
from kraken_global.assembly.results import fills_frame
from kraken_global.config import BacktestConfig, load_config
from kraken_global.errors import ConfigError, DataError
from kraken_global.feeds import NumpyFeed, parse_timeframe
from kraken_global.feeds.formats import read_raw
from kraken_global.feeds.sources import load_record
from kraken_global.files import MB, read_json_limited, read_limited
from kraken_global.live.feed import replay_fingerprint
from kraken_global.selection import STRATEGY_NAMES

_OHLCV = ["open", "high", "low", "close", "volume"]
SESSION_FILES = ("session.json", "config.yaml", "plan.csv", "orders.csv", "fills.csv")


@dataclass(frozen=True)
class SessionRecord:
    """What a session left in its results folder, read back."""

    folder: Path
    mode: str
    config: BacktestConfig
    replay: dict[str, Any]
    plan: pd.DataFrame
    orders: pd.DataFrame
    fills: pd.DataFrame
    statuses: dict[str, list[str]] = field(default_factory=dict)

    @property
    def start_value(self) -> float | None:
        """The portfolio value at the session's start (``metrics.json``), when it was written."""
        try:
            metrics = read_json_limited(self.folder / "metrics.json", "metrics file", MAX_SESSION_JSON_BYTES)
            return float(metrics["performance"]["start_value"])
        except (ConfigError, ValueError, KeyError, TypeError):
            return None

    @property
    def live_from(self) -> dict[str, pd.Timestamp]:
        """Per pair, the close time of its first live bar (pairs that never went live are left out)."""
        return {s: pd.Timestamp(f["live_from"]) for s, f in self.replay["feeds"].items() if f.get("live_from")}


@dataclass(frozen=True)
class Replay:
    """The backtest's side: the vectorized plan (by bar close time), its orders and fills."""

    plan: pd.DataFrame
    orders: pd.DataFrame
    fills: pd.DataFrame
    start_value: float | None = None
    equity: pd.Series | None = None  # portfolio value per bar from the first live bar


def read_session(folder: Path) -> SessionRecord:
    """The session in ``folder``; a :class:`ConfigError` naming what is missing when it cannot be replayed."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder: pass the results folder of a paper or live session")
    missing = [name for name in SESSION_FILES if not (folder / name).exists()]  # a FIFO or folder: said when read
    if missing:
        raise ConfigError(f"{folder} is not a session folder that can be replayed: {', '.join(missing)} missing "
                          "(sessions write them when they end; sessions before the parity report did not)")
    session = read_json_limited(folder / "session.json", "session file", MAX_SESSION_JSON_BYTES)
    if not isinstance(session, dict):
        raise ConfigError(f"{folder / 'session.json'} is not a session file: it holds no JSON object")
    replay = session.get("replay") or {}
    _check_replay_block(replay, folder / "session.json")
    if not replay.get("record_candles"):
        raise ConfigError(f"the session in {folder} recorded no candles (live.record_candles was off): "
                          "it cannot be replayed")
    config = load_config(folder / "config.yaml")
    plan = _read_csv(folder / "plan.csv", "datetime", PLAN_COLUMNS, STRATEGY_NAMES)  # empty: not a regime session
    orders = _read_csv(folder / "orders.csv", "bar", ORDER_KEYS, ("size", "order_id"))
    fills = _read_csv(folder / "fills.csv", "dt", FILL_KEYS, ("size", "price", "fee", "order_id"))
    statuses = session.get("feed_statuses") or {}
    if not isinstance(statuses, dict) or not all(isinstance(v, list) for v in statuses.values()):
        raise ConfigError(f"{folder / 'session.json'}: feed_statuses is not a list of statuses per pair")
    return SessionRecord(folder, str(session.get("mode", "paper")), config, replay, plan, orders, fills, statuses)


MAX_SESSION_JSON_BYTES = 100 * MB
MAX_SESSION_CSV_BYTES = 500 * MB  # a year of 1-minute bars makes a plan.csv of about 100 MB
# the columns the comparison reads from each file the session wrote (more are allowed)
PLAN_COLUMNS = ("datetime", "regime", *STRATEGY_NAMES)
ORDER_KEYS = ("bar", "symbol", "side", "size", "strategy", "order_id", "status")
FILL_KEYS = ("dt", "order_id", "size", "price", "fee")


def _check_replay_block(replay: Any, path: Path) -> None:
    """The ``replay`` block is what the candles are rebuilt from: its shape is checked before anything is read."""
    if not isinstance(replay, dict) or not replay.get("feeds"):
        raise ConfigError(f"{path} has no replay block: the session predates the parity report")
    feeds = replay["feeds"]
    try:
        pd.Timestamp(replay["exchange_time_at_start"])
        ok = isinstance(feeds, dict) and all(
            isinstance(feed, dict) and isinstance(feed.get("replayed"), dict)
            and isinstance(feed["replayed"].get("bars", 0), int) for feed in feeds.values())
        for feed in feeds.values():
            for key in ("live_from", "last_bar"):
                if feed.get(key) is not None:
                    pd.Timestamp(feed[key])
            for key in ("first", "last"):
                if feed["replayed"].get(key) is not None:
                    pd.Timestamp(feed["replayed"][key])
    except (KeyError, TypeError, ValueError, AttributeError):
        ok = False
    if not ok:
        raise ConfigError(f"{path}: the replay block is damaged (its feeds, times or bar counts do not read): the "
                          "session cannot be replayed")


def _read_csv(path: Path, time_column: str, required: tuple[str, ...] = (),
              numeric: tuple[str, ...] = ()) -> pd.DataFrame:
    """A CSV the session wrote; a file without the ``required`` columns, or with a time or number that does not
    read, is a :class:`ConfigError` naming the file and the column (a garbage file must not be compared)."""
    data = read_limited(path, "session file", MAX_SESSION_CSV_BYTES)
    try:
        frame = pd.read_csv(io.BytesIO(data))
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{path} does not parse: {' '.join(str(exc).split())}") from None
    if frame.empty and list(frame.columns) in ([], ["Unnamed: 0"]):  # what pandas writes for an empty frame
        return pd.DataFrame()
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ConfigError(f"{path} is not the file a session writes: no column {', '.join(missing)} (its header is "
                          f"{', '.join(map(str, frame.columns[:10]))})")
    for column in numeric:
        if column in frame and len(frame):
            values = pd.to_numeric(frame[column], errors="coerce")
            unreadable = (values.isna() & frame[column].notna()).to_numpy()  # an empty cell is a NaN, as written
            if unreadable.any():
                row = int(unreadable.argmax()) + 2  # header line, 1-based
                raise ConfigError(f"{path}, row {row}: {column} {frame[column].iloc[row - 2]!r} is not a number")
            frame[column] = values
    if time_column in frame:
        try:
            frame[time_column] = pd.to_datetime(frame[time_column])
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{path}: column {time_column} holds a value that is not a time ({exc})") from None
    return frame


def _local_candles(config: BacktestConfig, recorded: str | None) -> dict[str, pd.DataFrame]:
    try:
        return load_data(config.with_overrides({"data.start": None, "data.end": None, "data.recorded": recorded})
                         ).candles
    except DataError:
        return {}


def session_candles(record: SessionRecord) -> dict[str, pd.DataFrame]:
    """The candles each feed of the session emitted, rebuilt from the local history and the candle record.

    Where both hold a candle the record wins, as Kraken's candles won over local ones in the session. The session's
    warm-up history was the local candles closed by the exchange's time at its start, joined to the record (gaps of
    up to ``data.gaps.max_fill`` bars filled), or alone, or the record alone (``runners.session.local_history``):
    each is tried, and the part the session replayed before going live must match its recorded fingerprint bit for
    bit. The live part comes from the record, which holds every candle as the exchange sent it."""
    config = record.config
    bar = parse_timeframe(config.data.timeframe)
    universe = config.universe.build()
    record_dir = Path(record.replay["record_candles"])
    before = pd.Timestamp(record.replay["exchange_time_at_start"])
    sources = [_local_candles(config, str(record_dir)), _local_candles(config, None), {}]
    # the session kept the local candles that had closed by the exchange's time at its start
    sources = [{s: frame[frame.index + bar <= before] for s, frame in local.items()} for local in sources]
    candles = {}
    for symbol, feed in record.replay["feeds"].items():
        recorded, path = load_record(record_dir, universe.resolve(symbol), bar, config.data.gaps.policy())
        if recorded is None or recorded.empty:
            raise DataError(f"the session's candle record of {symbol} is missing or unreadable: it cannot be "
                            "replayed", str(path))
        replayed = feed["replayed"]
        if not replayed.get("bars"):
            raise DataError(f"the session replayed no candles of {symbol}: nothing to rebuild")
        first, last = pd.Timestamp(replayed["first"]), pd.Timestamp(replayed["last"])
        end = pd.Timestamp(feed["last_bar"]) - bar if feed.get("last_bar") else last
        if recorded.index[-1] < end:
            raise DataError(f"the candle record of {symbol} ends at {recorded.index[-1]}, before the session's last "
                            f"candle {end}: it cannot be replayed", str(path))
        for local in sources:
            parts = [frame[_OHLCV] for frame in (local.get(symbol), recorded) if frame is not None and len(frame)]
            joined = pd.concat(parts)
            joined = joined[~joined.index.duplicated(keep="last")].sort_index()
            if replay_fingerprint(joined.loc[first:last]) == replayed:
                # the candles after the replayed history came from the exchange, and the record alone kept them: only
                # the candles it holds (the loader fills small gaps with flat bars, which no exchange sent)
                live = recorded[(recorded.index > last) & (recorded.index <= end)][_OHLCV]
                live = live[live.index.isin(read_raw(path, "ohlcvt")[0]["timestamp"])]
                _check_live_candles(symbol, live, feed, record_dir)
                candles[symbol] = pd.concat([joined.loc[first:last], live])
                break
        else:
            raise DataError(f"the candles of {symbol} the session replayed from {first} to {last} "
                            f"({replayed['bars']} bars) cannot be rebuilt as they were: data.directory or the record "
                            f"{record_dir} changed since the session")
    return candles


def _check_live_candles(symbol: str, live: pd.DataFrame, feed: dict[str, Any], record_dir: Path) -> None:
    """Every candle the session received after its replayed history must be in the record: a record that missed
    some (not written, cut, replaced) cannot rebuild the session, and comparing against the candles that are left
    (or local files' candles in their place) would report differences the session never had. Sessions that did
    not count their live candles are held to the record's end only (checked by the caller)."""
    expected = feed.get("live_bars")
    if not isinstance(expected, int):
        return
    found = len(live)
    if found != expected:
        raise DataError(f"the candle record of {symbol} holds {found} of the {expected} candles the session received "
                        f"after its replayed history (to {feed.get('last_bar')}): the session cannot be rebuilt (were "
                        "its candles recorded? its log says why not)", str(record_dir))


class ReplayFeed(NumpyFeed):
    """A backtest feed that sends a session feed's statuses: DELAYED from the start, LIVE when the first bar after
    the replayed ones loads (the session's feed sent LIVE when its replay queue ran empty, at the same loop).

    ``replayed``: per pair, how many bars the session replayed before going live (None: never live)."""

    params = (("replayed", None),)

    def start(self) -> None:
        super().start()
        self._replayed = (self.p.replayed or {}).get(self._name)
        self.put_notification(self.DELAYED)

    def _load(self) -> bool:
        if self._replayed is not None and self._cursor == self._replayed:
            self.put_notification(self.LIVE)
        return super()._load()


def _load_model(record: SessionRecord):
    """The model the session traded with, verified against the hash it was approved with; None without one."""
    model_id = record.replay.get("model")
    if not model_id:
        return None
    from kraken_global.registry import ModelRegistry
    from kraken_global.registry.errors import RegistryError

    config = record.config
    try:
        model, _ = ModelRegistry(config.ml.artifacts, config.ml.namespace).load_candidate(
            model_id, expected_sha256=record.replay.get("model_sha256"))
    except RegistryError as exc:
        raise ConfigError(f"the session's model {model_id} cannot be loaded from {config.ml.artifacts}: {exc}") \
            from None
    return model


_SESSION_MODEL = object()


def replay_session(record: SessionRecord, model: Any = _SESSION_MODEL, config: BacktestConfig | None = None) -> Replay:
    """Run the backtest on the session's candles with its config, seed and model; see the module docstring.

    ``model`` and ``config``: another model (and the config at its operating point) on the same candles, as
    shadow mode runs a candidate beside the session's model."""
    config = config or record.config
    model = _load_model(record) if model is _SESSION_MODEL else model
    candles = session_candles(record)
    bar = parse_timeframe(config.data.timeframe)
    replayed = {s: f["replayed"]["bars"] if f.get("live_from") or "LIVE" in record.statuses.get(s, []) else None
                for s, f in record.replay["feeds"].items()}
    feed = type("SessionReplayFeed", (ReplayFeed,), {"params": (("replayed", replayed),)})
    plan = build_plan(config, candles) if config.strategy.name == "regime" else None
    start = min(record.live_from.values(), default=None)
    cerebro = build_cerebro(config, candles, preload=False, runonce=False, plan=plan, model=model,
                            evaluation_start=start.to_pydatetime() if start is not None else None, feed=feed)
    cerebro.p.quicknotify = True  # as sessions run: order notifications reach strategies within the same bar
    cerebro.addanalyzer(OrderLog, _name="orders")
    strategies = cerebro.run()
    if plan is not None:
        plan = pd.DataFrame({"regime": [regime_label(code) for code in plan["regime"]],
                             **{name: plan[name].to_numpy() for name in STRATEGY_NAMES}}, index=plan.index + bar)
        plan.index.name = "datetime"
    else:
        plan = pd.DataFrame()
    orders = orders_frame(strategies) if strategies else pd.DataFrame(columns=ORDER_COLUMNS)
    fills = fills_frame(cerebro.broker)
    if not fills.empty:
        fills["dt"] = pd.to_datetime(fills["dt"])
    start_value = strategies[0].analyzers.returns.get_analysis().get("start_value") if strategies else None
    recorder = strategies[0].analyzers.returns if strategies else None
    equity = pd.Series(recorder.values, index=pd.DatetimeIndex(recorder.times), dtype=float) if recorder else None
    return Replay(plan, orders, fills, start_value, equity)
