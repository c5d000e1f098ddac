"""What only a native TimescaleDB can show: COPY into the hypertable, several writers at once,
compression of old chunks while writes go on, upserts into compressed chunks, and real-time
aggregates next to the scheduler's own refreshes. Each test gets its own database
(``timescale_fresh_db``); skipped on the PGlite fallback."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from heliosgrid.db.connection import open_connection
from heliosgrid.db.rollups import refresh_rollups
from heliosgrid.db.writer import READING_COLUMNS, ReadingRow, choose_write_method, write_reading_rows
from heliosgrid.ingest.synthetic import fleet_ids, register_devices

pytestmark = pytest.mark.integration

MINUTE = timedelta(minutes=1)


def _rows(devices: list[tuple[str, str]], start: datetime, minutes: int, seq: int = 1,
          ac_kw: float = 5.0) -> list[ReadingRow]:
    out: list[ReadingRow] = []
    for device, site in devices:
        for i in range(minutes):
            ts = start + i * MINUTE
            out.append((device, ts, site, None, 600.0 + i % 7, None, 35.0, ac_kw * 1.04, ac_kw, "ok", seq))
    return out


def _devices(conn: psycopg.Connection, n: int = 2) -> list[tuple[str, str]]:
    devices = fleet_ids(f"nt{uuid.uuid4().hex[:6]}", 1, n)
    with conn.transaction():
        register_devices(conn, devices)
    return devices


def _chunk_state(conn: psycopg.Connection) -> list[tuple[datetime, datetime, bool]]:
    return conn.execute(
        "SELECT range_start, range_end, is_compressed FROM timescaledb_information.chunks "
        "WHERE hypertable_name = 'readings' ORDER BY range_start"
    ).fetchall()


def test_copy_streams_into_the_hypertable_and_creates_day_chunks(timescale_fresh_db: Callable[..., str]) -> None:
    with open_connection(timescale_fresh_db(), autocommit=True) as conn:
        devices = _devices(conn)
        start = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
        rows = _rows(devices, start, 4 * 60)  # 22:00 → 02:00: crosses into the next day chunk
        with conn.cursor() as cur, cur.copy(f"COPY readings ({', '.join(READING_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (len(rows),)
        assert [c[0] for c in _chunk_state(conn)] == [datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)]
        # the production writer chooses COPY here and upserts through it (idempotent, newer seq wins)
        assert choose_write_method(conn) == "copy"
        newer = _rows(devices[:1], start, 30, seq=2, ac_kw=7.0)
        with conn.transaction():
            result = write_reading_rows(conn, newer + rows[:10])
        assert (result.method, result.rows_upserted) == ("copy", 30)
        assert conn.execute("SELECT count(*), sum(ac_power_kw) FILTER (WHERE seq = 2) FROM readings").fetchone() == (
            len(rows), pytest.approx(30 * 7.0))


def test_several_writers_at_once_lose_nothing(timescale_fresh_db: Callable[..., str]) -> None:
    """Four connections COPY-upsert at the same time into the same new chunks, with an overlap
    every writer sends (as re-deliveries during a rebalance would): every key lands once.

    Writer 0 also owns the overlapping device, so its batches lock those keys in a different
    order than the others: PostgreSQL may then abort one transaction with ``deadlock detected``,
    which the consumer treats like any database error (roll back, retry the batch). The writers
    here do the same; nothing may be lost or doubled, and no other error may occur.
    """
    url = timescale_fresh_db()
    with open_connection(url, autocommit=True) as conn:
        devices = _devices(conn, 8)
    start = datetime(2026, 4, 10, 23, 30, tzinfo=UTC)
    shared = _rows(devices[:1], start, 60)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def write_with_retry(wconn: psycopg.Connection, batch: list[ReadingRow]) -> None:
        for _attempt in range(10):
            try:
                with wconn.transaction():
                    write_reading_rows(wconn, batch)
                return
            except psycopg.errors.DeadlockDetected:
                continue
        raise AssertionError("a batch deadlocked 10 times in a row")

    def writer(mine: list[tuple[str, str]]) -> None:
        try:
            with open_connection(url) as wconn:
                barrier.wait(timeout=30)
                for part in range(4):  # four transactions each, chunk creation races included
                    write_with_retry(wconn, _rows(mine, start + part * 30 * MINUTE, 30) + shared)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(devices[i * 2:(i + 1) * 2],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with open_connection(url, autocommit=True) as conn:
        expected_keys = len(devices) * 120  # the shared rows are keys of devices[0], already counted
        assert conn.execute("SELECT count(*), count(DISTINCT (device_id, ts)) FROM readings").fetchone() == (
            expected_keys, expected_keys)
        assert len(_chunk_state(conn)) == 2


def test_compression_of_old_chunks_while_writes_go_on_and_upserts_into_them(
    timescale_fresh_db: Callable[..., str]
) -> None:
    url = timescale_fresh_db()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    old_day = (now - timedelta(days=12)).replace(hour=10, minute=0)
    with open_connection(url, autocommit=True) as conn:
        devices = _devices(conn, 2)
        with conn.transaction():
            write_reading_rows(conn, _rows(devices, old_day, 120))
            write_reading_rows(conn, _rows(devices, now - timedelta(hours=3), 60))
    stop = threading.Event()
    commits: list[int] = [0]
    errors: list[BaseException] = []

    def live_writer() -> None:  # the current chunk keeps receiving rows during compression
        try:
            with open_connection(url) as wconn:
                while not stop.is_set() and commits[0] < 2000:
                    with wconn.transaction():
                        write_reading_rows(wconn, _rows(devices, now - timedelta(hours=2) + commits[0] * MINUTE, 1))
                    commits[0] += 1
        except BaseException as exc:
            errors.append(exc)

    def wait_commits(n: int) -> None:
        deadline = time.monotonic() + 60
        while commits[0] < n and not errors and time.monotonic() < deadline:
            time.sleep(0.05)

    thread = threading.Thread(target=live_writer)
    thread.start()
    try:
        wait_commits(3)  # the writer is going before compression starts ...
        with open_connection(url, autocommit=True) as conn:
            job = conn.execute("SELECT job_id FROM timescaledb_information.jobs "
                               "WHERE proc_name = 'policy_compression'").fetchone()
            assert job is not None
            conn.execute("CALL run_job(%s)", (job[0],))  # the compression policy itself, now
        after_compression = commits[0]
        wait_commits(after_compression + 3)  # ... and goes on after it
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors
    assert commits[0] >= after_compression + 3 > 3
    with open_connection(url, autocommit=True) as conn:
        state = _chunk_state(conn)
        assert {start: compressed for start, _end, compressed in state}[old_day.replace(hour=0)] is True
        assert all(not compressed for _start, end, compressed in state if end > now - timedelta(days=7))
        stats = conn.execute("SELECT before_compression_total_bytes, after_compression_total_bytes "
                             "FROM hypertable_compression_stats('readings')").fetchone()
        assert stats is not None and stats[1] < stats[0]
        # upsert into the compressed chunk: newer seq replaces values, duplicates stay single
        with conn.transaction():
            result = write_reading_rows(conn, _rows(devices[:1], old_day, 30, seq=5, ac_kw=9.0))
        assert result.rows_upserted == 30
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE seq = 5), sum(ac_power_kw) FILTER (WHERE seq = 5) "
            "FROM readings WHERE ts >= %s AND ts < %s", (old_day, old_day + timedelta(hours=2))).fetchone()
        assert row == (240, 30, pytest.approx(270.0))


def test_real_time_aggregates_match_the_materialised_result(timescale_fresh_db: Callable[..., str]) -> None:
    """Rows newer than the watermark show in all rollups before any refresh; after the refresh
    the materialised rows are identical to what real-time aggregation showed."""
    url = timescale_fresh_db()
    start = (datetime.now(UTC) - timedelta(days=2)).replace(hour=8, minute=0, second=0, microsecond=0)
    with open_connection(url, autocommit=True) as conn:
        devices = _devices(conn, 2)
        with conn.transaction():
            write_reading_rows(conn, _rows(devices, start, 180))
        query = {rel: f"SELECT device_id, bucket, sample_count, energy_kwh, status_ok_count FROM {rel} "
                      "ORDER BY 1, 2" for rel in ("readings_15m", "readings_1h", "readings_1d")}
        live: dict[str, list[tuple[Any, ...]]] = {rel: conn.execute(q).fetchall() for rel, q in query.items()}
        assert [len(live[r]) for r in query] == [2 * 12, 2 * 3, 2]
        assert live["readings_1h"][0][2:] == (60, pytest.approx(5.0), 60)
        conn.execute("ALTER MATERIALIZED VIEW readings_15m SET (timescaledb.materialized_only = true)")
        assert conn.execute("SELECT count(*) FROM readings_15m").fetchone() == (0,)  # nothing materialised yet
        refresh_rollups(conn, start - timedelta(days=1), start + timedelta(days=1))
        assert conn.execute(query["readings_15m"]).fetchall() == live["readings_15m"]
        conn.execute("ALTER MATERIALIZED VIEW readings_15m SET (timescaledb.materialized_only = false)")
        assert {rel: conn.execute(q).fetchall() for rel, q in query.items()} == live
