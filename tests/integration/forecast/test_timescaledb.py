"""The forecast pipeline's reads and the forecast_vs_actual view on TimescaleDB (PGlite).

The PGlite server is shared by the session and serves one connection at a time: this test opens
one connection, writes only rows of its own site id and deletes them afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg
import pytest

from heliosgrid.db.connection import open_connection
from heliosgrid.db.rollups import refresh_rollups
from heliosgrid.forecast.pipeline import load_site, read_history

pytestmark = pytest.mark.integration

SITE_ID = "fc-ts-site"
START = datetime(2026, 6, 21, 10, 0, tzinfo=UTC)


@pytest.fixture
def ts_conn(timescale_db: str) -> Iterator[psycopg.Connection]:
    conn = open_connection(timescale_db, autocommit=True)
    try:
        yield conn
    finally:
        for sql in ("DELETE FROM forecasts WHERE site_id = %s", "DELETE FROM readings WHERE site_id = %s",
                    "DELETE FROM sites WHERE site_id = %s"):
            conn.execute(sql, (SITE_ID,))
        conn.close()


def test_history_and_forecast_vs_actual_on_timescaledb(ts_conn: psycopg.Connection) -> None:
    ts_conn.execute("""INSERT INTO sites (site_id, name, latitude_deg, longitude_deg, ac_capacity_kw)
                       VALUES (%s, 'TS forecast', 37.1, -2.4, 100)""", (SITE_ID,))
    for i in (1, 2):
        ts_conn.execute("""INSERT INTO devices (device_id, site_id, kind, ac_capacity_kw, dc_capacity_kw)
                           VALUES (%s, %s, 'inverter', 50, 57.5)""", (f"{SITE_ID}-inv0{i}", SITE_ID))
    # 1 h of 1-min readings: inverter 1 at 10 kW + minute/10, inverter 2 at 20 kW; inverter 2 misses the last bucket
    for minute in range(60):
        ts = START + timedelta(minutes=minute)
        ts_conn.execute("INSERT INTO readings (device_id, ts, site_id, ac_power_kw, seq) VALUES (%s, %s, %s, %s, %s)",
                        (f"{SITE_ID}-inv01", ts, SITE_ID, 10.0 + minute / 10.0, minute))
        if minute < 45:
            ts_conn.execute("INSERT INTO readings (device_id, ts, site_id, ac_power_kw, seq) VALUES (%s, %s, %s, %s, %s)",
                            (f"{SITE_ID}-inv02", ts, SITE_ID, 20.0, minute))
    refresh_rollups(ts_conn, START - timedelta(hours=1), START + timedelta(hours=2))
    site, capacity = load_site(ts_conn, SITE_ID)
    assert capacity == 100.0 and len(site.inverters) == 2
    history = read_history(ts_conn, SITE_ID, pd.Timestamp(START), pd.Timestamp(START + timedelta(hours=1)), 2)
    assert len(history) == 4
    # bucket 0: inverter 1 mean of 10.0..11.4 = 10.7, plus 20 -> 30.7; last bucket incomplete -> NaN
    assert history.iloc[0] == pytest.approx(30.7)
    assert history.iloc[2] == pytest.approx(10.0 + 3.7 + 20.0)
    assert pd.isna(history.iloc[3])
    ts_conn.execute("""INSERT INTO forecasts (site_id, model_version, issued_at, target_ts, horizon_min, p10_kw, p50_kw, p90_kw)
                       VALUES (%s, 'v-test', %s, %s, 0, 25, 30, 35)""", (SITE_ID, START, START))
    row = ts_conn.execute("SELECT actual_kw, error_kw, in_band, is_champion FROM forecast_vs_actual WHERE site_id = %s",
                          (SITE_ID,)).fetchone()
    assert row is not None
    assert row[0] == pytest.approx(30.7) and row[1] == pytest.approx(-0.7) and row[2] is True and row[3] is False
