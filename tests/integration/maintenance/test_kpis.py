"""KPI views (migration 0030) on a small hand-computed dataset in real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import psycopg
import pvlib
import pytest

from heliosgrid.db.connection import open_connection
from heliosgrid.maintenance.kpis import daily_kpis

pytestmark = pytest.mark.integration

DAY = datetime(2026, 6, 1, tzinfo=UTC)


def _insert_bucket(
    cur: psycopg.Cursor, device: str, bucket: datetime, poa: float, tmod: float, ac: float, status: str, *, flat: bool = False
) -> None:
    """15 one-minute readings in the 15-minute bucket starting at ``bucket``; POA carries ±0.1 W/m² of
    sensor noise (mean exactly ``poa``) unless ``flat`` (a flat-lined sensor)."""
    for minute in range(15):
        ts = bucket + timedelta(minutes=minute)
        reading = poa if flat or poa == 0 else poa + 0.1 * (minute % 3 - 1)
        cur.execute(
            """INSERT INTO readings (device_id, ts, site_id, poa_w_m2, module_temp_c, ambient_temp_c, dc_power_kw,
                                     ac_power_kw, inverter_status, seq)
               VALUES (%s, %s, 'kpi-site', %s, %s, 20, %s, %s, %s, %s)""",
            (device, ts, reading, tmod, ac / 0.96, ac, status, int(ts.timestamp() // 60)),
        )


@pytest.fixture(scope="module")
def conn(pg_db: str) -> Iterator[psycopg.Connection]:
    with open_connection(pg_db, autocommit=True) as c:
        c.execute(
            "INSERT INTO sites (site_id, name, latitude_deg, longitude_deg, timezone) "
            "VALUES ('kpi-site', 'KPI', 37, -2, 'Europe/Madrid')"
        )
        c.execute(
            """INSERT INTO devices (device_id, site_id, kind, surface_tilt_deg, dc_capacity_kw, ac_capacity_kw,
                                    gamma_pdc_per_c, inverter_efficiency)
               VALUES ('kpi-inv01', 'kpi-site', 'inverter', 30, 300, 250, -0.004, 0.96),
                      ('kpi-inv02', 'kpi-site', 'inverter', 30, 100, 80, -0.004, 0.96),
                      ('kpi-ws01', 'kpi-site', 'weather_station', 30, 0, 0, -0.004, 0.96)"""
        )
        c.execute("SELECT helios_ensure_partitions('readings', %s, %s)", (DAY, DAY + timedelta(days=2)))
        with c.cursor() as cur:
            # inv01: 4 buckets at 1000 W/m², module 22 °C (cell 25 °C), 200 kW; 1 bucket at 100 W/m², tripped.
            for i in range(4):
                _insert_bucket(cur, "kpi-inv01", DAY + timedelta(hours=10, minutes=15 * i), 1000.0, 22.0, 200.0, "ok")
            _insert_bucket(cur, "kpi-inv01", DAY + timedelta(hours=11), 100.0, 22.0, 0.0, "fault")
            # 23:00 UTC is 01:00 on 2 June in Madrid: belongs to the next local day.
            _insert_bucket(cur, "kpi-inv01", DAY + timedelta(hours=23), 0.0, 15.0, 0.0, "standby")
            # inv02: 4 buckets at 1000 W/m², 72 kW.
            for i in range(4):
                _insert_bucket(cur, "kpi-inv02", DAY + timedelta(hours=10, minutes=15 * i), 1000.0, 22.0, 72.0, "ok")
            _insert_bucket(cur, "kpi-ws01", DAY + timedelta(hours=10), 1000.0, 22.0, 0.0, "ok")
            # Next day, inv02: a dead inverter trickling 0.1 kW (< 1 % of 80 kW) with status fault for
            # 4 buckets, then a flat-lined POA sensor for 4 producing buckets.
            for i in range(4):
                _insert_bucket(cur, "kpi-inv02", DAY + timedelta(days=1, hours=8, minutes=15 * i), 800.0, 30.0, 0.1, "fault")
                _insert_bucket(
                    cur, "kpi-inv02", DAY + timedelta(days=1, hours=10, minutes=15 * i), 500.0, 30.0, 72.0, "ok", flat=True
                )
        c.execute("SELECT helios_refresh_rollups()")
        yield c


def test_device_day_kpis(conn: psycopg.Connection) -> None:
    rows = {(r["device_id"], r["local_day"]): r for r in daily_kpis(conn, level="device", site_id="kpi-site")}
    assert ("kpi-ws01", date(2026, 6, 1)) not in rows  # weather stations have no KPIs
    r = rows[("kpi-inv01", date(2026, 6, 1))]
    # energy = 4 × 0.25 h × 200 kW = 200 kWh; Yf = 200 / 300 kWp
    assert r["energy_kwh"] == pytest.approx(200.0)
    assert r["specific_yield_kwh_kwp"] == pytest.approx(200.0 / 300.0)
    # Yr = (4 × 1000 + 100) W/m² × 0.25 h / 1000 W/m² = 1.025 h → PR = 0.6667 / 1.025
    assert r["performance_ratio"] == pytest.approx((200.0 / 300.0) / 1.025)
    # 25 °C-corrected: Edc = 300·1·(1 − 0.004·0)·0.25·4 + 300·0.1·(1 − 0.004·(22.3 − 25))·0.25
    edc = 300.0 + 300.0 * 0.1 * (1 - 0.004 * (22.3 - 25.0)) * 0.25
    assert r["performance_ratio_temp_corr"] == pytest.approx(200.0 / edc)
    # availability: 5 daylight buckets (≥ 50 W/m²), 4 producing with status ok
    assert r["availability"] == pytest.approx(0.8)
    # expected AC (helios_expected_ac_power_kw, migration 0070): clipped at 250 kW × 0.25 h × 4, plus the
    # 100 W/m² bucket through the PVWatts inverter's part-load curve (pvlib, as maintenance/expected.py)
    expected = 250.0 + float(pvlib.inverter.pvwatts(300 * 0.1 * (1 - 0.004 * (22.3 - 25.0)), 250 / 0.96, 0.96)) * 0.25
    assert r["expected_energy_kwh"] == pytest.approx(expected)
    assert r["lost_energy_kwh"] == pytest.approx(expected - 200.0)
    night = rows[("kpi-inv01", date(2026, 6, 2))]
    assert night["energy_kwh"] == 0 and night["availability"] is None


def test_site_day_kpis_are_capacity_weighted(conn: psycopg.Connection) -> None:
    (site,) = daily_kpis(conn, level="site", site_id="kpi-site", start_day=date(2026, 6, 1), end_day=date(2026, 6, 1))
    assert site["inverters"] == 2
    assert site["energy_kwh"] == pytest.approx(200.0 + 72.0)
    assert site["specific_yield_kwh_kwp"] == pytest.approx(272.0 / 400.0)
    # Σ E / Σ (Pdc0 × Yr) = 272 / (300 × 1.025 + 100 × 1.0)
    assert site["performance_ratio"] == pytest.approx(272.0 / (300 * 1.025 + 100.0))
    assert site["availability"] == pytest.approx(8 / 9)


def test_availability_is_iec_time_based_and_implausible_pr_is_a_data_quality_flag(conn: psycopg.Connection) -> None:
    rows = {(r["device_id"], r["local_day"]): r for r in daily_kpis(conn, level="device", site_id="kpi-site")}
    day2 = rows[("kpi-inv02", date(2026, 6, 2))]
    # trickle (0.1 kW < 1 % of nameplate) with a fault status is unavailable: 4 of 8 buckets available
    assert day2["availability"] == pytest.approx(0.5) and day2["unavailable_buckets"] == 4
    # POA flat over 4 buckets of 15 samples: the PR is not reported as a number
    assert day2["data_quality"] == "poa_stuck" and day2["performance_ratio"] is None
    assert rows[("kpi-inv02", date(2026, 6, 1))]["data_quality"] == "ok"
    (site,) = daily_kpis(conn, level="site", site_id="kpi-site", start_day=date(2026, 6, 2), end_day=date(2026, 6, 2))
    assert site["data_quality"] == "poa_stuck" and site["performance_ratio"] is None
    implausible = conn.execute("SELECT helios_iec_availability_state(800, 0.0, 15, 0, 80)").fetchone()
    assert implausible is not None and implausible[0] == "unavailable"
    assert conn.execute("SELECT helios_iec_availability_state(NULL, 5, 0, 0, 80)").fetchone() == ("unknown",)


def test_bad_arguments_are_refused(conn: psycopg.Connection) -> None:
    with pytest.raises(ValueError, match="level must be"):
        daily_kpis(conn, level="plant")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="before start_day"):
        daily_kpis(conn, start_day=date(2026, 6, 2), end_day=date(2026, 6, 1))
