"""Policies executed by TimescaleDB's own job scheduler (native server only).

Each test has its own database. A job is made due with ``alter_job(next_start => now())`` and
the test waits, bounded, on ``timescaledb_information.job_stats`` for the scheduler to finish
it: compression, continuous-aggregate refresh and retention (which must leave the rollups'
history intact), the DBA commands on the real jobs, and a job that really fails — its pipeline
alert, ``heliosgrid status`` and ``heliosgrid db jobs`` — then recovers.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from heliosgrid.db.connection import open_connection
from heliosgrid.db.retention import set_policy, show_policies
from heliosgrid.db.rollups import refresh_rollups
from heliosgrid.orchestration.housekeeping import JOB_FAILED, run_housekeeping
from heliosgrid.settings import get_settings, load_settings
from tests.helpers import free_port

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)
JOB_WAIT_S = 60.0


def run_by_scheduler(conn: psycopg.Connection, *job_ids: int, timeout_s: float = JOB_WAIT_S) -> str:
    """Make the jobs due now and wait until the scheduler has finished a new run of each.

    Returns the last run status, joined with ``,`` for several jobs (the scheduler needs a few
    seconds to pick up a changed ``next_start``, so jobs that may run together are waited together).
    """
    finished = ("SELECT job_id, total_successes + total_failures, last_run_status "
                "FROM timescaledb_information.job_stats WHERE job_id = ANY(%s)")
    ids = list(job_ids)
    done = {int(r[0]): int(r[1] or 0) for r in conn.execute(finished, (ids,)).fetchall()}
    for job_id in ids:
        conn.execute("SELECT alter_job(%s, next_start => now())", (job_id,))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = {int(r[0]): r for r in conn.execute(finished, (ids,)).fetchall()}
        if all(j in rows and rows[j][1] > done.get(j, 0) and rows[j][2] is not None for j in ids):
            return ",".join(str(rows[j][2]) for j in ids)
        time.sleep(0.2)
    raise TimeoutError(f"the scheduler did not run jobs {ids} within {timeout_s}s")


def _job(conn: psycopg.Connection, proc: str, relation: str) -> int:
    row = conn.execute("SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = %s AND hypertable_name = %s",
                       (proc, relation)).fetchone()
    assert row is not None, f"no {proc} job on {relation}"
    return int(row[0])


def _load(conn: psycopg.Connection, days: int, now: datetime) -> None:
    """Two inverters, one reading per 10 min, from ``days`` days ago to now (server-side)."""
    conn.execute(
        """
        INSERT INTO readings (device_id, ts, site_id, poa_w_m2, ac_power_kw, inverter_status, seq)
        SELECT d, g, 'pj-site', 500.0, 4.0 + (extract(hour FROM g) / 10.0), 'ok', 1
        FROM unnest(ARRAY['pj-inv-1', 'pj-inv-2']) d,
             generate_series(date_trunc('day', %(now)s::timestamptz) - %(days)s * INTERVAL '1 day',
                             %(now)s::timestamptz, INTERVAL '10 minutes') g
        """,
        {"now": now, "days": days},
    )


def _raw_days(conn: psycopg.Connection) -> list[datetime]:
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT date_trunc('day', ts) FROM readings ORDER BY 1").fetchall()]


@pytest.fixture
def ts_native(timescale_fresh_db: Callable[..., str]) -> Iterator[tuple[str, psycopg.Connection]]:
    url = timescale_fresh_db()
    with open_connection(url, autocommit=True) as conn:
        yield url, conn


def test_scheduler_compresses_refreshes_and_drops_while_rollups_keep_history(
    ts_native: tuple[str, psycopg.Connection]
) -> None:
    _url, conn = ts_native
    now = datetime.now(UTC)
    _load(conn, 40, now)
    refresh_rollups(conn, now - 41 * DAY, now)  # history materialised once, as it would be over time
    daily_before = conn.execute("SELECT device_id, bucket, sample_count, energy_kwh FROM readings_1d "
                                "WHERE bucket < %s ORDER BY 1, 2", (now - 25 * DAY,)).fetchall()
    assert len(daily_before) >= 2 * 14

    # compression policy (7 days): every chunk entirely older than 7 days, none of the recent ones
    assert run_by_scheduler(conn, _job(conn, "policy_compression", "readings")) == "Success"
    chunks = conn.execute("SELECT range_end, is_compressed FROM timescaledb_information.chunks "
                          "WHERE hypertable_name = 'readings'").fetchall()
    assert all(compressed == (end <= now - 7 * DAY) for end, compressed in chunks)
    assert sum(compressed for _end, compressed in chunks) >= 32

    # continuous-aggregate refresh by the scheduler: new raw rows inside its 7-day window appear
    # in the materialisation (read with real-time aggregation off)
    conn.execute("INSERT INTO readings (device_id, ts, site_id, ac_power_kw, inverter_status, seq) "
                 "VALUES ('pj-inv-3', date_trunc('hour', now()) - INTERVAL '2 hours', 'pj-site', 3.0, 'ok', 1)")
    conn.execute("ALTER MATERIALIZED VIEW readings_15m SET (timescaledb.materialized_only = true)")
    assert conn.execute("SELECT count(*) FROM readings_15m WHERE device_id = 'pj-inv-3'").fetchone() == (0,)
    assert run_by_scheduler(conn, _job(conn, "policy_refresh_continuous_aggregate", "readings_15m")) == "Success"
    assert conn.execute("SELECT count(*) FROM readings_15m WHERE device_id = 'pj-inv-3'").fetchone() == (1,)
    conn.execute("ALTER MATERIALIZED VIEW readings_15m SET (timescaledb.materialized_only = false)")

    # retention (20 days, changed in place by the DBA API): raw chunks go, rollup history stays,
    # also through the rollups' own refresh jobs afterwards (their windows are shorter)
    set_policy(conn, "readings", drop_after=20 * DAY)
    assert run_by_scheduler(conn, _job(conn, "policy_retention", "readings")) == "Success"
    days = _raw_days(conn)
    assert days[0] >= (now - 21 * DAY).replace(hour=0, minute=0, second=0, microsecond=0)
    assert days[0] <= (now - 20 * DAY)
    refresh_jobs = [_job(conn, "policy_refresh_continuous_aggregate", r) for r in ("readings_15m", "readings_1h",
                                                                                   "readings_1d")]
    assert run_by_scheduler(conn, *refresh_jobs) == "Success,Success,Success"
    daily_after = conn.execute("SELECT device_id, bucket, sample_count, energy_kwh FROM readings_1d "
                               "WHERE bucket < %s ORDER BY 1, 2", (now - 25 * DAY,)).fetchall()
    assert daily_after == daily_before
    oldest_15m = conn.execute("SELECT min(bucket) FROM readings_15m").fetchone()
    assert oldest_15m is not None and oldest_15m[0] < now - 39 * DAY


def test_retention_cli_changes_and_runs_the_real_jobs(
    ts_native: tuple[str, psycopg.Connection], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from heliosgrid.cli import main

    url, conn = ts_native
    now = datetime.now(UTC)
    _load(conn, 28, now)
    job_id = _job(conn, "policy_retention", "readings")
    monkeypatch.setenv("HELIOS_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        assert main(["retention", "set", "readings", "--drop-after", "15d", "--compress-after", "3d", "--json"]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert (shown["retention_job_id"], shown["in_sync"]) == (job_id, True)  # altered, not replaced
        config = conn.execute("SELECT config FROM timescaledb_information.jobs WHERE job_id = %s", (job_id,)).fetchone()
        assert config is not None and config[0]["drop_after"] == "15 days"
        assert main(["retention", "apply", "--json"]) == 0
        dropped = json.loads(capsys.readouterr().out)
        assert {d["relation"] for d in dropped} == {"readings"}
        assert 12 <= len(dropped) <= 14  # day chunks entirely older than 15 days of a 29-day load
        assert _raw_days(conn)[0] >= (now - 16 * DAY).replace(hour=0, minute=0, second=0, microsecond=0)
        assert main(["retention", "apply", "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == []
        assert main(["retention", "show"]) == 0
        table = capsys.readouterr().out
        assert f"retention job {job_id}" in table and "OUT OF SYNC" not in table
    finally:
        get_settings.cache_clear()
    assert {p.relation: p.job_compress_after for p in show_policies(conn)}["readings"] == 3 * DAY


def test_a_really_failing_job_raises_the_pipeline_alert_and_shows_in_status(
    ts_native: tuple[str, psycopg.Connection], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    """The retention job meets a table another session holds locked, with ``lock_timeout`` set for
    the database: the scheduler's run fails for real (``job_errors`` has PostgreSQL's message)."""
    url, conn = ts_native
    dbname = conn.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
    job_id = _job(conn, "policy_retention", "readings")
    conn.execute(f'ALTER DATABASE "{dbname}" SET lock_timeout = \'300ms\'')
    with psycopg.connect(url) as locker:
        locker.execute("LOCK TABLE readings IN ACCESS EXCLUSIVE MODE")
        assert run_by_scheduler(conn, job_id) == "Failed"
        locker.rollback()
    conn.execute(f'ALTER DATABASE "{dbname}" RESET lock_timeout')
    error = conn.execute("SELECT err_message FROM timescaledb_information.job_errors WHERE job_id = %s "
                         "ORDER BY finish_time DESC LIMIT 1", (job_id,)).fetchone()
    assert error is not None and "lock timeout" in error[0]

    summary = run_housekeeping(conn, datetime.now(UTC))
    assert summary["failed_jobs"] == [job_id]
    alert = conn.execute("SELECT source, fault_type, state, title FROM alerts WHERE device_id = %s",
                         (f"job:{job_id}",)).fetchall()
    assert [a[:3] for a in alert] == [("pipeline", JOB_FAILED, "open")]
    assert f"policy_retention job {job_id} on readings failed" in alert[0][3]

    report = _status(url, tmp_path)
    assert [j["job_id"] for j in report["database"]["policy_jobs"]["failed"]] == [job_id]
    assert any(f"policy_retention job {job_id} on readings failed" in p for p in report["problems"])
    from heliosgrid.cli.status import render_text

    assert f"last run failed: {job_id} (policy_retention on readings)" in render_text(report)
    monkeypatch.setenv("HELIOS_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        from heliosgrid.cli import main

        assert main(["db", "jobs"]) == 1
        assert "last: Failed" in capsys.readouterr().out
    finally:
        get_settings.cache_clear()

    # the cause is gone: the next scheduled run succeeds and housekeeping resolves the alert
    assert run_by_scheduler(conn, job_id) == "Success"
    healed = run_housekeeping(conn, datetime.now(UTC))
    assert healed["failed_jobs"] == [] and healed["alerts_resolved"] == 1
    assert _status(url, tmp_path)["database"]["policy_jobs"]["failed"] == []


def _status(url: str, tmp_path: Path) -> dict[str, Any]:
    from heliosgrid.status import collect_status

    settings = load_settings(database_url=url, data_dir=tmp_path / f"run-{uuid.uuid4().hex[:6]}")
    return collect_status(settings, bootstrap=f"127.0.0.1:{free_port()}", check_health=False).as_dict()
