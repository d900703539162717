"""The dashboard's document for results on disk: a finished (or running) session's folder, a backtest's folder, a
sweep's folder or a gates report file. ``kraken-global report`` inlines it into a self-contained page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from kraken_global.errors import ConfigError
from kraken_global.sessions.dashboard.live import health_rows, summary_rows
from kraken_global.sessions.dashboard.views import (
    audit_table,
    fills_table,
    gates_table,
    log_tail,
    model_facts,
    money,
    now_text,
    orders_table,
    percent,
    positions_table,
    records_table,
    regime_runs,
    table,
)
from kraken_global.sessions.status import read_status

MAX_POINTS = 4000
SHORT_DAYS = 30  # as the console: no annualized figure of a shorter period


def folder_document(path: Path) -> dict[str, Any]:
    """The document of whatever ``path`` holds; one clear error when it is none of the known kinds."""
    path = Path(path)
    if path.is_file():
        return gates_document(path)
    if not path.is_dir():
        raise ConfigError(f"{path} does not exist: name a results folder (backtest, session or sweep) or a gates "
                          "report file (gates --output FILE)")
    if (path / "sweep.csv").exists():
        return sweep_document(path)
    if (path / "status.json").exists() or (path / "session.json").exists():
        return session_document(path)
    if (path / "metrics.json").exists():
        return backtest_document(path)
    raise ConfigError(f"{path} holds no results: a backtest folder has metrics.json, a session's status.json, a "
                      "sweep's sweep.csv")


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None


def _csv(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None


def _records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    if frame is None:
        return []
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def equity_series(frame: pd.DataFrame | None, benchmark_name: str | None) -> tuple[dict[str, Any] | None, list]:
    """``equity.csv`` as the page's series (at most :data:`MAX_POINTS`, the last bar kept) and its regime spans."""
    if frame is None or frame.empty or "value" not in frame:
        return None, []
    times = frame.iloc[:, 0].astype(str).tolist()
    regimes = regime_runs(times, frame["regime"].tolist()) if "regime" in frame else []
    stride = max(len(frame) // MAX_POINTS + (len(frame) % MAX_POINTS > 0), 1)
    keep = frame.iloc[::stride]
    if keep.index[-1] != frame.index[-1]:
        keep = pd.concat([keep, frame.iloc[[-1]]])
    series = {"t": keep.iloc[:, 0].astype(str).tolist(), "value": keep["value"].tolist(),
              "benchmark": keep["benchmark_value"].tolist() if "benchmark_value" in keep else None,
              "benchmark_name": benchmark_name}
    if "baseline_value" in keep:
        series["baseline"] = keep["baseline_value"].tolist()
    series = {k: ([None if v != v else v for v in s] if isinstance(s, list) else s) for k, s in series.items()}
    return series, regimes


def _config(path: Path) -> dict[str, Any]:
    try:
        return yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}


def _performance_rows(metrics: dict[str, Any]) -> list[list[Any]]:
    perf, trading = metrics.get("performance", {}), metrics.get("trading", {})
    bench = metrics.get("benchmark") or {}
    short = (perf.get("days") or 0) < SHORT_DAYS
    sharpe = perf.get("sharpe")
    rows = [["start value USD", money(perf.get("start_value"))], ["end value USD", money(perf.get("end_value"))],
            ["return", percent(perf.get("total_return_pct"))],
            ["annualized return",
             f"- (under {SHORT_DAYS} days)" if short else percent(perf.get("annualized_return_pct"))],
            ["Sharpe", f"- (under {SHORT_DAYS} days)" if short else
             f"{sharpe:.2f}" if isinstance(sharpe, int | float) else "-"],
            ["max drawdown", percent(perf.get("max_drawdown_pct"))], ["days", perf.get("days")],
            ["fills", trading.get("taker_fills", 0) + trading.get("maker_fills", 0)],
            ["fees USD", money(trading.get("fees_paid"))], ["refused orders", trading.get("rejected_orders")]]
    if bench.get("available"):
        rows.append([f"buy & hold {bench.get('symbol')}", percent(bench.get("total_return_pct"))])
    return rows


def backtest_document(path: Path) -> dict[str, Any]:
    metrics = _json(path / "metrics.json") or {}
    config = _config(path)
    benchmark = (metrics.get("benchmark") or {}).get("symbol") or config.get("universe", {}).get("benchmark")
    equity, regimes = equity_series(_csv(path / "equity.csv"), benchmark)
    run = metrics.get("run", {})
    model = metrics.get("model") or {}
    title = (f"backtest {path.name}: {run.get('strategy', '?')}, {run.get('first_bar', '?')} to "
             f"{run.get('last_bar', '?')}")
    return {"kind": "backtest", "title": title, "live": False, "generated": now_text(),
            "summary": _performance_rows(metrics), "equity": equity, "regimes": regimes,
            "fills": fills_table(_records(_csv(path / "trades.csv"))),
            "model": model_facts(model, None)}


def _registry_report(config: dict[str, Any], model_id: str | None) -> dict[str, Any] | None:
    """The gates report of the session's model, read from the registry the session used (when reachable)."""
    ml = config.get("ml") or {}
    if not model_id or not ml.get("artifacts"):
        return None
    report = Path(ml["artifacts"]) / ml.get("namespace", "kraken_global") / "validations" / f"{model_id}.json"
    try:
        return json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _shadow_table(config: dict[str, Any], session: str) -> dict[str, Any] | None:
    ml = config.get("ml") or {}
    if not ml.get("artifacts"):
        return None
    rows = []
    for summary_file in sorted((Path(ml["artifacts"]) / ml.get("namespace", "kraken_global") / "shadow")
                               .glob(f"*/{session}/summary.json")):
        summary = _json(summary_file) or {}
        shadow, mine = summary.get("shadow") or {}, summary.get("session_model") or {}
        rows.append([summary_file.parent.parent.name, summary.get("days"), shadow.get("total_return_pct"),
                     mine.get("total_return_pct"), summary.get("differing_orders")])
    return table("shadow runs", ["candidate", "days counted", "shadow return %", "session model return %",
                                 "orders that differ"], rows) if rows else None


def _merged(first: list[list[Any]], second: list[list[Any]]) -> list[list[Any]]:
    labels = {row[0] for row in first}
    return first + [row for row in second if row[0] not in labels]


def session_document(path: Path) -> dict[str, Any]:
    status = read_status(path) if (path / "status.json").exists() else {"state": "finished", "mode": "?"}
    metrics = _json(path / "metrics.json") or {}
    config = _config(path)
    equity, regimes = equity_series(_csv(path / "equity.csv"), (config.get("universe") or {}).get("benchmark"))
    model = metrics.get("model") or ({"id": status.get("model")} if status.get("model") else None)
    parity = _json(path / "parity.json")
    document = {
        "kind": "session", "title": f"{status.get('mode', '?')} session {path.name}", "live": False,
        "generated": now_text(),
        "summary": _merged(summary_rows(status), _performance_rows(metrics) if metrics else []),
        "health": health_rows(status, "not used (paper)" if status.get("mode") == "paper" else "see its log"),
        "equity": equity, "regimes": regimes,
        "positions": positions_table(status.get("positions") or {}),
        "open_orders": orders_table(status.get("open_orders") or []),
        "fills": fills_table(_records(_csv(path / "fills.csv"))),
        "model": model_facts(model, _registry_report(config, (model or {}).get("id"))),
        "ramp": status.get("ramp"), "log": log_tail(status.get("log")), "audit": audit_table(path),
        "shadow": _shadow_table(config, path.name)}
    if parity:
        fills = parity.get("fills") or {}
        differences = sum(len((parity.get(part) or {}).get("differences", []))
                          for part in ("plan", "orders", "fills"))
        document["parity"] = {"identical": parity.get("identical"), "differences": differences,
                              "fills_cost_usd": fills.get("total_cost_usd"),
                              "fills_cost_bps": fills.get("total_cost_bps")}
    return document


def sweep_document(path: Path) -> dict[str, Any]:
    frame = _csv(path / "sweep.csv")
    return {"kind": "sweep", "title": f"sweep {path.name}: {len(frame)} backtests", "live": False,
            "generated": now_text(), "table": records_table("sweep", _records(frame))}


def gates_document(path: Path) -> dict[str, Any]:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        report = None
    if not isinstance(report, dict) or not isinstance(report.get("gates"), list):
        raise ConfigError(f"{path} is not a gates report (JSON with a list of gates): a report is what "
                          "`kraken-global gates CANDIDATE --output FILE` writes")
    systems = report.get("systems")
    document = {"kind": "gates", "title": f"gates of {report.get('candidate', path.stem)}: "
                                          f"{'passed' if report.get('passed') else 'failed'}",
                "live": False, "generated": now_text(),
                "summary": [["candidate", report.get("candidate")], ["model SHA256", report.get("sha256")],
                            ["policy SHA256", report.get("policy_sha256")],
                            ["verdict", "passed" if report.get("passed") else "failed"]],
                "gates": gates_table(report)}
    if isinstance(systems, dict):
        document["table"] = records_table("systems on the same windows",
                                          [{"system": name, **{k: v for k, v in figures.items()
                                                               if not isinstance(v, dict | list)}}
                                           for name, figures in systems.items() if isinstance(figures, dict)])
    return document
