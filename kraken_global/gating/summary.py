"""A short human-readable summary of a gates report, for stderr beside the JSON on stdout."""

from __future__ import annotations

from typing import Any

SYSTEM_ORDER = ("candidate", "no model", "approved")


def summarize(report: dict[str, Any]) -> str:
    lines = [f"gates for {report.get('candidate')}: {'PASSED' if report.get('passed') else 'FAILED'}"]
    point = report.get("operating_point")
    if point:
        lines.append("operating point: " + ", ".join(f"{k} {v}" for k, v in sorted(point.items())))
    systems = report.get("systems") or {}
    if systems:
        lines.append(f"{'system':<11} {'Sharpe':>7} {'return%':>8} {'maxDD%':>7} {'tail%':>6} {'turnover':>8} days")
        for name in SYSTEM_ORDER:
            s = systems.get(name)
            if s:
                lines.append(f"{name:<11} {s['sharpe']:>7.2f} {s['total_return_pct']:>8.2f} "
                             f"{s['max_drawdown_pct']:>7.2f} {s['tail_loss_pct']:>6.2f} {s['turnover']:>8.3f} "
                             f"{s['days']}")
    for gate in report.get("gates", []):
        lines.append(f"  [{'pass' if gate.get('passed') else 'FAIL'}] {gate.get('name')}: {gate.get('detail')}")
    robust = report.get("robustness")
    if robust and robust.get("best_day") is not None:
        share = robust.get("best_day_share")
        lines.append(f"best day {robust['best_day']} ({robust['best_day_return_pct']:+.2f}%"
                     + (f", {share:.0%} of the P&L" if share is not None else "") +
                     f"); Sharpe without it {robust['sharpe_without_best_day']:.2f}")
    record = report.get("track_record")
    if record:
        lines.append(record["detail"])
    basis = (report.get("statistics") or {}).get("dsr_basis")
    if basis:
        lines.append(f"DSR deflated by {basis['trials']} trials; {basis['variance_note']}")
    return "\n".join(lines)
