"""Fixtures shared by the integration tests of alert lifecycles."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from heliosgrid.db.connection import open_connection


@pytest.fixture
def alerts_conn(pg_db: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to a database with no alerts or devices and two sites: ``s1`` (tariff
    0.10 per kWh) and ``s2`` (no tariff)."""
    with open_connection(pg_db, autocommit=True) as c:
        c.execute("DELETE FROM alerts")
        c.execute("DELETE FROM devices")
        c.execute("DELETE FROM sites")
        c.execute(
            "INSERT INTO sites (site_id, name, latitude_deg, longitude_deg, tariff_per_kwh) VALUES "
            "('s1', 'Site 1', 37, -2, 0.10), ('s2', 'Site 2', 37, -3, NULL)"
        )
        yield c
