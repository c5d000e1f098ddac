"""The consumer's rollup refresher against a real database: its own thread and connection, the short
interval when caught up, the long one while a backlog drains (plain PostgreSQL); the newest site
buckets materialised within seconds (TimescaleDB, ADR 0290)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from ingest_helpers import wait_for

from consumer.rollup_refresher import RollupRefresher
from heliosgrid.db.serving import refresh_serving_tail
from heliosgrid.db.writer import write_rows
from heliosgrid.ingest.synthetic import fleet_ids, register_devices

pytestmark = pytest.mark.integration


def _write(db: str, devices: list[tuple[str, str]], minute: int) -> None:
    ts = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2) + timedelta(minutes=minute)
    rows = [(d, ts, s, 500.0, 520.0, 20.0, 33.0, 50.0, 48.0, "ok", minute) for d, s in devices]
    with psycopg.connect(db, autocommit=True) as conn, conn.transaction():
        write_rows(conn, rows)


def _dirty(db: str) -> int:
    with psycopg.connect(db, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM rollup_invalidations").fetchone()
    return int(row[0]) if row else -1


def test_refreshes_after_writes_in_its_own_thread_and_waits_while_behind(pg_db: str) -> None:
    devices = fleet_ids(f"rr{uuid.uuid4().hex[:5]}", 1, 3)
    with psycopg.connect(pg_db, autocommit=True) as conn:
        register_devices(conn, devices)
    refresher = RollupRefresher(pg_db, interval_s=0.5, backlog_interval_s=3600)
    refresher.start()
    try:
        _write(pg_db, devices, 0)
        assert refresher.maybe_run() is False  # never refreshes in the caller's thread
        wait_for(lambda: _dirty(pg_db) == 0, 30, "the refresher to clear the invalidation log")
        assert refresher.refreshes >= 1
        done = refresher.refreshes

        refresher.behind = True  # draining a backlog: the long interval applies
        _write(pg_db, devices, 20)
        refresher.maybe_run()
        time.sleep(2.0)
        assert _dirty(pg_db) > 0 and refresher.refreshes == done

        refresher.behind = False  # caught up: refreshed within the short interval
        wait_for(lambda: _dirty(pg_db) == 0, 30, "the caught-up refresher to refresh")
        with psycopg.connect(pg_db, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM readings_15m WHERE device_id = ANY(%s)",
                               ([d for d, _ in devices],)).fetchone()
        assert row is not None and row[0] == 2 * len(devices)
    finally:
        refresher.stop()


def test_stop_ends_the_thread_without_waiting_for_the_interval(pg_db: str) -> None:
    refresher = RollupRefresher(pg_db, interval_s=3600)
    refresher.start()
    refresher.maybe_run()
    t0 = time.monotonic()
    refresher.stop()
    assert time.monotonic() - t0 < 5
    assert refresher._thread is not None and not refresher._thread.is_alive()


def test_the_first_refresh_is_one_interval_after_start_and_waits_for_the_writer(pg_db: str) -> None:
    devices = fleet_ids(f"rw{uuid.uuid4().hex[:5]}", 1, 3)
    with psycopg.connect(pg_db, autocommit=True) as conn:
        register_devices(conn, devices)
    writing = [True]
    refresher = RollupRefresher(pg_db, interval_s=1.5, writing=lambda: writing[0])
    refresher.start()
    try:
        _write(pg_db, devices, 0)
        refresher.maybe_run()
        time.sleep(1.0)  # not yet one interval since start
        assert refresher.refreshes == 0
        time.sleep(1.0)  # due, but the writer is busy: the refresh yields to it
        assert refresher.refreshes == 0 and _dirty(pg_db) > 0
        writing[0] = False  # its batches are stored: refreshed at once
        wait_for(lambda: refresher.refreshes == 1, 5, "the refresh after the writer went idle")
        assert _dirty(pg_db) == 0

        writing[0] = True  # a writer that never idles delays a due refresh by one interval at most
        _write(pg_db, devices, 20)
        refresher.maybe_run()
        t0 = time.monotonic()
        wait_for(lambda: refresher.refreshes == 2, 10, "the refresh despite a busy writer")
        assert time.monotonic() - t0 <= 1.5 + 1.5 + 1.0
    finally:
        refresher.stop()


def _site_power(db: str, site: str, bucket: datetime) -> float | None:
    with psycopg.connect(db, autocommit=True) as conn:
        row = conn.execute("SELECT ac_power_kw FROM bi.site_power_15m WHERE site_id = %s AND bucket = %s",
                           (site, bucket)).fetchone()
    return None if row is None else float(row[0])


def test_on_timescaledb_it_materialises_the_newest_site_buckets(timescale_db: str, request: pytest.FixtureRequest) -> None:
    """ADR 0290: site_rollup_15m serves materialised rows only on TimescaleDB; the refresher puts the
    current (partial) bucket there within seconds, and later rows of the same bucket too (neither
    its policy, end of data every 5 min, nor the device policy, 15 min behind, would within the test)."""
    if not request.getfixturevalue("timescale_server").native:
        pytest.skip("the refresher holds its own connection beside the test's: PGlite serves one at a time")
    devices = fleet_ids(f"rt{uuid.uuid4().hex[:5]}", 1, 2)
    site = devices[0][1]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    bucket = now - timedelta(minutes=now.minute % 15)
    with psycopg.connect(timescale_db, autocommit=True) as conn:
        register_devices(conn, devices)
    refresher = RollupRefresher(timescale_db, interval_s=0.5, backlog_interval_s=3600)
    refresher.start()
    try:
        with psycopg.connect(timescale_db, autocommit=True) as conn, conn.transaction():
            write_rows(conn, [(d, bucket, s, 500.0, 520.0, 20.0, 33.0, 50.0, 48.0, "ok", 1) for d, s in devices])
        refresher.maybe_run()
        wait_for(lambda: _site_power(timescale_db, site, bucket) == pytest.approx(96.0), 30,
                 "the refresher to materialise the current site bucket")
        with psycopg.connect(timescale_db, autocommit=True) as conn, conn.transaction():
            write_rows(conn, [(d, bucket + timedelta(minutes=1), s, 500.0, 520.0, 20.0, 33.0, 50.0, 24.0, "ok", 2)
                              for d, s in devices])
        refresher.maybe_run()
        wait_for(lambda: _site_power(timescale_db, site, bucket) == pytest.approx(72.0), 30,
                 "the refresher to recompute the already materialised bucket")
        assert refresher.refreshes >= 2
    finally:
        refresher.stop()
        with psycopg.connect(timescale_db, autocommit=True) as conn:
            conn.execute("DELETE FROM readings WHERE site_id = %s", (site,))
            refresh_serving_tail(conn, now)  # the site and fleet buckets without the test's rows
            conn.execute("DELETE FROM devices WHERE site_id = %s", (site,))
            conn.execute("DELETE FROM sites WHERE site_id = %s", (site,))
