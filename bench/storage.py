"""Storage benchmark on both backends: a month of simulated fleet data, rollup refresh cost,
compression ratio and chunk counts (``heliosgrid bench storage``; ``run(backend=...)``).

The data: the demo fleet (3 sites, 12 devices) simulated by :mod:`heliosgrid.quality.synthetic`
(pvlib physics, 1-minute cadence) over the ``days`` days before today 00:00 UTC, loaded with
COPY into a fresh database of each backend:

* ``postgres`` — the local PostgreSQL (``HELIOS_TEST_PG_URL`` or 127.0.0.1:5432);
* ``timescaledb`` — a private native TimescaleDB 2.25.2 (:mod:`heliosgrid.db.timescale_server`),
  reported as skipped when ``../shared/timescaledb`` is missing.

Per backend (every speed figure with its same-run baseline and ratio):

* ``full_refresh_s`` (baseline) — rollups rebuilt over the whole month;
  ``late_refresh_s`` / ``late_ratio`` after ``late_buckets`` 15-min buckets of yesterday were
  re-upserted; ``noop_refresh_s`` / ``noop_ratio`` with nothing to do. On TimescaleDB the late
  and no-op refreshes are the refresh *policies* themselves (``CALL run_job``, each with its
  configured window), i.e. what the scheduler pays every run.
* ``raw_bytes``, ``raw_bytes_per_day``, ``chunks``/``partitions`` — size and layout.
* TimescaleDB only: ``compression`` (the compression policy run over chunks older than 7 days:
  bytes before/after and ``ratio``), ``segmentby_variants`` (one week compressed with other
  segment-by/order-by choices: ratio and a one-device-day query against the same query on
  uncompressed rows) and ``refresh_policy_s`` per rollup.

Jobs are paused while measuring (the scheduler would otherwise refresh and compress at random
moments); the tests check that the scheduler runs them.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import psycopg

from heliosgrid.db.connection import open_connection, with_database
from heliosgrid.db.migrate import migrate
from heliosgrid.db.retention import seed_policies
from heliosgrid.db.rollups import refresh_rollups
from heliosgrid.db.timescale_server import find_pg_timescaledb, start_native_timescale
from heliosgrid.physics.fleet import demo_fleet
from heliosgrid.quality.synthetic import COLUMNS, clean_readings, insert_fleet
from heliosgrid.settings import load_settings

PG_SERVER_URL = os.environ.get("HELIOS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DAY = timedelta(days=1)
VARIANTS: dict[str, tuple[str | None, str]] = {
    "device_id|ts DESC (chosen)": ("device_id", "ts DESC"),
    "site_id|ts DESC": ("site_id", "ts DESC"),
    "none|device_id, ts DESC": (None, "device_id, ts DESC"),
}
"""Compression settings compared on the same week: segment-by | order-by."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def simulate(days: int, end: datetime) -> pd.DataFrame:
    """The demo fleet's readings over [end - days, end) at the contract's 1-minute cadence."""
    frames = [clean_readings(site, end - days * DAY, end, seed=i) for i, site in enumerate(demo_fleet())]
    return pd.concat(frames, ignore_index=True)


def _rows(frame: pd.DataFrame) -> Iterator[tuple[Any, ...]]:
    clean = frame[list(COLUMNS)].astype(object).where(frame[list(COLUMNS)].notna(), None)
    yield from clean.itertuples(index=False, name=None)


def _timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def _copy(conn: psycopg.Connection, table: str, frame: pd.DataFrame) -> int:
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for row in _rows(frame):
            copy.write_row(row)
    return len(frame)


@contextmanager
def _database(server_url: str) -> Iterator[str]:
    name = f"helios_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _prepare(conn: psycopg.Connection, backend: str, frame: pd.DataFrame, start: datetime,
             end: datetime) -> dict[str, Any]:
    migrate(conn, requested_backend=backend)
    seed_policies(conn, load_settings())
    if backend == "timescaledb":  # measured by hand below: no background run in between
        conn.execute("SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs "
                     "WHERE hypertable_name IS NOT NULL")
    else:
        conn.execute("SELECT helios_ensure_partitions('readings', %s, %s)", (start, end - timedelta(minutes=1)))
    insert_fleet(conn, demo_fleet())
    load_s, rows = _timed(_copy, conn, "readings", frame)
    conn.execute("ANALYZE readings")
    return {"raw_rows": rows, "load_s": round(load_s, 3), "load_rows_per_s": round(rows / load_s)}


def _late_rows(conn: psycopg.Connection, end: datetime, buckets: int) -> None:
    """Re-upsert ``buckets`` 15-min buckets of yesterday for one inverter with new values."""
    first = end - DAY + timedelta(hours=8)
    conn.execute(
        "UPDATE readings SET ac_power_kw = ac_power_kw * 0.9, seq = seq + 1 "
        "WHERE device_id = (SELECT min(device_id) FROM readings WHERE ts >= %s AND ts < %s) AND ts >= %s AND ts < %s",
        (first, first + DAY, first, first + buckets * timedelta(minutes=15)),
    )


def _policy_refresh(conn: psycopg.Connection) -> tuple[float, dict[str, float]]:
    """Run each rollup's refresh policy once (its own window), in hierarchy order; seconds."""
    per: dict[str, float] = {}
    for rel in ("readings_15m", "readings_1h", "readings_1d"):
        job = conn.execute("SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = "
                           "'policy_refresh_continuous_aggregate' AND hypertable_name = %s", (rel,)).fetchone()
        assert job is not None
        per[rel] = round(_timed(conn.execute, "CALL run_job(%s)", (job[0],))[0], 4)
    return sum(per.values()), per


def _refresh_figures(conn: psycopg.Connection, backend: str, start: datetime, end: datetime,
                     late_buckets: int) -> dict[str, Any]:
    if backend == "postgres":
        full_s, _ = _timed(refresh_rollups, conn)
        _late_rows(conn, end, late_buckets)
        late_s, _ = _timed(refresh_rollups, conn)
        noop_s, _ = _timed(refresh_rollups, conn)
        extra: dict[str, Any] = {}
    else:
        full_s, _ = _timed(refresh_rollups, conn, start, end)
        _late_rows(conn, end, late_buckets)
        late_s, per_late = _policy_refresh(conn)
        noop_s, per_noop = _policy_refresh(conn)
        extra = {"refresh_policy_late_s": per_late, "refresh_policy_noop_s": per_noop}
    return {"full_refresh_s": round(full_s, 4), "late_refresh_s": round(late_s, 4),
            "late_ratio": round(late_s / full_s, 5), "noop_refresh_s": round(noop_s, 5),
            "noop_ratio": round(noop_s / full_s, 5), **extra}


def _layout(conn: psycopg.Connection, backend: str, days: int) -> dict[str, Any]:
    if backend == "postgres":
        row = conn.execute(
            "SELECT count(*), coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits "
            "WHERE inhparent = 'readings'::regclass").fetchone()
        parts, raw = (int(row[0]), int(row[1])) if row else (0, 0)
        rollups = conn.execute("SELECT count(*) FROM pg_inherits WHERE inhparent::regclass::text LIKE 'readings\\_%%'"
                               ).fetchone()
        return {"partitions": parts, "rollup_partitions": int(rollups[0]) if rollups else 0,
                "raw_bytes": raw, "raw_bytes_per_day": raw // days}
    row = conn.execute("SELECT count(*), hypertable_size('readings') FROM timescaledb_information.chunks "
                       "WHERE hypertable_name = 'readings'").fetchone()
    chunks, raw = (int(row[0]), int(row[1])) if row else (0, 0)
    caggs = conn.execute(
        "SELECT a.view_name, count(c.chunk_name) FROM timescaledb_information.continuous_aggregates a "
        "LEFT JOIN timescaledb_information.chunks c ON c.hypertable_name = a.materialization_hypertable_name "
        "GROUP BY 1 ORDER BY 1").fetchall()
    return {"chunks": chunks, "rollup_chunks": {str(v): int(n) for v, n in caggs},
            "raw_bytes": raw, "raw_bytes_per_day": raw // days}


def _compression(conn: psycopg.Connection) -> dict[str, Any]:
    job = conn.execute("SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression'"
                       ).fetchone()
    assert job is not None
    elapsed, _ = _timed(conn.execute, "CALL run_job(%s)", (job[0],))
    row = conn.execute(
        "SELECT total_chunks, number_compressed_chunks, before_compression_total_bytes, "
        "after_compression_total_bytes FROM hypertable_compression_stats('readings')").fetchone()
    assert row is not None
    total, compressed, before, after = (int(v or 0) for v in row)
    return {"policy_run_s": round(elapsed, 3), "chunks": total, "chunks_compressed": compressed,
            "bytes_before": before, "bytes_after": after, "ratio": round(before / after, 2) if after else None}


def _device_day_query_s(conn: psycopg.Connection, table: str, device: str, day: datetime, repeat: int = 20) -> float:
    sql = f"SELECT count(*), avg(ac_power_kw), max(poa_w_m2) FROM {table} WHERE device_id = %s AND ts >= %s AND ts < %s"
    conn.execute(sql, (device, day, day + DAY)).fetchone()  # warm
    started = time.perf_counter()
    for _ in range(repeat):
        conn.execute(sql, (device, day, day + DAY)).fetchone()
    return (time.perf_counter() - started) / repeat


def _variants(conn: psycopg.Connection, frame: pd.DataFrame, start: datetime) -> dict[str, Any]:
    """The first week compressed with each :data:`VARIANTS` setting; ratio and a one-device-day query."""
    week = frame[frame["ts"] < start + 7 * DAY]
    device, day = str(week["device_id"].iloc[0]), start + DAY
    out: dict[str, Any] = {}
    for i, (label, (segmentby, orderby)) in enumerate(VARIANTS.items()):
        table = f"bench_variant_{i}"
        conn.execute(f"CREATE TABLE {table} (LIKE readings INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        conn.execute(f"SELECT create_hypertable('{table}', by_range('ts', INTERVAL '1 day'))")
        conn.execute(f"CREATE INDEX ON {table} (device_id, ts DESC)")
        _copy(conn, table, week)
        conn.execute(f"ANALYZE {table}")
        row_s = _device_day_query_s(conn, table, device, day)
        options = f"timescaledb.compress, timescaledb.compress_orderby = '{orderby}'"
        options += f", timescaledb.compress_segmentby = '{segmentby or ''}'"
        conn.execute(f"ALTER TABLE {table} SET ({options})")
        conn.execute(f"SELECT compress_chunk(c) FROM show_chunks('{table}') c")
        conn.execute(f"ANALYZE {table}")
        row = conn.execute(f"SELECT before_compression_total_bytes, after_compression_total_bytes "
                           f"FROM hypertable_compression_stats('{table}')").fetchone()
        before, after = (int(row[0]), int(row[1])) if row else (0, 1)
        compressed_s = _device_day_query_s(conn, table, device, day)
        out[label] = {"ratio": round(before / after, 2), "device_day_query_uncompressed_ms": round(row_s * 1000, 3),
                      "device_day_query_compressed_ms": round(compressed_s * 1000, 3),
                      "query_ratio": round(compressed_s / row_s, 3)}
        conn.execute(f"DROP TABLE {table}")
    return out


def _bench_backend(backend: str, server_url: str, frame: pd.DataFrame, start: datetime, end: datetime,
                   days: int, late_buckets: int) -> dict[str, Any]:
    with _database(server_url) as url, open_connection(url, autocommit=True) as conn:
        result: dict[str, Any] = {"server": conn.execute("SELECT current_setting('server_version')").fetchone()[0]}  # type: ignore[index]
        result |= _prepare(conn, backend, frame, start, end)
        result |= _refresh_figures(conn, backend, start, end, late_buckets)
        result |= _layout(conn, backend, days)
        result["raw_bytes_per_device_day"] = result["raw_bytes_per_day"] // int(frame["device_id"].nunique())
        if backend == "timescaledb":
            result["timescaledb"] = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()[0]  # type: ignore[index]
            result["compression"] = _compression(conn)
            result["raw_bytes_after_compression"] = _layout(conn, backend, days)["raw_bytes"]
            result["segmentby_variants"] = _variants(conn, frame, start)
    return result


def run(backend: str = "both", days: int = 30, late_buckets: int = 20) -> dict[str, Any]:
    """Benchmark ``backend`` (``postgres``, ``timescaledb`` or ``both``) on ``days`` days of fleet data."""
    if backend not in ("both", "postgres", "timescaledb"):
        raise ValueError(f"backend must be both, postgres or timescaledb (got {backend!r})")
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - days * DAY
    sim_s, frame = _timed(simulate, days, end)
    out: dict[str, Any] = {"days": days, "devices": int(frame["device_id"].nunique()), "raw_rows": len(frame),
                           "simulate_s": round(sim_s, 2), "late_buckets": late_buckets, "backends": {}}
    if backend in ("both", "postgres"):
        out["backends"]["postgres"] = _bench_backend("postgres", PG_SERVER_URL, frame, start, end, days, late_buckets)
    if backend in ("both", "timescaledb"):
        if find_pg_timescaledb() is None:
            out["backends"]["timescaledb"] = {"skipped": "no native TimescaleDB (../shared/timescaledb missing)"}
        else:
            server = start_native_timescale(_free_port())
            try:
                out["backends"]["timescaledb"] = _bench_backend("timescaledb", server.url, frame, start, end, days,
                                                                late_buckets)
            finally:
                server.stop()
    return out
