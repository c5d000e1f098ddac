"""Quality runs against real PostgreSQL: planted defects, idempotency, alert lifecycle, freshness, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from heliosgrid.db.connection import open_connection
from heliosgrid.physics.fleet import SiteSpec, demo_fleet
from heliosgrid.quality import CHECK_NAMES, run_quality
from heliosgrid.quality.synthetic import clean_readings, insert_fleet, insert_readings
from heliosgrid.settings import load_settings

pytestmark = pytest.mark.integration

FLEET = {s.site_id: s for s in demo_fleet()}
SETTINGS = load_settings(freshness_sla_s=300)


@pytest.fixture(scope="module")
def conn(pg_db: str) -> Iterator[psycopg.Connection]:
    with open_connection(pg_db, autocommit=True) as c:
        insert_fleet(c, list(FLEET.values()))
        yield c


def dq_rows(conn: psycopg.Connection, site_id: str) -> list[tuple]:
    return conn.execute(
        "SELECT check_name, device_id, window_start, window_end, passed, measured_value FROM dq_results "
        "WHERE site_id = %s ORDER BY 1, 2, 3, 4", (site_id,)).fetchall()


def active_alerts(conn: psycopg.Connection, site_id: str) -> set[tuple[str, str]]:
    rows = conn.execute("SELECT fault_type, device_id FROM alerts WHERE site_id = %s AND source = 'quality' "
                        "AND state <> 'resolved'", (site_id,)).fetchall()
    return {(r[0], r[1]) for r in rows}


def n_alerts(conn: psycopg.Connection, site_id: str) -> int:
    row = conn.execute("SELECT count(*) FROM alerts WHERE site_id = %s", (site_id,)).fetchone()
    assert row is not None
    return int(row[0])


def plant_defects(site: SiteSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """A frozen POA sensor (inv02), an 8-minute gap (inv03), an impossible POA value (ws01)."""
    out = frame.copy()
    inv02 = out.index[(out["device_id"] == f"{site.site_id}-inv02")][20:32]
    out.loc[inv02, "poa_w_m2"] = out.loc[inv02[0], "poa_w_m2"]
    gap = out.index[(out["device_id"] == f"{site.site_id}-inv03")][35:43]
    out = out.drop(gap)
    ws = out.index[(out["device_id"] == f"{site.site_id}-ws01")][50]
    out.loc[ws, "poa_w_m2"] = 1750.0
    return out


def test_planted_defects_fail_exactly_those_checks_and_recover(conn: psycopg.Connection) -> None:
    site = FLEET["es-tabernas"]
    start = datetime(2026, 6, 21, 11, 0, tzinfo=UTC)
    end = start + timedelta(hours=1)
    clean = clean_readings(site, start, end, seed=11)
    insert_readings(conn, plant_defects(site, clean))

    report = run_quality(conn, SETTINGS, start, end, site_ids=[site.site_id], run_id="t1")
    failed = {(r.check_name, r.device_id) for r in report.failed}
    expected = {("stale_values", f"{site.site_id}-inv02"), ("completeness", f"{site.site_id}-inv03"),
                ("poa_clearsky_limits", f"{site.site_id}-ws01")}
    assert failed == expected
    rows = dq_rows(conn, site.site_id)
    assert len(rows) == len(site.devices) * len(CHECK_NAMES) + 1  # + site-level freshness
    assert {(r[0], r[1]) for r in rows if not r[4]} == expected
    assert active_alerts(conn, site.site_id) == expected

    # re-running the same window rewrites the same rows, no duplicate alert
    before = n_alerts(conn, site.site_id)
    again = run_quality(conn, SETTINGS, start, end, site_ids=[site.site_id], run_id="t1-rerun")
    assert {(r.check_name, r.device_id) for r in again.failed} == expected
    assert dq_rows(conn, site.site_id) == rows
    assert n_alerts(conn, site.site_id) == before

    # the data is repaired (late, corrected delivery): the checks pass and the alerts resolve
    insert_readings(conn, clean)
    repaired = run_quality(conn, SETTINGS, start, end, site_ids=[site.site_id], run_id="t1-repaired")
    assert repaired.failed == []
    assert repaired.alerts_resolved == 3
    assert active_alerts(conn, site.site_id) == set()
    states = conn.execute("SELECT DISTINCT state, resolved_by FROM alerts WHERE site_id = %s", (site.site_id,)).fetchall()
    assert states == [("resolved", "auto")]


def test_clean_data_passes_and_raises_nothing(conn: psycopg.Connection) -> None:
    site = FLEET["es-sevilla"]
    start = datetime(2026, 6, 21, 11, 0, tzinfo=UTC)
    insert_readings(conn, clean_readings(site, start, start + timedelta(minutes=30), seed=5))
    report = run_quality(conn, SETTINGS, start, start + timedelta(minutes=30), site_ids=[site.site_id])
    assert report.failed == []
    assert len(report.results) == len(site.devices) * len(CHECK_NAMES) + 1
    assert n_alerts(conn, site.site_id) == 0


def test_freshness_fails_past_sla_then_recovers(conn: psycopg.Connection) -> None:
    site = FLEET["us-golden"]
    t0 = datetime(2026, 6, 21, 18, 0, tzinfo=UTC)
    insert_readings(conn, clean_readings(site, t0, t0 + timedelta(minutes=30), seed=2))
    q = timedelta(minutes=15)

    fresh = run_quality(conn, SETTINGS, t0 + q, t0 + 2 * q, site_ids=[site.site_id])
    assert not [r for r in fresh.failed if r.check_name == "freshness"]

    # the stream stops at 18:30; at 18:45 the newest reading is 15 min old (SLA 5 min)
    stale = run_quality(conn, SETTINGS, t0 + 2 * q, t0 + 3 * q, site_ids=[site.site_id])
    fresh_fail = {r.device_id: r.measured_value for r in stale.failed if r.check_name == "freshness"}
    assert set(fresh_fail) == {"", *(d.device_id for d in site.devices)}
    assert fresh_fail[""] == pytest.approx(16 * 60)
    alerts = conn.execute("SELECT device_id, severity, started_at FROM alerts WHERE site_id = %s AND "
                          "fault_type = 'freshness' AND state = 'open'", (site.site_id,)).fetchall()
    # one site-level alert instead of one per device; stale since newest reading + SLA
    assert alerts == [("", "critical", t0 + timedelta(minutes=29) + timedelta(seconds=300))]

    # the stream resumes and catches up: the check passes and the alert resolves itself
    insert_readings(conn, clean_readings(site, t0 + 2 * q, t0 + 4 * q, seed=3))
    recovered = run_quality(conn, SETTINGS, t0 + 3 * q, t0 + 4 * q, site_ids=[site.site_id])
    assert recovered.failed == []
    assert active_alerts(conn, site.site_id) == set()
    row = conn.execute("SELECT state, resolved_by FROM alerts WHERE site_id = %s AND fault_type = 'freshness'",
                       (site.site_id,)).fetchone()
    assert row == ("resolved", "auto")


def test_cli_quality_run_json_and_bad_input(conn: psycopg.Connection, pg_db: str) -> None:
    env = {**os.environ, "HELIOS_DATABASE_URL": pg_db}
    cli = [str(Path(sys.executable).with_name("heliosgrid")), "quality", "run"]
    ok = subprocess.run([*cli, "--since", "2026-06-21T11:00:00Z", "--until", "2026-06-21T11:30:00Z",
                         "--site", "es-sevilla", "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    summary = json.loads(ok.stdout)
    assert summary["failed"] == 0 and summary["checks"] == 4 * len(CHECK_NAMES) + 1
    bad = subprocess.run([*cli, "--since", "2026-06-21T12:00:00Z", "--until", "2026-06-21T11:00:00Z"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith("error: window_end")
    assert "Traceback" not in bad.stderr
