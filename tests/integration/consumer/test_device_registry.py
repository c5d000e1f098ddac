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


def test_within_the_miss_interval_a_new_device_is_looked_up_alone_not_by_a_reload(pg_db: str) -> None:
    """A producer registers its fleet and sends at once: the cache loaded a moment before must not reject it."""
    prefix = f"r{uuid.uuid4().hex[:6]}"
    old, dev = fleet_ids(prefix, 1, 2)
    with psycopg.connect(pg_db, autocommit=True) as conn:
        register_devices(conn, [old])
        registry = DeviceRegistry(ttl_s=3600, miss_refresh_s=3600)
        registry.load(conn)
        loaded_at = registry._loaded_at
        register_devices(conn, [dev])
        sites = registry.sites_for(conn, {dev[0], old[0], "never-registered"})
        assert sites[dev[0]] == dev[1] and sites[old[0]] == old[1] and "never-registered" not in sites
        assert registry._loaded_at == loaded_at  # the missing ids were looked up; the table was not re-read
