"""Device registry cache of the consumer against a real PostgreSQL."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from heliosgrid.ingest.batch import DeviceRegistry
from heliosgrid.ingest.synthetic import fleet_ids, register_devices

pytestmark = pytest.mark.integration


def test_a_device_registered_after_start_is_found_once_the_miss_refresh_interval_passed(pg_db: str) -> None:
    prefix = f"r{uuid.uuid4().hex[:6]}"
    first, later = fleet_ids(prefix, 1, 2)
    with psycopg.connect(pg_db, autocommit=True) as conn:
        register_devices(conn, [first])
        registry = DeviceRegistry(ttl_s=3600, miss_refresh_s=0.0)
        registry.load(conn)
        assert later[0] not in registry.sites_for(conn, {first[0]})
        register_devices(conn, [later])
        # a batch naming the new device triggers one re-read
        assert registry.sites_for(conn, {later[0]})[later[0]] == later[1]


def test_unknown_ids_do_not_re_read_the_table_more_often_than_the_miss_interval(pg_db: str) -> None:
    prefix = f"r{uuid.uuid4().hex[:6]}"
    (dev,) = fleet_ids(prefix, 1, 1)
    with psycopg.connect(pg_db, autocommit=True) as conn:
        registry = DeviceRegistry(ttl_s=3600, miss_refresh_s=3600)
        registry.load(conn)
        register_devices(conn, [dev])
        # within the miss interval the cache is trusted: the new device is still unknown
        assert dev[0] not in registry.sites_for(conn, {dev[0]})
