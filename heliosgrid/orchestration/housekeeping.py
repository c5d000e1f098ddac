"""Housekeeping of the storage layer, per backend (the ``heliosgrid_housekeeping`` DAG).

* **Plain PostgreSQL** — nothing runs in the background, so the DAG does the work:
  :func:`heliosgrid.db.rollups.refresh_rollups` (incremental, from the invalidation log) and
  :func:`heliosgrid.db.rollups.apply_retention` measured back from the data-interval end (so
  a re-run of the same interval drops nothing more).
* **TimescaleDB** — continuous-aggregate refresh, retention and compression are background
  policy jobs; the DAG reads their status (``timescaledb_information.job_stats`` through
  :func:`heliosgrid.db.rollups.policy_job_status`) and raises a ``pipeline`` alert per policy job
  whose last run failed (site ``_pipeline``, device ``job:<id>``, fault type
  ``timescaledb_job_failed``), resolved when its next run succeeds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from heliosgrid.alerts import raise_alert, resolve_absent
from heliosgrid.db.rollups import apply_retention, backend_of, policy_job_status, refresh_rollups
from heliosgrid.orchestration.dagkit import PIPELINE_SITE_ID

JOB_FAILED = "timescaledb_job_failed"


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def run_housekeeping(conn: psycopg.Connection, as_of: datetime) -> dict[str, Any]:
    """Do the backend's housekeeping at ``as_of``; returns a JSON-friendly summary.

    The connection must be idle (no open transaction): the rollup functions switch it to
    autocommit for their calls.
    """
    backend = backend_of(conn)
    if backend == "postgres":
        refreshed = refresh_rollups(conn)
        dropped = apply_retention(conn, as_of)
        return {
            "backend": backend,
            "as_of": as_of.isoformat(),
            "buckets_recomputed": refreshed.buckets_recomputed,
            "refresh_elapsed_s": round(refreshed.elapsed_s, 3),
            "dropped": [{"relation": d.relation, "dropped": d.dropped} for d in dropped],
        }
    jobs = policy_job_status(conn)
    failed = [j for j in jobs if j["failed"]]
    active: set[tuple[str, str, str]] = set()
    with conn.transaction():
        for job in failed:
            device = f"job:{job['job_id']}"
            active.add((PIPELINE_SITE_ID, device, JOB_FAILED))
            raise_alert(
                conn, site_id=PIPELINE_SITE_ID, device_id=device, source="pipeline", fault_type=JOB_FAILED,
                severity="warning",
                title=f"TimescaleDB {job['proc_name']} job {job['job_id']} on {job['relation']} failed",
                started_at=as_of, last_seen_at=as_of,
                evidence={k: _iso(v) for k, v in job.items() if k not in ("config", "schedule_interval")},
                recommended_action="Inspect timescaledb_information.job_errors for this job_id, fix the cause, "
                "then run it with CALL run_job(<job_id>); the alert resolves after a successful run.",
            )
        resolved = resolve_absent(conn, "pipeline", [JOB_FAILED], active, as_of, site_ids=[PIPELINE_SITE_ID])
    return {
        "backend": backend,
        "as_of": as_of.isoformat(),
        "jobs": len(jobs),
        "failed_jobs": [j["job_id"] for j in failed],
        "never_run": [j["job_id"] for j in jobs if j["last_run_status"] is None],
        "alerts_resolved": resolved,
    }
