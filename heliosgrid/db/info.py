"""What ``heliosgrid db info`` reports: backend, migrations and relations."""

from __future__ import annotations

from typing import Any

import psycopg

from heliosgrid.db.migrate import recorded_backend

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
    return {
        "backend": backend or "uninitialised",
        "migrations_applied": applied,
        "relations": relations,
        "hypertables": hypertables,
        "rollups": [r for r in ROLLUPS if r in names],
    }
