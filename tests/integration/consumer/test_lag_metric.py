"""The consumer's lag metric counts records, not record batches, on the local broker (Tansu).

Tansu answers ListOffsets (``KafkaConsumer.end_offsets``) with the number of record *batches*
(ADR 0027), so a lag computed from it is far too small when producers batch. The consumer uses
the high watermark of its own Fetch responses minus the offset it committed.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from ingest_helpers import make_topics, wait_for
from kafka import KafkaProducer

from consumer.service import IngestService
from heliosgrid.contract import encode_reading
from heliosgrid.db.writer import ReadingRow
from heliosgrid.ingest.synthetic import fleet_ids, readings_stream, register_devices
from heliosgrid.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

MESSAGES = 240
BATCH = 40


def test_lag_metric_is_high_watermark_minus_committed_offset_on_batched_topics(
    pg_db: str, broker: str, topic_names: dict[str, str]
) -> None:
    prefix = f"lag{uuid.uuid4().hex[:6]}"
    devices = fleet_ids(prefix, 2, 3)
    with psycopg.connect(pg_db) as conn:
        register_devices(conn, devices)
    make_topics(broker, topic_names, partitions=1)
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=1)
    # One producer flush with linger: the 240 records land in a few large record batches.
    producer = KafkaProducer(bootstrap_servers=broker, acks="all", linger_ms=200, batch_size=1 << 20)
    for r in readings_stream(devices, start, MESSAGES // len(devices)):
        producer.send(topic_names["readings"], key=r.device_id.encode(), value=encode_reading(r))
    producer.flush(timeout=30)
    producer.close()

    settings = load_settings(
        kafka_bootstrap_servers=broker, topic_readings=topic_names["readings"], topic_dlq=topic_names["dlq"],
        consumer_group=f"lag-{uuid.uuid4().hex[:8]}", consumer_metrics_port=0, batch_max_messages=BATCH,
        batch_max_wait_ms=5000,
    )
    observed: list[tuple[int, float | None]] = []
    stored = 0

    def on_commit(rows: Sequence[ReadingRow], _at: float) -> None:
        nonlocal stored
        stored += len(rows)
        lag = service.metrics.registry.get_sample_value(
            "helios_consumer_lag_messages", {"topic": topic_names["readings"], "partition": "0"}
        )
        observed.append((stored, lag))

    service = IngestService(settings, pg_db, on_commit=on_commit)
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: stored >= MESSAGES or not thread.is_alive(), 90, "all readings to be committed")
    finally:
        service.request_stop()
        thread.join(timeout=30)
    assert stored == MESSAGES
    assert len(observed) == MESSAGES // BATCH
    # After each commit: records in the partition (240) minus the next offset to consume.
    assert observed == [(n, float(MESSAGES - n)) for n in range(BATCH, MESSAGES + 1, BATCH)]
