"""The consumer end to end on TimescaleDB: native (COPY, the production path) and PGlite.

PGlite+TimescaleDB has no COPY FROM STDIN (the writer's capability check falls back to unnest
there) and serves one connection at a time, so that test only opens its own connections while
the consumer is not running. The native server must take COPY like any real server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from ingest_helpers import (
    committed_offsets,
    consumer_env,
    free_port,
    make_topics,
    produce_readings,
    start_consumer,
    stop,
    wait_for,
)

from heliosgrid.db.connection import open_connection
from heliosgrid.db.migrate import migrate
from heliosgrid.db.writer import choose_write_method
from heliosgrid.ingest.synthetic import fleet_ids, readings_stream, register_devices

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def test_consumer_stores_every_reading_once_on_timescaledb(
    broker: str, topic_names: dict[str, str], timescale_url: str, tmp_path: Path
) -> None:
    devices = fleet_ids(f"ts{uuid.uuid4().hex[:6]}", 1, 3)
    with open_connection(timescale_url, autocommit=True) as conn:
        assert migrate(conn).backend == "timescaledb"
        register_devices(conn, devices)
    make_topics(broker, topic_names, partitions=1)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    stream = list(readings_stream(devices, start, 40))
    total = produce_readings(broker, topic_names["readings"], stream + stream[:10])  # 10 re-sent duplicates
    group = f"ts-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "consumer.log"
    proc = start_consumer(consumer_env(timescale_url, broker, topic_names, group), log)
    try:
        wait_for(lambda: committed_offsets(broker, group, topic_names["readings"], 1)[0] == total, 90,
                 "all offsets committed")
    finally:
        assert stop(proc) == 0, log.read_text()[-3000:]
    with psycopg.connect(timescale_url) as conn:
        conn.execute("SET client_min_messages = warning")
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (device_id, seq)) FROM readings WHERE device_id = ANY(%s)",
            ([d for d, _ in devices],),
        ).fetchone()
    assert row == (len(stream), len(stream))


@pytest.fixture(scope="module")
def native_timescale() -> Iterator[str]:
    """A private native TimescaleDB cluster (``../shared/timescaledb``), migrated; yields its URL."""
    from heliosgrid.db.timescale_server import find_pg_timescaledb, start_native_timescale

    if find_pg_timescaledb() is None:
        pytest.skip("native TimescaleDB (../shared/timescaledb/pg-timescaledb) not on this machine")
    server = start_native_timescale(free_port())
    try:
        with open_connection(server.url, autocommit=True) as conn:
            assert migrate(conn, requested_backend="timescaledb").backend == "timescaledb"
        yield server.url
    finally:
        server.stop()


def test_consumer_uses_copy_on_native_timescaledb_and_stores_every_reading_once(
    broker: str, topic_names: dict[str, str], native_timescale: str, tmp_path: Path
) -> None:
    devices = fleet_ids(f"nt{uuid.uuid4().hex[:6]}", 2, 3)
    with open_connection(native_timescale, autocommit=True) as conn:
        register_devices(conn, devices)
        assert choose_write_method(conn) == "copy"  # a real server: no PGlite fallback on the hot path
    make_topics(broker, topic_names, partitions=3)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
    stream = list(readings_stream(devices, start, 60))
    total = produce_readings(broker, topic_names["readings"], stream + stream[:25])  # 25 re-sent duplicates
    group = f"nts-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "consumer.log"
    proc = start_consumer(consumer_env(native_timescale, broker, topic_names, group), log)
    try:
        wait_for(lambda: sum(o or 0 for o in committed_offsets(broker, group, topic_names["readings"], 3).values())
                 == total, 90, "all offsets committed", every_s=0.5)
    finally:
        assert stop(proc) == 0, log.read_text()[-3000:]
    with psycopg.connect(native_timescale) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (device_id, seq)) FROM readings WHERE device_id = ANY(%s)",
            ([d for d, _ in devices],),
        ).fetchone()
    assert row == (len(stream), len(stream))
