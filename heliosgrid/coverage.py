"""Detector coverage: which maintenance detectors could not run, per site/device, and why.

A detector that cannot run for a device (reporting interval too coarse, sensor missing, learned
thresholds still in warm-up, model ratio too noisy) never goes quiet: the maintenance run result
lists it under ``not_evaluated`` (:mod:`heliosgrid.maintenance.capability`), and
:func:`record_coverage` persists it (migration 0120) so that ``heliosgrid status``, the API
(``GET /v1/maintenance/coverage``) and the dashboard show "soiling: not evaluated — <reason>".

Idempotent per site and data interval: re-running ``[window_start, window_end)`` replaces that
run's rows. Runs older than :data:`KEEP_DAYS` before the newest window are pruned by the writer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import psycopg

KEEP_DAYS = 30
"""Run rows kept per site (days before the newest written window)."""

CURRENT_SQL = """SELECT r.site_id, n.device_id, n.detector, n.reason, r.window_start, r.window_end, r.run_at
FROM (SELECT DISTINCT ON (site_id) site_id, window_start, window_end, run_at
      FROM maintenance_runs WHERE (%(site)s::text IS NULL OR site_id = %(site)s)
      ORDER BY site_id, window_end DESC) r
LEFT JOIN maintenance_not_evaluated n ON n.site_id = r.site_id AND n.window_end = r.window_end
ORDER BY r.site_id, n.device_id NULLS FIRST, n.detector"""
"""The newest run per site (optionally one site) with its not-evaluated rows; a site whose newest
run evaluated every detector appears once with NULL device/detector/reason."""


def record_coverage(conn: psycopg.Connection, summary: Mapping[str, Any]) -> int:
    """Persist one maintenance run's ``not_evaluated`` (device → detector → reason) for every
    scanned site of ``summary`` (the dict :func:`heliosgrid.maintenance.runner.run_maintenance`
    returns: ``sites``, ``window_start``, ``window_end``, ``not_evaluated``). Returns the number of
    not-evaluated rows written. Runs inside the caller's transaction."""
    sites: list[str] = list(summary.get("sites") or [])
    if not sites:
        return 0
    start = datetime.fromisoformat(str(summary["window_start"]))
    end = datetime.fromisoformat(str(summary["window_end"]))
    reasons: Mapping[str, Mapping[str, str]] = summary.get("not_evaluated") or {}
    site_of: dict[str, str] = {}
    if reasons:
        rows_db = conn.execute("SELECT device_id, site_id FROM devices WHERE device_id = ANY(%s)", (list(reasons),))
        site_of = {str(d): str(s) for d, s in rows_db.fetchall()}
    with conn.cursor() as cur:
        cur.execute("DELETE FROM maintenance_runs WHERE site_id = ANY(%s) AND window_end = %s", (sites, end))
        cur.executemany(
            "INSERT INTO maintenance_runs (site_id, window_start, window_end) VALUES (%s, %s, %s)",
            [(s, start, end) for s in sites],
        )
        rows = [
            (site_of[dev], end, dev, detector, str(why)[:2000] or "unknown")
            for dev, by_detector in sorted(reasons.items())
            if site_of.get(dev, "") in sites
            for detector, why in sorted(by_detector.items())
        ]
        cur.executemany(
            "INSERT INTO maintenance_not_evaluated (site_id, window_end, device_id, detector, reason) "
            "VALUES (%s, %s, %s, %s, %s)",
            rows,
        )
        cur.execute(
            "DELETE FROM maintenance_runs WHERE site_id = ANY(%s) AND window_end < %s",
            (sites, end - timedelta(days=KEEP_DAYS)),
        )
    return len(rows)


def current_coverage(conn: psycopg.Connection, site_id: str | None = None) -> list[dict[str, Any]]:
    """Per site: its newest run (window, run time) and the detectors it could not evaluate.

    ``[{"site_id", "window_start", "window_end", "run_at", "not_evaluated": [{"device_id",
    "detector", "reason"}, …]}, …]`` ordered by site; sites never run by maintenance are absent.
    """
    out: dict[str, dict[str, Any]] = {}
    for site, device, detector, reason, w_start, w_end, run_at in conn.execute(
        CURRENT_SQL, {"site": site_id}
    ).fetchall():
        entry = out.setdefault(
            site, {"site_id": site, "window_start": w_start, "window_end": w_end, "run_at": run_at, "not_evaluated": []}
        )
        if detector is not None:
            entry["not_evaluated"].append({"device_id": device, "detector": detector, "reason": reason})
    return list(out.values())


def status_coverage(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """For ``heliosgrid status``: every (site, device, detector) the newest run of its site could
    not evaluate, with the reason and the run's window end (ISO strings); ``[]`` before migration
    0120 or before the first maintenance run."""
    row = conn.execute("SELECT to_regclass('maintenance_runs') IS NOT NULL").fetchone()
    if not (row and row[0]):
        return []
    return [
        {"site_id": e["site_id"], "device_id": n["device_id"], "detector": n["detector"], "reason": n["reason"],
         "window_end": e["window_end"].isoformat(), "run_at": e["run_at"].isoformat()}
        for e in current_coverage(conn)
        for n in e["not_evaluated"]
    ]
