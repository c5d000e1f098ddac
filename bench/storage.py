"""Storage benchmark: incremental rollup refresh vs. a full rebuild (plain-PostgreSQL backend).

One run, on a fresh database of the local PostgreSQL (``HELIOS_TEST_PG_URL`` or
127.0.0.1:5432), dropped at the end:

* ``full_refresh_s`` — the baseline: the first :func:`heliosgrid.db.rollups.refresh_rollups`
  after loading ``devices`` × ``days`` of 1-minute readings, which recomputes every 15-min,
  hourly and daily bucket (what a non-incremental refresh would always do).
* ``late_refresh_s`` — the refresh after late/corrected rows arrive in ``late_buckets`` 15-min
  buckets (re-upserted with new values); ``late_ratio`` = late / full (lower is better).
* ``noop_refresh_s`` — a refresh with nothing to do; ``noop_ratio`` = no-op / full.
* ``ensure_partitions_call_ms`` — one :func:`ensure_partitions` call when the partitions exist
  (the per-batch cost for writers), against ``select1_call_ms`` (a ``SELECT 1`` round trip).
* ``retention_apply_s`` — :func:`apply_retention` dropping the expired day partitions.

The check that the incremental result equals the full rebuild is done by the tests
(tests/integration/db/test_rollup_parity_and_retention.py); here only the speed is measured.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from heliosgrid.db.connection import open_connection, with_database
from heliosgrid.db.migrate import migrate
from heliosgrid.db.retention import seed_policies, set_policy
from heliosgrid.db.rollups import apply_retention, ensure_partitions, refresh_rollups
from heliosgrid.settings import load_settings

SERVER_URL = os.environ.get("HELIOS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _load(conn: psycopg.Connection, devices: int, start: datetime, end: datetime) -> int:
    ensure_partitions(conn, "readings", start, end)
    row = conn.execute(
        """
        WITH ins AS (
            INSERT INTO readings (device_id, ts, site_id, poa_w_m2, module_temp_c, dc_power_kw, ac_power_kw,
                                  inverter_status, seq)
            SELECT 'bench-inv-' || d, ts, 'bench-site',
                   greatest(0, 1000 * sin(pi() * (extract(hour FROM ts) - 6) / 12)),
                   20 + random() * 10, 40 * random(), 38 * random(), 'ok',
                   extract(epoch FROM ts)::bigint
            FROM generate_series(1, %s) AS d,
                 generate_series(%s::timestamptz, %s::timestamptz - INTERVAL '1 minute', INTERVAL '1 minute') AS ts
            RETURNING 1)
        SELECT count(*) FROM ins
        """,
        (devices, start, end),
    ).fetchone()
    return int(row[0]) if row else 0


def _timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def run(devices: int = 10, days: int = 7, late_buckets: int = 20, calls: int = 200) -> dict[str, Any]:
    name = f"helios_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(SERVER_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with open_connection(with_database(SERVER_URL, name), autocommit=True) as conn:
            migrate(conn, requested_backend="postgres")
            seed_policies(conn, load_settings())
            end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            start = end - timedelta(days=days)
            rows = _load(conn, devices, start, end)

            full_s, full = _timed(refresh_rollups, conn)
            # late data: re-upsert every sample of `late_buckets` 15-min buckets of device 1
            buckets = [start + timedelta(hours=6, minutes=15 * i) for i in range(late_buckets)]
            for bucket in buckets:
                conn.execute(
                    "UPDATE readings SET ac_power_kw = ac_power_kw * 0.9 "
                    "WHERE device_id = 'bench-inv-1' AND ts >= %s AND ts < %s",
                    (bucket, bucket + timedelta(minutes=15)),
                )
            late_s, late = _timed(refresh_rollups, conn)
            noop_s, noop = _timed(refresh_rollups, conn)

            started = time.perf_counter()
            for _ in range(calls):
                ensure_partitions(conn, "readings", end - timedelta(hours=1), end - timedelta(minutes=1))
            ensure_ms = (time.perf_counter() - started) / calls * 1000
            started = time.perf_counter()
            for _ in range(calls):
                conn.execute("SELECT 1").fetchone()
            select1_ms = (time.perf_counter() - started) / calls * 1000

            # 8 days measured from 3 days after the data ends: the oldest (days - 5) days expire
            set_policy(conn, "readings", drop_after=timedelta(days=8))
            retention_s, dropped = _timed(apply_retention, conn, end + timedelta(days=3))
    finally:
        with psycopg.connect(SERVER_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return {
        "backend": "postgres",
        "devices": devices,
        "days": days,
        "raw_rows": rows,
        "full_refresh_s": round(full_s, 4),
        "full_buckets_recomputed": full.buckets_recomputed,
        "late_refresh_s": round(late_s, 4),
        "late_buckets_recomputed": late.buckets_recomputed,
        "late_ratio": round(late_s / full_s, 5),
        "noop_refresh_s": round(noop_s, 5),
        "noop_buckets_recomputed": noop.buckets_recomputed,
        "noop_ratio": round(noop_s / full_s, 5),
        "ensure_partitions_call_ms": round(ensure_ms, 4),
        "select1_call_ms": round(select1_ms, 4),
        "ensure_partitions_ratio": round(ensure_ms / select1_ms, 3),
        "retention_apply_s": round(retention_s, 4),
        "retention_partitions_dropped": len(dropped),
    }
