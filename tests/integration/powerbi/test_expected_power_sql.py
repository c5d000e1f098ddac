"""helios_expected_ac_power_kw (migration 0070) is the SQL twin of
heliosgrid.maintenance.expected.expected_ac_from_sensors (pvlib: SAPM cell temperature, PVWatts DC,
PVWatts inverter with part-load curve and clipping), and the bi views and maintenance KPIs use it."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import psycopg
import pytest

from heliosgrid.db.connection import open_connection
from heliosgrid.maintenance.expected import expected_ac_from_sensors
from heliosgrid.physics import DeviceSpec

pytestmark = pytest.mark.integration

DEVICES = [
    DeviceSpec("x-1", "x", "inverter", 30, 180, dc_capacity_kw=300, ac_capacity_kw=250, gamma_pdc_per_c=-0.004,
               inverter_efficiency=0.96),
    DeviceSpec("x-2", "x", "inverter", 30, 180, dc_capacity_kw=120, ac_capacity_kw=100, gamma_pdc_per_c=-0.0035,
               inverter_efficiency=0.975),
    DeviceSpec("x-3", "x", "inverter", 10, 90, dc_capacity_kw=50, ac_capacity_kw=50, gamma_pdc_per_c=-0.0045,
               inverter_efficiency=0.94),
]
POA_W_M2 = [-5.0, 0.0, 0.5, 3.0, 20.0, 55.0, 150.0, 400.0, 800.0, 1000.0, 1150.0, 1400.0]
MODULE_TEMP_C = [-15.0, 0.0, 25.0, 48.0, 75.0]


def _sql_expected(conn: psycopg.Connection, dev: DeviceSpec, poa: list[float], tmod: list[float]) -> np.ndarray:
    rows = conn.execute(
        "SELECT helios_expected_ac_power_kw(p, t, %s, %s, %s, %s) FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS "
        "u(p, t, i) "
        "ORDER BY i",
        (dev.dc_capacity_kw, dev.ac_capacity_kw, dev.gamma_pdc_per_c, dev.inverter_efficiency, poa, tmod),
    ).fetchall()
    return np.array([r[0] for r in rows], dtype="float64")


def test_sql_expected_power_matches_pvlib_model(pg_db: str) -> None:
    grid = list(itertools.product(POA_W_M2, MODULE_TEMP_C))
    poa = [p for p, _ in grid]
    tmod = [t for _, t in grid]
    with open_connection(pg_db, autocommit=True) as conn:
        for dev in DEVICES:
            python = expected_ac_from_sensors(pd.Series(poa), pd.Series(tmod), dev).to_numpy()
            sql = _sql_expected(conn, dev, poa, tmod)
            np.testing.assert_allclose(sql, python, rtol=1e-9, atol=1e-9, err_msg=dev.device_id)
            assert (python >= 0).all() and python.max() == pytest.approx(dev.ac_capacity_kw)  # clipping is exercised


def test_cell_temperature_not_module_temperature(pg_db: str) -> None:
    """The old bi/API formula (module temperature, flat efficiency) differs by about 1 % at high irradiance."""
    dev = DEVICES[0]
    with open_connection(pg_db, autocommit=True) as conn:
        new = _sql_expected(conn, dev, [700.0], [45.0])[0]
    old = min(dev.ac_capacity_kw, dev.dc_capacity_kw * 0.7 * (1 + dev.gamma_pdc_per_c * (45.0 - 25.0)) * dev.inverter_efficiency)
    python = expected_ac_from_sensors(pd.Series([700.0]), pd.Series([45.0]), dev).iloc[0]
    assert new == pytest.approx(python, rel=1e-12)
    assert abs(new - old) / old > 0.005


def test_views_and_maintenance_kpis_call_the_one_definition(pg_db: str) -> None:
    with open_connection(pg_db, autocommit=True) as conn:
        for view in ("bi.device_power_15m", "maintenance_kpi_bucket"):
            row = conn.execute("SELECT pg_get_viewdef(%s::regclass)", (view,)).fetchone()
            assert row is not None and "helios_expected_ac_power_kw" in row[0], view
            assert "inverter_efficiency" in row[0] and "least(" not in row[0].lower(), view
