"""Migration 0045: the SSE stream's readings query is served by the BRIN index on ingested_at.

With one day partition/chunk of 1-s readings (30 devices × 5000 s = 150 000 rows), summarised by
VACUUM as autovacuum's autosummarize would, the planner itself picks the index for the stream's
exact SQL (no planner settings changed) and the stream still returns exactly the newer rows.
The same on TimescaleDB (PGlite, the session's shared database: own site id, rows deleted after).
Both tests fail without the index (no Bitmap Index Scan on it in the plan).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from heliosgrid.api.routers.stream import _END_OF_TIME, _READINGS_SQL, _READINGS_START, MAX_BATCH, MAX_READING_AGE
from heliosgrid.db.connection import open_connection

pytestmark = pytest.mark.integration

_BRIN_INDEXES = """
SELECT c.relname, c.reloptions FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am am ON am.oid = c.relam
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE am.amname = 'brin' AND a.attname = 'ingested_at'
  AND i.indrelid = ANY(%s::regclass[])
"""


def _relations(conn: psycopg.Connection, backend: str) -> list[str]:
    """``readings`` and all its partitions (PostgreSQL) or chunks (TimescaleDB)."""
    if backend == "postgres":
        rows = conn.execute("SELECT relid::regclass::text FROM pg_partition_tree('readings')").fetchall()
    else:
        rows = conn.execute("SELECT 'readings' UNION ALL SELECT show_chunks('readings')::text").fetchall()
    return [r[0] for r in rows]


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def _explain_stream(conn: psycopg.Connection, since: datetime) -> list[dict[str, Any]]:
    params = {"since": since, **_READINGS_START, "until": _END_OF_TIME, "site_id": None, "limit": MAX_BATCH,
              "max_age": MAX_READING_AGE}
    row = conn.execute("EXPLAIN (FORMAT JSON) " + _READINGS_SQL, params).fetchone()
    assert row is not None
    return list(_plan_nodes(row[0][0]["Plan"]))


def _insert_and_check(conn: psycopg.Connection, backend: str, site_id: str) -> None:
    """Insert 1-s readings ingested on time, then check index presence, the plan and the result."""
    # ingested_at = ts: rows are appended in ingestion order, as the consumer writes them.
    conn.execute(
        """INSERT INTO readings (device_id, site_id, ts, ac_power_kw, seq, ingested_at)
           SELECT %(site)s || '-' || (i %% 30), %(site)s, t, 1.0, i, t
           FROM generate_series(0, 149999) i,
                LATERAL (SELECT date_trunc('second', now()) - interval '5000 seconds' + (i / 30) * interval '1 second') x(t)""",
        {"site": site_id},
    )
    conn.execute("VACUUM ANALYZE readings")  # summarises the BRIN ranges, as autosummarize does
    relations = _relations(conn, backend)
    indexes = dict(conn.execute(_BRIN_INDEXES, (relations,)).fetchall())
    assert "readings_ingested_at_brin" in indexes
    assert len(indexes) == len(relations), f"every partition/chunk needs the BRIN index: {indexes} vs {relations}"
    assert all(opts == ["autosummarize=on"] for opts in indexes.values()), indexes

    newest, newest_part = conn.execute(
        "SELECT ingested_at, tableoid::regclass::text FROM readings WHERE site_id = %s ORDER BY ingested_at DESC LIMIT 1",
        (site_id,),
    ).fetchone()  # type: ignore[misc]
    since = newest - timedelta(seconds=20)  # 20 s behind the newest row → 21 × 30 rows (inclusive)
    nodes = _explain_stream(conn, since)
    used = {n.get("Index Name") for n in nodes if n["Node Type"] == "Bitmap Index Scan"}
    assert used and used <= set(indexes), f"stream query did not use the BRIN index: {[n['Node Type'] for n in nodes]}"
    scans = [n["Node Type"] for n in nodes if n.get("Relation Name") == newest_part.rsplit(".", 1)[-1]]
    assert scans == ["Bitmap Heap Scan"], f"newest partition/chunk {newest_part} scanned by {scans}"

    params = {"since": since, **_READINGS_START, "until": _END_OF_TIME, "site_id": site_id, "limit": MAX_BATCH,
              "max_age": MAX_READING_AGE}
    rows = conn.execute(_READINGS_SQL, params).fetchall()
    assert len(rows) == 21 * 30  # the first keyset page starts at `since` itself (inclusive)
    assert all(r[11] >= since for r in rows)


def test_postgres_stream_query_uses_the_brin_index(fresh_db: Callable[..., str]) -> None:
    with open_connection(fresh_db(), autocommit=True) as conn:
        conn.execute("SELECT helios_ensure_partitions('readings', now() - interval '2 days', now())")
        _insert_and_check(conn, "postgres", "brin-site")


def test_timescaledb_stream_query_uses_the_brin_index(timescale_db: str) -> None:
    site_id = f"brin-{uuid.uuid4().hex[:8]}"
    with open_connection(timescale_db, autocommit=True) as conn:
        conn.execute("SET client_min_messages = warning")
        try:
            _insert_and_check(conn, "timescaledb", site_id)
        finally:
            conn.execute("DELETE FROM readings WHERE site_id = %s", (site_id,))
