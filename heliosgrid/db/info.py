"""What ``heliosgrid db info`` reports: backend, migrations, relations and TimescaleDB's scheduler."""

from __future__ import annotations

from typing import Any

import psycopg

from heliosgrid.db.migrate import recorded_backend, timescaledb_support

ROLLUPS = ("readings_15m", "readings_1h", "readings_1d")


def database_info(conn: psycopg.Connection) -> dict[str, Any]:
    """Describe the database: backend, migration count, relations, hypertables and rollups."""
    backend = recorded_backend(conn)
    applied = 0
    if backend is not None:
        row = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
        applied = int(row[0]) if row else 0
    rels = conn.execute(
        """
        SELECT n.nspname, c.relname,
               CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
                              WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' END
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('public', 'bi') AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
          AND c.relname NOT LIKE '\\_%%'
        ORDER BY n.nspname, c.relname
        """
    ).fetchall()
    relations = [{"name": name if schema == "public" else f"{schema}.{name}", "kind": kind} for schema, name, kind in rels]
    hypertables: list[str] = []
    if backend == "timescaledb":
        hypertables = [
            r[0] for r in conn.execute(
                "SELECT hypertable_name FROM timescaledb_information.hypertables ORDER BY 1"
            ).fetchall()
        ]
        caggs = {r[0] for r in conn.execute(
            "SELECT view_name FROM timescaledb_information.continuous_aggregates"
        ).fetchall()}
        for rel in relations:
            if rel["name"] in caggs:
                rel["kind"] = "continuous aggregate"
    names = {r["name"] for r in relations}
    info: dict[str, Any] = {
        "backend": backend or "uninitialised",
        "migrations_applied": applied,
        "relations": relations,
        "hypertables": hypertables,
        "rollups": [r for r in ROLLUPS if r in names],
    }
    info["timescaledb"] = timescaledb_info(conn, backend == "timescaledb")
    return info


def timescaledb_info(conn: psycopg.Connection, jobs: bool) -> dict[str, Any]:
    """TimescaleDB on this server: versions, preload, the job scheduler of this database and its jobs.

    ``scheduler`` is ``running`` when this database's ``TimescaleDB Background Worker
    Scheduler`` process is up, ``not running`` when the extension is loaded but no scheduler
    serves this database (``timescaledb.max_background_workers`` too low, or jobs stopped), and
    ``not preloaded`` when policies can never run by themselves here. With ``jobs`` the policy
    jobs are counted (``jobs_failed`` lists the ids whose last run failed).
    """
    support = timescaledb_support(conn)
    out: dict[str, Any] = {
        "installed_version": support.installed_version,
        "version": support.created_version,
        "preloaded": support.preloaded,
    }
    if not support.preloaded:
        out["scheduler"] = "not preloaded"
    else:
        row = conn.execute(
            """
            SELECT count(*) FILTER (WHERE backend_type = 'TimescaleDB Background Worker Scheduler'
                                      AND datname = current_database()),
                   count(*) FILTER (WHERE backend_type = 'TimescaleDB Background Worker Launcher'),
                   current_setting('timescaledb.max_background_workers', true)
            FROM pg_stat_activity
            """
        ).fetchone()
        schedulers, launchers, max_workers = row if row else (0, 0, None)
        out["scheduler"] = "running" if schedulers else "not running"
        out["launcher"] = "running" if launchers else "not running"
        out["max_background_workers"] = int(max_workers) if max_workers is not None else None
    if jobs and support.created_version is not None:
        from heliosgrid.db.rollups import policy_job_status

        status = policy_job_status(conn)
        out["jobs"] = len(status)
        out["jobs_failed"] = [j["job_id"] for j in status if j["failed"]]
        out["jobs_never_run"] = [j["job_id"] for j in status if j["last_run_status"] is None]
    return out
