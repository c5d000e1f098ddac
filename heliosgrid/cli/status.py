"""``heliosgrid status [--json]`` — each component, consumer lag and data freshness.

Exit status 0 when every service runs healthy and broker and database answer, 1 otherwise
(for example when the stack is down); never a traceback.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from heliosgrid.cli.stack import quiet_client_logs
from heliosgrid.settings import get_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("status", help="local stack: components, consumer lag, heartbeats, data freshness")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)


def _age(age_s: float | None) -> str:
    if age_s is None:
        return "never"
    if age_s < 120:
        return f"{age_s:.0f} s ago"
    if age_s < 7200:
        return f"{age_s / 60:.0f} min ago"
    return f"{age_s / 3600:.1f} h ago"


#: Heartbeats of other instances older than this are hidden in the text view (seconds).
RECENT_HEARTBEAT_S = 600.0


def recent_heartbeats(beats: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Heartbeats to show: the newest per component, plus any instance that beat recently.

    Each restart of a component writes a new instance row; the old rows stay in the table (the
    stream-supervision DAG reads them), so the text view hides old instances.
    """
    newest: dict[str, dict[str, Any]] = {}
    for h in beats:
        best = newest.get(h["component"])
        if best is None or (h["age_s"] < best["age_s"]):
            newest[h["component"]] = h
    shown = [h for h in beats if h is newest[h["component"]] or h["age_s"] <= RECENT_HEARTBEAT_S]
    return shown, len(beats) - len(shown)


def render_text(report: dict[str, Any]) -> str:
    """Human-readable form of :meth:`heliosgrid.status.StatusReport.as_dict`."""
    lines = ["components:"]
    for c in report["components"]:
        health = {True: "healthy", False: "UNHEALTHY", None: ""}[c["healthy"]]
        pid = f"pid {c['pid']}" if c["pid"] else ""
        reason = f"  ({c['reason']})" if c["reason"] and c["healthy"] is False else ""
        lines.append(f"  {c['name']:<22} {c['state']:<12} {pid:<11} {health}{reason}")
    kafka = report["kafka"]
    lines.append(f"kafka ({kafka.get('bootstrap')}):")
    if "lag" in kafka:
        lag = kafka["lag"]
        lines.append(f"  group {lag['group']} on {lag['topic']}: total lag {lag['total_lag']} message(s)")
        for p in lag["partitions"]:
            lines.append(f"    partition {p['partition']}: end {p['end_offset']}, committed "
                         f"{p['committed_offset'] if p['committed_offset'] is not None else '-'}, lag {p['lag']}")
    else:
        lines.append(f"  {kafka.get('error')}")
    db = report["database"]
    lines.append(f"database ({db.get('url', '?')}):")
    if "error" in db:
        lines.append(f"  {db['error']}")
    else:
        shown, hidden = recent_heartbeats(db["heartbeats"])
        lines.append("  heartbeats:" if shown else "  heartbeats: none")
        for h in shown:
            lines.append(f"    {h['component']}/{h['instance']:<20} {h['status']:<9} {_age(h['age_s'])}")
        if hidden:
            lines.append(f"    ({hidden} older instance(s) of restarted components hidden; --json lists all)")
        lines.append("  newest reading per site:" if db["sites"] else "  newest reading per site: no sites")
        for s in db["sites"]:
            lines.append(f"    {s['site_id']:<24} {_age(s['age_s'])}")
        lines.append("  rollups (newest bucket start):")
        for r in db["rollups"]:
            lines.append(f"    {r['relation']:<24} {_age(r['age_s'])}")
        lines.append(f"  alerts: {db['alerts_open']} open, {db['alerts_acknowledged']} acknowledged")
        jobs = db.get("policy_jobs")
        if jobs is not None:
            failed = jobs["failed"]
            lines.append(f"  TimescaleDB policy jobs: {jobs['total']}, last run failed: "
                         + (", ".join(f"{j['job_id']} ({j['proc_name']} on {j['relation']})" for j in failed)
                            or "none"))
        lines.extend(not_evaluated_lines(db.get("maintenance_not_evaluated") or []))
    if report["problems"]:
        lines.append("problems:")
        lines.extend(f"  - {p}" for p in report["problems"])
    else:
        lines.append("all components up and healthy")
    return "\n".join(lines)


def not_evaluated_lines(rows: list[dict[str, Any]]) -> list[str]:
    """``detector: not evaluated — reason`` per site/device of the newest maintenance run of each site."""
    if not rows:
        return ["  maintenance: every detector evaluated (or no run yet)"]
    lines = ["  maintenance, not evaluated (newest run per site):"]
    lines += [f"    {r['site_id']}/{r['device_id']:<20} {r['detector']}: not evaluated — {r['reason']}" for r in rows]
    return lines


def cmd_status(args: argparse.Namespace) -> int:
    quiet_client_logs()
    from heliosgrid.status import collect_status

    report = collect_status(get_settings()).as_dict()
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(render_text(report))
    return 0 if report["ok"] else 1
