"""The quality checks and the housekeeping report on the TimescaleDB backend (PGlite+TimescaleDB).

The PGlite server is shared by the session and serves one connection at a time: each test opens
one connection, writes only rows of its own site id and deletes them afterwards.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from heliosgrid.db.connection import open_connection
from heliosgrid.orchestration.housekeeping import run_housekeeping
from heliosgrid.physics.fleet import SiteSpec, demo_fleet
from heliosgrid.quality import CHECK_NAMES, run_quality
from heliosgrid.quality.synthetic import clean_readings, insert_fleet, insert_readings
from heliosgrid.settings import load_settings

pytestmark = pytest.mark.integration

SITE_ID = "dq-ts-site"


def _own_site() -> SiteSpec:
    base = demo_fleet()[0]
    devices = tuple(dataclasses.replace(d, site_id=SITE_ID, device_id=d.device_id.replace(base.site_id, SITE_ID))
                    for d in base.devices)
    return dataclasses.replace(base, site_id=SITE_ID, devices=devices)


@pytest.fixture
def ts_conn(timescale_db: str) -> Iterator[psycopg.Connection]:
    conn = open_connection(timescale_db, autocommit=True)
    try:
        yield conn
    finally:
        for sql in ("DELETE FROM alerts WHERE site_id = %s", "DELETE FROM dq_results WHERE site_id = %s",
                    "DELETE FROM readings WHERE site_id = %s", "DELETE FROM sites WHERE site_id = %s"):
            conn.execute(sql, (SITE_ID,))
        conn.close()


def test_quality_run_on_timescaledb_flags_the_planted_gap(ts_conn: psycopg.Connection) -> None:
    site = _own_site()
    start = datetime(2026, 6, 21, 11, 0, tzinfo=UTC)
    frame = clean_readings(site, start, start + timedelta(minutes=30), seed=9)
    gap = frame.index[frame["device_id"] == f"{SITE_ID}-inv01"][18:26]
    insert_fleet(ts_conn, [site])
    insert_readings(ts_conn, frame.drop(gap))
    report = run_quality(ts_conn, load_settings(), start, start + timedelta(minutes=30), site_ids=[SITE_ID])
    assert {(r.check_name, r.device_id) for r in report.failed} == {("completeness", f"{SITE_ID}-inv01")}
    row = ts_conn.execute("SELECT count(*), count(*) FILTER (WHERE NOT passed) FROM dq_results WHERE site_id = %s",
                          (SITE_ID,)).fetchone()
    assert row == (len(site.devices) * len(CHECK_NAMES) + 1, 1)
    alerts = ts_conn.execute("SELECT fault_type, device_id FROM alerts WHERE site_id = %s AND state = 'open'",
                             (SITE_ID,)).fetchall()
    assert alerts == [("completeness", f"{SITE_ID}-inv01")]


def _pglite(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT position('Emscripten' IN version()) > 0").fetchone()
    return bool(row and row[0])


def test_housekeeping_reports_timescaledb_policy_jobs(ts_conn: psycopg.Connection) -> None:
    as_of = datetime(2026, 6, 21, 12, 20, tzinfo=UTC)
    summary = run_housekeeping(ts_conn, as_of)
    assert summary["backend"] == "timescaledb"
    assert summary["jobs"] >= 4  # retention + continuous-aggregate refresh + compression policies
    assert summary["failed_jobs"] == []
    # PGlite has no background workers: no job has run; native: the scheduler ran every one
    assert len(summary["never_run"]) == (summary["jobs"] if _pglite(ts_conn) else 0)


def test_failed_policy_job_raises_and_resolves_a_pipeline_alert(ts_conn: psycopg.Connection) -> None:
    """PGlite has no background workers, so the job-stat row the TimescaleDB scheduler writes after
    a failed run is planted in its real catalog table; the housekeeping report must alert on it and
    resolve the alert once the job's last run is no longer a failure."""
    if not _pglite(ts_conn):
        pytest.skip("native TimescaleDB: a real failing job is tested in tests/integration/db/test_policy_jobs_native.py")
    row = ts_conn.execute("SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' "
                          "ORDER BY job_id LIMIT 1").fetchone()
    assert row is not None
    job_id = int(row[0])
    device = f"job:{job_id}"
    assert ts_conn.execute("SELECT 1 FROM _timescaledb_internal.bgw_job_stat WHERE job_id = %s", (job_id,)).fetchone() \
        is None, "the shared PGlite already has a run record for this job"
    try:
        ts_conn.execute(
            """INSERT INTO _timescaledb_internal.bgw_job_stat (job_id, last_start, last_finish, next_start,
                   last_successful_finish, last_run_success, total_runs, total_duration, total_duration_failures,
                   total_successes, total_failures, total_crashes, consecutive_failures, consecutive_crashes, flags)
               VALUES (%s, now() - interval '2 min', now() - interval '1 min', now() + interval '1 hour', '-infinity',
                       false, 1, '1 s', '1 s', 0, 1, 0, 1, 0, 0)""", (job_id,))
        failed = run_housekeeping(ts_conn, datetime(2026, 6, 21, 13, 20, tzinfo=UTC))
        assert failed["failed_jobs"] == [job_id]
        assert ts_conn.execute("SELECT source, fault_type, state FROM alerts WHERE site_id = '_pipeline' AND device_id = %s",
                               (device,)).fetchall() == [("pipeline", "timescaledb_job_failed", "open")]
        ts_conn.execute("DELETE FROM _timescaledb_internal.bgw_job_stat WHERE job_id = %s", (job_id,))
        healed = run_housekeeping(ts_conn, datetime(2026, 6, 21, 14, 20, tzinfo=UTC))
        assert healed["failed_jobs"] == [] and healed["alerts_resolved"] == 1
        assert ts_conn.execute("SELECT state, resolved_by FROM alerts WHERE site_id = '_pipeline' AND device_id = %s",
                               (device,)).fetchall() == [("resolved", "auto")]
    finally:
        ts_conn.execute("DELETE FROM _timescaledb_internal.bgw_job_stat WHERE job_id = %s", (job_id,))
        ts_conn.execute("DELETE FROM alerts WHERE site_id = '_pipeline' AND device_id = %s", (device,))
