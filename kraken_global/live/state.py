"""The live trading state in SQLite, so nothing is lost when the process or the machine dies.

Tables: ``orders`` (one row per client order id, written *before* the order is sent: the intent), ``fills`` (one
row per exchange trade id: recording a fill twice is a no-op) and ``meta``. The database runs in WAL mode with
``synchronous=FULL`` and every change is one transaction.

:meth:`TradingState.reconcile` is run on every start, before trading: each order the state does not know to be
final is looked up on the exchange by its client order id. An intent whose AddOrder was sent (its ``deadline`` is
stored before each send) is looked up until that deadline has passed by the store's margin, since Kraken may still
accept it until then; an intent the exchange never received is then marked ``not_placed``; an order that was
placed (the process died after sending) gets its exchange id, status and fills; fills the exchange has for our
orders and the state lacks are added, read page by page from a cursor (``meta``). Positions are the sum of
recorded fills.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kraken_global.errors import ConfigError
from kraken_global.files import check_regular
from kraken_global.live.errors import LiveError

FINAL = ("closed", "canceled", "expired", "rejected", "not_placed")

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    client_id TEXT PRIMARY KEY, txid TEXT, symbol TEXT NOT NULL, side TEXT NOT NULL, type TEXT NOT NULL,
    amount REAL NOT NULL, price REAL, status TEXT NOT NULL, filled REAL NOT NULL DEFAULT 0,
    average REAL, fee REAL NOT NULL DEFAULT 0, strategy TEXT, created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS fills (
    trade_id TEXT PRIMARY KEY, client_id TEXT NOT NULL REFERENCES orders(client_id), txid TEXT, symbol TEXT NOT NULL,
    side TEXT NOT NULL, amount REAL NOT NULL, price REAL NOT NULL, fee REAL NOT NULL, time REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# columns added after the first release: (table, column, declaration), added to older databases on open
ADDED_COLUMNS = (("orders", "deadline", "REAL"),)
FILLS_CURSOR = "fills_synced_until"  # meta: exchange time (s) up to which every trade of ours is recorded
CURSOR_OVERLAP_SECONDS = 2  # read a little before the cursor: trades stamped in the same second


SQLITE_HEADER = b"SQLite format 3\x00"


def check_state_file(path: Path) -> None:
    """Refuse, before a session connects anywhere, a ``live.state`` that cannot be the trading state: a folder, a
    device or FIFO, a path under a file, or a file that is not SQLite (a config given by mistake). Nothing is
    created or written; a missing file is fine (a first session creates it)."""
    path = Path(path)
    if not path.exists():
        if path.parent.exists() and not path.parent.is_dir():
            raise ConfigError(f"the trading state {path} is inside {path.parent}, which is a file: live.state or "
                              "--state must name a SQLite file")
        return
    check_regular(path, "the trading state", ConfigError)
    with open(path, "rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if header and header != SQLITE_HEADER:
        raise ConfigError(f"the trading state {path} is not a SQLite file (it does not start like one): live.state "
                          "or --state must name the session's SQLite file, or a path for a new one")


class TradingState:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:  # a wrong path (a folder, another file) is refused before anything is written to it
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(SCHEMA)
            for table, column, declaration in ADDED_COLUMNS:
                columns = {r["name"] for r in self.db.execute(f"PRAGMA table_info({table})")}
                if column not in columns:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"the trading state {self.path} cannot be opened as the session's SQLite file "
                              f"({exc}): live.state or --state must name that file, or a path for a new one") from None

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- orders ------------------------------------------------------------------------------------------

    def record_intent(self, client_id: str, symbol: str, side: str, order_type: str, amount: float,
                      price: float | None = None, strategy: str | None = None) -> None:
        """Write the order before it is sent: after a crash, reconciliation knows to look for it."""
        now = time.time()
        with self._transaction() as db:
            db.execute("INSERT INTO orders (client_id, symbol, side, type, amount, price, status, strategy, created, "
                       "updated) VALUES (?, ?, ?, ?, ?, ?, 'pending_submit', ?, ?, ?)",
                       (client_id, symbol, side, order_type, amount, price, strategy, now, now))

    def update_from_exchange(self, client_id: str, order: dict[str, Any]) -> None:
        """Take the exchange's view of the order (ccxt shape): id, status, filled, average, fee."""
        fee = (order.get("fee") or {}).get("cost") or 0
        with self._transaction() as db:
            db.execute("UPDATE orders SET txid = ?, status = ?, filled = ?, average = ?, fee = ?, updated = ? "
                       "WHERE client_id = ?", (order["id"], order["status"], float(order.get("filled") or 0),
                                               order.get("average"), float(fee), time.time(), client_id))

    def set_deadline(self, client_id: str, deadline: float) -> None:
        """Written before each AddOrder of the intent is sent: until this moment (plus the store's margin) has
        passed, an intent the exchange does not show may still enter the book."""
        with self._transaction() as db:
            db.execute("UPDATE orders SET deadline = ?, status = 'submitted', updated = ? WHERE client_id = ?",
                       (deadline, time.time(), client_id))

    def mark(self, client_id: str, status: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE orders SET status = ?, updated = ? WHERE client_id = ?",
                       (status, time.time(), client_id))

    def order(self, client_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM orders WHERE client_id = ?", (client_id,)).fetchone()
        return dict(row) if row else None

    def unsettled_orders(self) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(FINAL))
        rows = self.db.execute(f"SELECT * FROM orders WHERE status NOT IN ({marks}) ORDER BY created", FINAL)
        return [dict(r) for r in rows]

    # -- fills and positions ----------------------------------------------------------------------------------

    def record_fill(self, client_id: str, trade: dict[str, Any]) -> bool:
        """Add one exchange trade (ccxt shape); False when it was already recorded."""
        fee = (trade.get("fee") or {}).get("cost") or 0
        with self._transaction() as db:
            cursor = db.execute("INSERT OR IGNORE INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                (str(trade["id"]), client_id, trade.get("order"), trade["symbol"], trade["side"],
                                 float(trade["amount"]), float(trade["price"]), float(fee),
                                 float(trade["timestamp"]) / 1000))
            return cursor.rowcount == 1

    def fills(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT * FROM fills ORDER BY time, trade_id")]

    def positions(self) -> dict[str, float]:
        rows = self.db.execute("SELECT symbol, SUM(CASE side WHEN 'buy' THEN amount ELSE -amount END) AS size "
                               "FROM fills GROUP BY symbol")
        return {r["symbol"]: r["size"] for r in rows if abs(r["size"]) > 1e-12}

    # -- reconciliation -----------------------------------------------------------------------------------------

    def reconcile(self, store) -> list[str]:
        """Bring every unsettled order and all our fills in line with the exchange; returns what changed."""
        actions: list[str] = []
        for row in self.unsettled_orders():
            if row["txid"]:
                try:
                    found = store.fetch_order(row["txid"])
                except LiveError as exc:  # accepted, but not readable yet (query lag): the next sync reads it
                    actions.append(f"{row['client_id']}: placed ({row['txid']}) but not readable yet: {exc}")
                    continue
            else:  # an intent whose AddOrder may still enter the book: wait for its deadline before deciding
                found = store.await_outcome(row["client_id"], row.get("deadline"))
            if found is None:
                self.mark(row["client_id"], "not_placed")
                actions.append(f"{row['client_id']}: never reached the exchange, marked not_placed")
                continue
            self.update_from_exchange(row["client_id"], found)
            actions.append(f"{row['client_id']}: {found['status']} on the exchange ({found['id']})")
        actions.extend(self.sync_fills(store))
        return actions

    def sync_fills(self, store) -> list[str]:
        """Record the exchange's trades of our orders that the state lacks (idempotent).

        Reads every page of TradesHistory after a cursor (exchange time), so no fill is lost however many trades
        happened since the last sync. The cursor moves up to the newest trade read only while every order of ours
        has its exchange id: a trade of an order whose id is not known yet is read again by the next sync."""
        by_txid = {r["txid"]: r["client_id"] for r in self.db.execute("SELECT txid, client_id FROM orders")
                   if r["txid"]}
        marks = ",".join("?" * len(FINAL))
        waiting = self.db.execute(f"SELECT COUNT(*) FROM orders WHERE txid IS NULL AND status NOT IN ({marks})",
                                  FINAL).fetchone()[0]
        cursor = self.meta(FILLS_CURSOR)
        start = int(float(cursor)) - CURSOR_OVERLAP_SECONDS if cursor is not None else None
        actions = []
        newest = float(cursor) if cursor is not None else None
        for trade in store.fetch_my_trades_since(start):
            newest = max(newest or 0.0, float(trade["timestamp"]) / 1000)
            client_id = by_txid.get(trade.get("order"))
            if client_id is not None and self.record_fill(client_id, trade):
                actions.append(f"{client_id}: recorded fill {trade['id']}")
        if not waiting and newest is not None:
            self.set_meta(FILLS_CURSOR, repr(newest))
        return actions

    # -- strategy books ----------------------------------------------------------------------------------------

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else default

    def mark_flattened(self, when: float) -> None:
        """The kill switch sold everything: every strategy's book starts again from zero after ``when``."""
        self.set_meta("flattened_at", repr(when))

    def strategy_books(self, strategy: str) -> dict[str, dict[str, float]]:
        """Units, cash flow and fees per symbol from the fills of ``strategy``'s orders since the last
        flattening: what a sleeve holds after a restart."""
        since = float(self.meta("flattened_at", "0"))
        rows = self.db.execute(
            "SELECT f.symbol, SUM(CASE f.side WHEN 'buy' THEN f.amount ELSE -f.amount END) AS units, "
            "SUM(CASE f.side WHEN 'buy' THEN -f.amount * f.price ELSE f.amount * f.price END) - SUM(f.fee) AS flow, "
            "SUM(f.fee) AS fees FROM fills f JOIN orders o ON o.client_id = f.client_id "
            "WHERE o.strategy = ? AND f.time > ? GROUP BY f.symbol", (strategy, since))
        return {r["symbol"]: {"units": r["units"], "cash_flow": r["flow"], "fees": r["fees"]} for r in rows}
