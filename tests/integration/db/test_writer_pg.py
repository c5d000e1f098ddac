"""Batch writer against real databases: plain PostgreSQL (COPY and unnest paths) and
PGlite+TimescaleDB (unnest path, chosen automatically)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from heliosgrid.db.connection import open_connection
from heliosgrid.db.migrate import migrate
from heliosgrid.db.writer import (
    QuarantineRow,
    choose_write_method,
    refresh_rollups,
    write_heartbeat,
    write_quarantine,
    write_readings,
)
from heliosgrid.ingest.synthetic import fleet_ids, reading, readings_stream, register_devices

pytestmark = pytest.mark.integration

DAY = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


def _devices(conn: psycopg.Connection[Any], n_sites: int = 1, per_site: int = 2) -> list[tuple[str, str]]:
    devices = fleet_ids(f"w{uuid.uuid4().hex[:6]}", n_sites, per_site)
    with conn.transaction():
        register_devices(conn, devices)
    return devices


def _table(conn: psycopg.Connection[Any], prefix: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT device_id, ts, seq, poa_w_m2, ac_power_kw FROM readings WHERE device_id LIKE %s ORDER BY 1, 2",
        (prefix + "%",),
    ).fetchall()


@pytest.fixture(scope="module")
def pg(pg_db: str) -> Any:
    with open_connection(pg_db, autocommit=True) as conn:
        yield conn


@pytest.mark.parametrize("method", ["copy", "unnest"])
def test_upsert_is_idempotent_and_spans_new_daily_partitions(pg: psycopg.Connection[Any], method: str) -> None:
    devices = _devices(pg)
    prefix = devices[0][1]
    # 3 days, two of them late (partitions do not exist yet)
    batch = [*readings_stream(devices, DAY - timedelta(days=2), 3, interval_s=86400.0)]
    with pg.transaction():
        first = write_readings(pg, batch, method=method)  # type: ignore[arg-type]
    assert (first.rows_received, first.duplicates_in_batch, first.rows_upserted, first.method) == (6, 0, 6, method)
    before = _table(pg, prefix)
    assert len(before) == 6
    with pg.transaction():
        again = write_readings(pg, batch, method=method)  # type: ignore[arg-type]
    assert again.rows_upserted == 0  # identical re-delivery changes nothing
    assert _table(pg, prefix) == before
    parts = pg.execute(
        "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'readings'::regclass AND c.relname IN ('readings_p20260530', 'readings_p20260531', "
        "'readings_p20260601')"
    ).fetchone()
    assert parts == (3,)


def test_in_batch_duplicates_keep_highest_seq_and_higher_seq_overwrites(pg: psycopg.Connection[Any]) -> None:
    devices = _devices(pg, 1, 1)
    dev, site = devices[0]
    low, high = reading(dev, site, DAY, 5), reading(dev, site, DAY, 9)
    with pg.transaction():
        res = write_readings(pg, [high, low, reading(dev, site, DAY + timedelta(minutes=1), 6)])
    assert (res.duplicates_in_batch, res.rows_unique) == (1, 2)
    assert [r[2] for r in _table(pg, dev)] == [9, 6]
    # an older seq for the same (device, ts) arriving later never overwrites a newer one
    with pg.transaction():
        res = write_readings(pg, [low])
    assert res.rows_upserted == 0
    assert [r[2] for r in _table(pg, dev)] == [9, 6]
    newer = reading(dev, site, DAY, 12)
    with pg.transaction():
        res = write_readings(pg, [newer])
    assert res.rows_upserted == 1
    assert _table(pg, dev)[0][2:4] == (12, newer.poa_w_m2)


def test_rollback_of_the_callers_transaction_leaves_nothing(pg: psycopg.Connection[Any]) -> None:
    devices = _devices(pg, 1, 1)
    with pytest.raises(RuntimeError), pg.transaction():
        write_readings(pg, list(readings_stream(devices, DAY, 5)))
        raise RuntimeError("caller fails after the write")
    assert _table(pg, devices[0][0]) == []


def test_quarantine_ignores_redelivery_and_heartbeat_upserts(pg: psycopg.Connection[Any]) -> None:
    topic = f"t-{uuid.uuid4().hex[:6]}"
    rows = [QuarantineRow(topic, 0, off, "k", b"\x00bad", "malformed_json", "detail") for off in (3, 4)]
    with pg.transaction():
        assert write_quarantine(pg, rows) == 2
        assert write_quarantine(pg, rows) == 0
    got = pg.execute("SELECT source_offset, raw_payload FROM quarantine WHERE source_topic = %s ORDER BY 1",
                     (topic,)).fetchall()
    assert [(o, bytes(p)) for o, p in got] == [(3, b"\x00bad"), (4, b"\x00bad")]
    inst = uuid.uuid4().hex
    with pg.transaction():
        write_heartbeat(pg, "consumer", inst, "ok", {"batches": 1})
    with pg.transaction():
        write_heartbeat(pg, "consumer", inst, "stopping", {"batches": 2})
    assert pg.execute("SELECT status, details->>'batches' FROM heartbeats WHERE instance = %s",
                      (inst,)).fetchall() == [("stopping", "2")]


def test_rollup_refresh_after_write_fills_15_minute_buckets(pg: psycopg.Connection[Any]) -> None:
    devices = _devices(pg, 1, 1)
    with pg.transaction():
        write_readings(pg, list(readings_stream(devices, DAY, 30)))  # 30 one-minute readings = 2 buckets
    assert refresh_rollups(pg) >= 2
    counts = pg.execute(
        "SELECT sample_count FROM readings_15m WHERE device_id = %s ORDER BY bucket", (devices[0][0],)
    ).fetchall()
    assert counts == [(15,), (15,)]


def test_timescaledb_path_is_idempotent_with_copy_on_native(timescale_url: str) -> None:
    """Native TimescaleDB streams COPY into the hypertable; only the PGlite fallback needs unnest."""
    with open_connection(timescale_url, autocommit=True) as conn:
        migrate(conn)
        pglite = bool(conn.execute("SELECT position('Emscripten' IN version()) > 0").fetchone()[0])  # type: ignore[index]
        method = "unnest" if pglite else "copy"
        assert choose_write_method(conn) == method
        devices = _devices(conn)
        batch = list(readings_stream(devices, DAY, 10))
        with conn.transaction():
            res = write_readings(conn, batch + batch[:3])
        assert (res.rows_unique, res.duplicates_in_batch, res.method) == (20, 3, method)
        with conn.transaction():
            assert write_readings(conn, batch).rows_upserted == 0
        assert len(_table(conn, devices[0][1])) == 20
