"""Shadow mode: a candidate replayed beside the approved model on the bars a session traded live.

The shadow sees exactly the candles the session saw (rebuilt and fingerprint-checked by the parity replay,
:mod:`kraken_global.replay.parity`), computes its own decisions at the operating point fixed in its manifest, and
fills through the paper fill model. Nothing is ever sent: the shadow runs in a backtest cerebro, after the session
has written its results, so it can neither slow nor disturb trading. The session's own model (the approved one, or
none) is replayed the same way, so the two are compared on equal terms (same fill model), bar for bar.

What counts toward the policy's ``min_shadow_days`` (see :mod:`kraken_global.registry.shadow`): live bars of
sessions against Kraken itself, after the end of the candidate's training window, as the session entered and
signed them in the audit chain while it ran (:mod:`kraken_global.registry.sessions`), never as its folder says:
an edited ``config.yaml`` or ``session.json`` changes nothing. Sessions against the emulator, and sessions the
chain never saw (from before sessions were audited, or a folder from elsewhere), are recorded and reported but
count for nothing: a replayed market at 3600x is not forward evidence.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kraken_global import metrics
from kraken_global.errors import ConfigError
from kraken_global.ml.operating_point import at_operating_point
from kraken_global.registry import ModelRegistry
from kraken_global.registry.sessions import AuditedSession, SessionLedger
from kraken_global.registry.shadow import ShadowArea
from kraken_global.replay.parity import Replay, read_session, replay_session


def _side(replay: Replay) -> dict[str, Any]:
    equity = replay.equity if replay.equity is not None else pd.Series(dtype=float)
    start = replay.start_value or (float(equity.iloc[0]) if len(equity) else None)
    daily = metrics.daily_returns(equity.index, equity.to_numpy(), start) if len(equity) and start else []
    fills = replay.fills
    return {
        "orders": len(replay.orders),
        "fills": len(fills),
        "fees_usd": float(fills["fee"].sum()) if len(fills) and "fee" in fills else 0.0,
        "total_return_pct": float((equity.iloc[-1] / start - 1) * 100) if len(equity) and start else 0.0,
        "sharpe": metrics.sharpe_ratio(np.asarray(daily, dtype=float)),
        "max_drawdown_pct": metrics.max_drawdown_pct(equity.to_numpy()) if len(equity) else 0.0,
    }


def _csv(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def run_shadow(session_dir: Path, candidate_id: str, registry: ModelRegistry | None = None) -> dict[str, Any]:
    """Replay ``candidate_id`` beside the session's model on the session's live bars; record and return the
    summary."""
    record = read_session(Path(session_dir))
    config = record.config
    registry = registry or ModelRegistry(config.ml.artifacts, config.ml.namespace)
    model, manifest = registry.load_candidate(candidate_id)  # audited manifest, verified bytes, trusted types only
    if config.strategy.name != "regime":
        raise ConfigError(f"the session traded strategy {config.strategy.name!r}, which ignores the entry-filter "
                          "model: a shadow model would change nothing")
    live_from = min(record.live_from.values(), default=None)
    if live_from is None:
        raise ConfigError(f"the session in {session_dir} never went live: there are no bars to shadow")
    approved = replay_session(record)
    shadow = replay_session(record, model=model, config=at_operating_point(config, manifest))
    last_bar = max((pd.Timestamp(f["last_bar"]) for f in record.replay["feeds"].values() if f.get("last_bar")),
                   default=live_from)
    oos_start = pd.Timestamp(manifest["training_window"]["train_end"])
    audited = SessionLedger(registry).audited(registry.audit.verify_entries(), record.replay.get("session_id"))
    counted_from, counted_until, note = _counted(audited, oos_start)
    days = (counted_until - counted_from) / pd.Timedelta(days=1) if counted_from is not None else 0.0
    differing = _differing_orders(approved.orders, shadow.orders)
    summary = {
        "session": Path(session_dir).resolve().name, "session_folder": str(Path(session_dir).resolve()),
        "session_id": audited.session if audited is not None else None,
        "mode": record.mode, "exchange": audited.exchange if audited is not None else "not audited",
        "candidate": {"id": candidate_id, "sha256": manifest["sha256"],
                      "operating_point": manifest.get("operating_point")},
        "approved": {"id": record.replay.get("model"), "sha256": record.replay.get("model_sha256")},
        "first_live_bar": str(live_from), "last_live_bar": str(last_bar),
        "days": days,
        "counted_from": str(counted_from) if days > 0 else None,
        "counted_until": str(counted_until) if days > 0 else None, "days_note": note,
        "shadow": _side(shadow), "session_model": _side(approved),
        "differing_orders": differing,
    }
    ShadowArea(registry).record(candidate_id, summary["session"], summary,
                                {"orders.csv": _csv(shadow.orders), "fills.csv": _csv(shadow.fills)})
    return summary


def _counted(audited: AuditedSession | None, oos_start: pd.Timestamp):
    """(from, until, note): the live period that counts toward min_shadow_days, from the audited session only."""
    if audited is None:
        return None, None, ("0: the audit log holds no record of this session running (a session from before "
                            "sessions were audited, or a folder edited or brought from elsewhere)")
    if not audited.on_kraken:
        return None, None, (f"0: the session ran against {audited.exchange}, not Kraken; emulated markets do not "
                            "count toward the policy's min_shadow_days")
    if audited.first_live_bar is None:
        return None, None, "0: the session signed no live bar"
    start = max(pd.Timestamp(audited.first_live_bar), oos_start)
    end = pd.Timestamp(audited.last_live_bar)
    if end <= start:
        return None, None, "0: no signed live bar after the candidate's training window"
    return start, end, ("live bars on Kraken after the candidate's training window, as the session signed them "
                        f"({audited.live_bars} live bars)")


def _differing_orders(ours: pd.DataFrame, theirs: pd.DataFrame) -> int:
    """Orders (bar, symbol, side) that only one of the two systems placed."""
    keys = ["bar", "symbol", "side"]
    if ours.empty or theirs.empty or not set(keys) <= set(ours) or not set(keys) <= set(theirs):
        return int(len(ours) + len(theirs))
    a = set(map(tuple, ours[keys].astype(str).to_numpy()))
    b = set(map(tuple, theirs[keys].astype(str).to_numpy()))
    return len(a ^ b)


def shadow_report(registry: ModelRegistry, candidate_id: str | None = None) -> tuple[list[dict[str, Any]], str]:
    """The audited shadow runs (of one candidate, or all) and a table comparing shadow and session model."""
    entries = registry.audit.verify_entries()
    records = ShadowArea(registry).records(entries, candidate_id)
    lines = []
    header = (f"{'candidate':<34} {'session':<32} {'days':>6} {'shadow ret%':>11} {'model ret%':>10} "
              f"{'shadow SR':>9} {'model SR':>8} {'orders':>11} {'differ':>6}")
    for r in records:
        if r["summary"] is None:
            lines.append(f"{r['id']:<34} {r['session']:<32} ! {r['problem']}")
            continue
        s = r["summary"]
        shadow, ours = s["shadow"], s["session_model"]
        lines.append(f"{r['id']:<34} {r['session']:<32} {s['days']:>6.1f} {shadow['total_return_pct']:>11.2f} "
                     f"{ours['total_return_pct']:>10.2f} {shadow['sharpe']:>9.2f} {ours['sharpe']:>8.2f} "
                     f"{shadow['orders']:>5}/{ours['orders']:<5} {s['differing_orders']:>6}")
    if not lines:
        return records, "no shadow runs recorded" + (f" for {candidate_id}" if candidate_id else "")
    totals = {}
    for r in records:
        if r["summary"] is not None:
            totals[(r["id"], r["sha256"])] = None
    counted = [f"{cid}: {ShadowArea(registry).days(entries, cid, sha):.1f} days toward min_shadow_days "
               f"({registry.policy().min_shadow_days} required)" for cid, sha in totals]
    return records, "\n".join([header, *lines, *counted])
