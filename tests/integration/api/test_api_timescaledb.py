"""The API's SQL on the TimescaleDB backend (PGlite): continuous aggregates, bi views, KPIs.

Uses the session's shared ``timescale_db`` (one connection at a time: the API pool holds
exactly one) and only rows of its own site, removed at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from api_seed import ServerThread

from heliosgrid.api.auth import create_key
from heliosgrid.db.connection import open_connection
from heliosgrid.db.rollups import refresh_rollups
from heliosgrid.settings import load_settings
from tests.helpers import free_port

pytestmark = pytest.mark.integration
SITE = "apits-site"
DEVICES = ("apits-inv1", "apits-inv2")
NOW = datetime(2026, 6, 21, 12, 0, tzinfo=UTC)


def test_site_freshness_view_on_timescaledb(timescale_db: str) -> None:
    """Migration 0055's bi.site_freshness (newest row per site) on the TimescaleDB backend. Runs
    before ``ts_api`` holds PGlite's only connection; own site id, rows deleted after."""
    site, newest = "apits-fresh", NOW - timedelta(minutes=1)
    with open_connection(timescale_db, autocommit=True) as conn:
        try:
            conn.execute("INSERT INTO sites (site_id, name, latitude_deg, longitude_deg) VALUES (%s, 'fresh', 45, 5)", (site,))
            conn.execute("INSERT INTO readings (device_id, ts, site_id, ac_power_kw, seq) "
                         "SELECT %s, %s - i * interval '1 minute', %s, 1, i FROM generate_series(0, 30) i",
                         ("apits-fresh-inv1", newest, site))
            row = conn.execute("SELECT last_reading_ts, last_ingested_at FROM bi.site_freshness WHERE site_id = %s",
                               (site,)).fetchone()
        finally:
            conn.execute("DELETE FROM readings WHERE site_id = %s", (site,))
            conn.execute("DELETE FROM sites WHERE site_id = %s", (site,))
    assert row is not None and row[0] == newest and row[1] is not None


@pytest.fixture(scope="module")
def ts_api(timescale_db: str) -> Iterator[tuple[str, str]]:
    with open_connection(timescale_db, autocommit=True) as conn:
        conn.execute("INSERT INTO sites (site_id, name, latitude_deg, longitude_deg, dc_capacity_kw, ac_capacity_kw) "
                     "VALUES (%s, 'API on Timescale', 45, 5, 200, 180)", (SITE,))
        for dev in DEVICES:
            conn.execute("INSERT INTO devices (device_id, site_id, kind, dc_capacity_kw, ac_capacity_kw) "
                         "VALUES (%s, %s, 'inverter', 100, 90)", (dev, SITE))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO readings (device_id, ts, site_id, poa_w_m2, module_temp_c, ac_power_kw, inverter_status, seq) "
                "VALUES (%s, %s, %s, 800, 40, 50, 'ok', %s)",
                [(dev, NOW - timedelta(minutes=60 - i), SITE, i) for dev in DEVICES for i in range(60)],
            )
        conn.execute(
            "INSERT INTO forecasts (site_id, model_version, issued_at, target_ts, horizon_min, p10_kw, p50_kw, p90_kw) "
            "VALUES (%s, 'ts-test', %s, %s, 60, 80, 95, 110)", (SITE, NOW - timedelta(hours=2), NOW - timedelta(minutes=30)))
        # What the policy jobs do in production (this test's day lies outside their windows):
        # refresh the device and serving aggregates and the materialised KPI days.
        refresh_rollups(conn, NOW - timedelta(days=1), NOW + timedelta(days=1))
        key = create_key(conn, "ts-test", ["read"]).secret
    try:
        settings = load_settings(api_rate_limit_per_min=10_000)
        with ServerThread(timescale_db, free_port(), settings, pool_max_size=1) as server:
            yield server.base_url, key
    finally:
        with open_connection(timescale_db, autocommit=True) as conn:
            conn.execute("DELETE FROM forecasts WHERE site_id = %s", (SITE,))
            conn.execute("DELETE FROM readings WHERE site_id = %s", (SITE,))
            conn.execute("DELETE FROM devices WHERE site_id = %s", (SITE,))
            conn.execute("DELETE FROM sites WHERE site_id = %s", (SITE,))
            conn.execute("DELETE FROM api_keys WHERE name = 'ts-test'")


def test_endpoints_on_timescaledb(ts_api: tuple[str, str]) -> None:
    base, key = ts_api
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=60) as c:
        rng = {"start": (NOW - timedelta(hours=2)).isoformat(), "end": NOW.isoformat(), "site_id": SITE}
        site15 = c.get("/v1/rollups/15m", params={**rng, "group_by": "site"}).json()["items"]
        assert [r["ac_power_kw"] for r in site15] == [100.0] * 4
        assert sum(r["energy_kwh"] for r in site15) == pytest.approx(100.0)
        readings = c.get("/v1/readings", params={**rng, "limit": 1000}).json()["items"]
        assert len(readings) == 120
        overview = c.get("/v1/overview", params={"site_id": SITE, "as_of": NOW.isoformat()}).json()["items"][0]
        assert overview["current_ac_power_kw"] == pytest.approx(100.0)
        assert overview["energy_today_kwh"] == pytest.approx(100.0)
        assert 0 < overview["performance_ratio_today"] < 1
        kpis = c.get("/v1/kpis", params={**rng, "start": (NOW - timedelta(days=1)).isoformat()}).json()["items"]
        assert kpis and kpis[0]["energy_kwh"] == pytest.approx(100.0)
        acc = c.get("/v1/forecasts/accuracy", params=rng).json()
        assert acc["summary"]["n"] == 1 and acc["items"][0]["error_kw"] == pytest.approx(-5.0)
