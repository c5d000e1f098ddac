"""The consumer end to end on PGlite+TimescaleDB (no COPY FROM STDIN: unnest write path).

PGlite serves one connection at a time, so the test only opens its own connections while the
consumer is not running.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from ingest_helpers import committed_offsets, consumer_env, make_topics, produce_readings, start_consumer, stop, wait_for

from heliosgrid.db.connection import open_connection
from heliosgrid.db.migrate import migrate
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
