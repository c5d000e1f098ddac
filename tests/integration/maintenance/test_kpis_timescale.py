"""The KPI views (migration 0030) on the TimescaleDB backend (PGlite), over the continuous aggregate."""

from __future__ import annotations

import pytest

from heliosgrid.db.connection import open_connection
from heliosgrid.maintenance.kpis import daily_kpis

pytestmark = pytest.mark.integration


def test_device_and_site_kpis_on_timescaledb(timescale_db: str) -> None:
    with open_connection(timescale_db, autocommit=True) as conn:
        try:
            conn.execute(
                "INSERT INTO sites (site_id, name, latitude_deg, longitude_deg, timezone) "
                "VALUES ('kpits-site', 'KPI TS', 37, -2, 'Europe/Madrid') ON CONFLICT DO NOTHING"
            )
            conn.execute(
                """INSERT INTO devices (device_id, site_id, kind, surface_tilt_deg, dc_capacity_kw, ac_capacity_kw,
                                        gamma_pdc_per_c, inverter_efficiency)
                   VALUES ('kpits-inv01', 'kpits-site', 'inverter', 30, 300, 250, -0.004, 0.96) ON CONFLICT DO NOTHING"""
            )
            # One hour at 1000 W/m² (± 0.1 W/m² sensor noise, mean exact), module 22 °C (cell 25 °C), 200 kW, ok.
            conn.execute(
                """INSERT INTO readings (device_id, ts, site_id, poa_w_m2, module_temp_c, ac_power_kw, inverter_status, seq)
                   SELECT 'kpits-inv01', g, 'kpits-site', 1000 + 0.1 * ((extract(minute FROM g)::int % 3) - 1), 22, 200, 'ok',
                          extract(epoch FROM g)::bigint / 60
                   FROM generate_series('2031-06-01 10:00+00'::timestamptz, '2031-06-01 10:59+00', INTERVAL '1 minute') g"""
            )
            (row,) = daily_kpis(conn, level="device", site_id="kpits-site")
            assert str(row["local_day"]) == "2031-06-01"
            assert row["energy_kwh"] == pytest.approx(200.0)
            assert row["specific_yield_kwh_kwp"] == pytest.approx(200.0 / 300.0)
            assert row["performance_ratio"] == pytest.approx(200.0 / 300.0)  # Yr = 1 h
            assert row["performance_ratio_temp_corr"] == pytest.approx(200.0 / 300.0)
            assert row["availability"] == pytest.approx(1.0)
            (site,) = daily_kpis(conn, level="site", site_id="kpits-site")
            assert site["energy_kwh"] == pytest.approx(200.0) and site["inverters"] == 1
        finally:
            conn.execute("DELETE FROM readings WHERE device_id = 'kpits-inv01'")
            conn.execute("DELETE FROM devices WHERE device_id = 'kpits-inv01'")
            conn.execute("DELETE FROM sites WHERE site_id = 'kpits-site'")
